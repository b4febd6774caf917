import type { Dashboard } from "../app/dashboard";
import { allows } from "../auth/grant";
import { navigate } from "../app/navigation";
import { useStore } from "../lib/store";
import { useEffect } from "preact/hooks";
import { chatPath, devicePath } from "../router";
import { ChatList } from "./ChatList";
import { ConversationPane } from "./ConversationPane";
import { DeviceActions } from "./DeviceActions";
import { healthNote } from "../device/governor";
import { healthOf, limitsInForce } from "../fleet/alerts";
import { CONNECTOR_LABELS, STATE_LABELS } from "./format";
import { LinkingPanel } from "./LinkingPanel";
import { AppLink } from "./AppLink";
import { HealthBadge, LimitBadges } from "./DeviceAlerts";
import { GovernorPanel } from "./GovernorPanel";
import { useDeviceDetails } from "./useDeviceDetails";

/**
 * `/devices/<id>` and `/devices/<id>/chats/<chatId>`: the device's state and
 * actions on top; below, as in WhatsApp Web, its chats beside either the open
 * chat or, with none open, the device's linking and status.
 */
export function DeviceScreen({ dashboard, deviceId, chatId }: { dashboard: Dashboard; deviceId: string; chatId: string | null }) {
  const fleet = useStore(dashboard.fleet.fleet);
  const fleetLoaded = useStore(dashboard.fleet.loaded);
  // A device's namespace exists only while the device does: connect once it is known.
  if (!fleet[deviceId]) {
    return (
      <main class="coming-soon">
        <h1>{deviceId}</h1>
        <p>{fleetLoaded ? "There is no such device, or this credential may not see it." : "Loading…"}</p>
        <AppLink href="/">All devices</AppLink>
      </main>
    );
  }
  return <DeviceWithSession dashboard={dashboard} deviceId={deviceId} chatId={chatId} />;
}

function DeviceWithSession({ dashboard, deviceId, chatId }: { dashboard: Dashboard; deviceId: string; chatId: string | null }) {
  const session = dashboard.device(deviceId);
  const view = useStore(session.view);
  const linkState = useStore(session.link.state);
  const device = useStore(dashboard.fleet.fleet)[deviceId]?.device;
  const alerts = useStore(dashboard.alerts);
  // Its governor and restrictions are read while they are on show, with no chat open.
  const details = useDeviceDetails(dashboard, deviceId, chatId === null);
  // The open chat was merged into another (one person's two chats): that one is shown.
  const mergedInto = chatId ? view.mergedInto[chatId] : undefined;
  useEffect(() => {
    if (mergedInto) navigate(chatPath(deviceId, mergedInto));
  }, [deviceId, mergedInto]);
  if (!device) return null;
  // The namespace's own state is the freshest; the fleet's until it arrives.
  const state = view.state ?? device.state;
  const meId = device.me?.id ?? null;
  const canSend = view.scopes !== null && allows(view.scopes, "send");
  const health = healthOf(alerts, deviceId, details.device?.health ?? device.health);
  const unhealthy = healthNote(health, alerts[deviceId]?.health ?? null);

  return (
    <main class={`device-screen${chatId ? " chat-open" : ""}`}>
      <header class="device-head">
        <AppLink href="/" class="back" title="All devices">
          ←
        </AppLink>
        <div class="device-title">
          <h1>{device.name}</h1>
          <span class="muted">
            {device.id} · {CONNECTOR_LABELS[device.connector]}
            {device.me && ` · ${device.me.name} (${device.me.id})`}
          </span>
        </div>
        <span class={`state-badge ${state}`} data-testid="device-state" data-state={state} title={view.stateReason ?? undefined}>
          {STATE_LABELS[state]}
        </span>
        <HealthBadge health={health} />
        <LimitBadges limits={limitsInForce(alerts, deviceId)} />
        <DeviceActions
          dashboard={dashboard}
          device={{ ...device, state }}
          withDelete
          onDeleted={() => navigate("/")}
          onLoggedOut={() => navigate(devicePath(deviceId))}
        />
      </header>
      {linkState === "refused" && <p class="error banner">{session.link.refusal}</p>}
      {unhealthy && (
        <p class="warning banner" role="status" data-testid="device-health-note">
          {unhealthy}
        </p>
      )}
      <div class="panes">
        <aside class="chat-pane">
          <ChatList
            session={session}
            view={view}
            openChatId={chatId}
            meId={meId}
            linked={device.me !== null}
            canStartChats={canSend && device.capabilities.includes("numbers.check")}
            canMakeGroups={canSend && device.capabilities.includes("groups.manage")}
          />
        </aside>
        <section class="detail-pane">
          {chatId ? (
            <ConversationPane
              session={session}
              view={view}
              chatId={chatId}
              meId={meId}
              connector={device.connector}
              capabilities={device.capabilities}
            />
          ) : (
            <div class="device-detail">
              <LinkingPanel dashboard={dashboard} device={device} view={view} />
              {/* In state `qr` the linking panel says it all, and the badge above says the state. */}
              {state !== "qr" && (
                <p class="hint center">
                  {state === "ready"
                    ? "Linked. Pick a chat to read and write."
                    : `${STATE_LABELS[state]}${view.stateReason ? ` (${view.stateReason})` : ""}`}
                </p>
              )}
              {state !== "qr" && <GovernorPanel dashboard={dashboard} details={details} />}
            </div>
          )}
        </section>
      </div>
    </main>
  );
}
