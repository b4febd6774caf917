import type { Notifier } from "../notify/notifier";
import { useStore } from "../lib/store";

/**
 * Desktop notifications are shown only once the person allowed them: this
 * asks (browsers want a click for it) and then says whether they are on.
 */
export function NotificationToggle({ notifier }: { notifier: Notifier }) {
  const permission = useStore(notifier.permission);
  if (permission === "unsupported") return null;
  if (permission === "granted") {
    return (
      <span class="notifications muted" data-testid="notifications-enable" data-permission={permission} title="Desktop notifications are on">
        🔔 On
      </span>
    );
  }
  if (permission === "denied") {
    return (
      <span
        class="notifications muted"
        data-testid="notifications-enable"
        data-permission={permission}
        title="This browser blocks notifications from this page; allow them in its site settings"
      >
        🔕 Blocked
      </span>
    );
  }
  return (
    <button
      type="button"
      class="link notifications"
      data-testid="notifications-enable"
      data-permission={permission}
      onClick={() => void notifier.enable()}
    >
      Enable notifications
    </button>
  );
}
