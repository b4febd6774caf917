import type { HealthStatus } from "../api/types";
import { HEALTH_LABELS } from "../device/governor";

/** A stalled or flapping device's badge; nothing for a healthy one. */
export function HealthBadge({ health }: { health: HealthStatus }) {
  if (health === "healthy") return null;
  return (
    <span class={`alert-badge ${health}`} data-testid="device-health" data-health={health} title="How its upstream session is doing">
      <span aria-hidden="true">⚠ </span>
      {HEALTH_LABELS[health]}
    </span>
  );
}

/** What holds the device's messages to new contacts now (`fleet/alerts.ts`), a badge each. */
export function LimitBadges({ limits }: { limits: readonly string[] }) {
  return (
    <>
      {limits.map((limit) => (
        <span key={limit} class="alert-badge limit" data-testid="device-limit">
          {limit}
        </span>
      ))}
    </>
  );
}
