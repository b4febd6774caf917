import { useState } from "preact/hooks";
import { type DeviceAction, deleteDevice, driveDevice } from "../api/devices";
import type { Device } from "../api/types";
import type { Dashboard } from "../app/dashboard";
import { linksWithQr } from "../device/qr";
import { ConfirmDialog } from "./Dialog";
import { RUNNING, STARTABLE } from "./format";
import { useAction } from "./useAction";

/**
 * Start, stop, log out and (with `withDelete`) delete a device. Each button is
 * offered only in the states the device's state machine allows it in. Logging
 * out forgets the link, so it asks first; a device that links with a QR code
 * is then started again, to show a new code to link it with.
 */
export function DeviceActions({
  dashboard,
  device,
  withDelete = false,
  onDeleted,
  onLoggedOut,
}: {
  dashboard: Dashboard;
  device: Device;
  withDelete?: boolean;
  onDeleted?: () => void;
  onLoggedOut?: () => void;
}) {
  const { busy, problem, run } = useAction();
  const [confirming, setConfirming] = useState(false);
  const [loggingOut, setLoggingOut] = useState(false);
  if (!dashboard.session.can("control")) return null;

  const drive = (action: DeviceAction) => run(() => driveDevice(dashboard.session, device.id, action));
  const logOut = () =>
    run(async () => {
      await driveDevice(dashboard.session, device.id, "logout");
      setLoggingOut(false);
      if (linksWithQr(device.connector)) await driveDevice(dashboard.session, device.id, "start");
      onLoggedOut?.();
    });
  const remove = () =>
    run(async () => {
      await deleteDevice(dashboard.session, device.id);
      dashboard.forget(device.id);
      onDeleted?.();
    });

  if (confirming) {
    return (
      <div class="device-actions confirm" role="group" aria-label={`Delete ${device.id}?`}>
        <span>Delete {device.id} and its messages?</span>
        <button type="button" class="danger" data-testid="device-delete-confirm" disabled={busy} onClick={remove}>
          Delete
        </button>
        <button type="button" onClick={() => setConfirming(false)}>
          Cancel
        </button>
        {problem && <span class="error">{problem}</span>}
      </div>
    );
  }

  return (
    <div class="device-actions">
      {STARTABLE.includes(device.state) && (
        <button type="button" data-testid="device-start" disabled={busy} onClick={() => drive("start")}>
          Start
        </button>
      )}
      {RUNNING.includes(device.state) && (
        <button type="button" data-testid="device-stop" disabled={busy} onClick={() => drive("stop")}>
          Stop
        </button>
      )}
      {RUNNING.includes(device.state) && (
        <button type="button" data-testid="device-logout" disabled={busy} onClick={() => setLoggingOut(true)}>
          Log out
        </button>
      )}
      {loggingOut && (
        <ConfirmDialog
          title={`Log out ${device.name}?`}
          confirm="Log out"
          busy={busy}
          problem={problem}
          onConfirm={logOut}
          onCancel={() => setLoggingOut(false)}
        >
          <p>
            The link with its phone is forgotten and its chats are no longer shown.
            {linksWithQr(device.connector) && " A new QR code is shown to link it again."}
          </p>
        </ConfirmDialog>
      )}
      {withDelete && (
        <button type="button" class="danger" data-testid="device-delete" disabled={busy} onClick={() => setConfirming(true)}>
          Delete
        </button>
      )}
      {problem && !loggingOut && (
        <span class="error" role="alert">
          {problem}
        </span>
      )}
    </div>
  );
}
