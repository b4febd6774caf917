import { useState } from "preact/hooks";
import type { Dashboard } from "../app/dashboard";
import { navigate } from "../app/navigation";
import { HEALTH_LABELS } from "../device/governor";
import { healthOf, limitsInForce } from "../fleet/alerts";
import { sortedDevices } from "../fleet/fleet";
import { useStore } from "../lib/store";
import { devicePath } from "../router";
import { AppLink } from "./AppLink";
import { DeviceActions } from "./DeviceActions";
import { HealthBadge, LimitBadges } from "./DeviceAlerts";
import { DeviceForm } from "./DeviceForm";
import { CONNECTOR_LABELS, STATE_LABELS, activityTime } from "./format";
import { onCardClick, onRowKey } from "./keyboard";

/**
 * `/`: every device the credential sees, live. A device's whole card opens it (a click, or
 * Enter or Space once focused), except its own buttons. A stalled or flapping device, or one
 * whose messages to new contacts are held, stands out and says so.
 */
export function FleetView({ dashboard }: { dashboard: Dashboard }) {
  const devices = sortedDevices(useStore(dashboard.fleet.fleet));
  const loaded = useStore(dashboard.fleet.loaded);
  const alerts = useStore(dashboard.alerts);
  const [adding, setAdding] = useState(false);

  return (
    <main class="fleet">
      <div class="fleet-head">
        <h1>Devices</h1>
        {dashboard.session.can("control") && !adding && (
          <button type="button" class="primary" data-testid="device-add" onClick={() => setAdding(true)}>
            Add device
          </button>
        )}
      </div>
      {adding && <DeviceForm dashboard={dashboard} onDone={() => setAdding(false)} />}
      {loaded && devices.length === 0 && <p class="empty">No devices yet.</p>}
      <ul class="device-list">
        {devices.map((device) => {
          const open = () => navigate(devicePath(device.id));
          const health = healthOf(alerts, device.id, device.health);
          const limits = limitsInForce(alerts, device.id);
          const flags = [...(health === "healthy" ? [] : [HEALTH_LABELS[health]]), ...limits];
          return (
            <li key={device.id}>
              <div
                class={`device-row${flags.length ? " flagged" : ""}`}
                role="link"
                aria-label={`Open ${device.name}${flags.length ? ` (${flags.join(", ")})` : ""}`}
                data-testid="device-row"
                data-device-id={device.id}
                data-state={device.state}
                data-health={health}
                tabIndex={0}
                onClick={(event) => onCardClick(event, open)}
                onKeyDown={(event) => onRowKey(event, open)}
              >
                <div class="device-main">
                  <AppLink href={devicePath(device.id)} class="device-name" tabIndex={-1}>
                    {device.name}
                  </AppLink>
                  <span class="muted">{device.id}</span>
                </div>
                <div class="device-badges">
                  <span class={`state-badge ${device.state}`} title={device.stateReason ?? undefined}>
                    {STATE_LABELS[device.state]}
                  </span>
                  <HealthBadge health={health} />
                  <LimitBadges limits={limits} />
                </div>
                <dl class="device-facts">
                  <dt>Connector</dt>
                  <dd>{CONNECTOR_LABELS[device.connector]}</dd>
                  <dt>Account</dt>
                  <dd>{device.me ? `${device.me.name} (${device.me.id})` : "not linked"}</dd>
                  <dt>Last activity</dt>
                  <dd>
                    <time dateTime={device.updatedAt}>{activityTime(device.updatedAt)}</time>
                  </dd>
                </dl>
                <DeviceActions dashboard={dashboard} device={device} withDelete />
              </div>
            </li>
          );
        })}
      </ul>
    </main>
  );
}
