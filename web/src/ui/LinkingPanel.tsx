import { useState } from "preact/hooks";
import { driveDevice, scanQr } from "../api/devices";
import type { Device } from "../api/types";
import type { Dashboard } from "../app/dashboard";
import type { DeviceView } from "../device/deviceView";
import { codesRanOut, pairingLink, pairsByPhone, secondsLeft } from "../device/qr";
import { useNow } from "../lib/useNow";
import { PhoneLinking } from "./PhoneLinking";
import { useAction } from "./useAction";

/**
 * Linking: the live QR code, replaced in place as it rotates, with the
 * seconds it has left and which attempt it is; a new round of codes once they
 * ran out; and, for the simulator, the code's link (what a phone opens when it
 * scans it) and a button that plays the phone scanning it. A device whose
 * connector links from a phone number offers that instead of the QR code.
 */
export function LinkingPanel({ dashboard, device, view }: { dashboard: Dashboard; device: Device; view: DeviceView }) {
  const now = useNow(1000);
  const { busy, problem, run } = useAction();
  const [byPhone, setByPhone] = useState(false);
  const mayControl = dashboard.session.can("control");

  if (codesRanOut(view.state, view.stateReason)) {
    return (
      <section class="linking card">
        <h2>Link this device</h2>
        <p>Nobody scanned the codes in time.</p>
        {mayControl && (
          <button
            type="button"
            class="primary"
            disabled={busy}
            onClick={() => run(() => driveDevice(dashboard.session, device.id, "restart"))}
          >
            Show a new code
          </button>
        )}
        {problem && <p class="error">{problem}</p>}
      </section>
    );
  }

  if (view.state !== "qr") return null;
  const qr = view.qr;
  const link = qr && pairingLink(device.connector, qr.qr);
  const phoneOffered = mayControl && pairsByPhone(device.capabilities);
  return (
    <section class="linking card">
      <h2>Link this device</h2>
      {phoneOffered && byPhone ? (
        <PhoneLinking dashboard={dashboard} device={device} shown={view.pairingCode} now={now} />
      ) : !qr ? (
        <p>{mayControl ? "Waiting for the code…" : "A QR code is on show; seeing it needs the control scope."}</p>
      ) : (
        <>
          {link ? (
            <p class="hint">
              Scan it with a phone, or open its link:{" "}
              <a class="qr-link" data-testid="qr-link" href={link} target="_blank" rel="noopener noreferrer">
                {link}
              </a>
            </p>
          ) : (
            <p class="hint">Open WhatsApp on the phone, go to Linked devices, and scan this code.</p>
          )}
          <img class="qr-code" data-testid="qr-code" src={qr.image} alt="QR code that links the device" width={264} height={264} />
          <p class="qr-meta">
            <span>
              Expires in <span data-testid="qr-countdown">{secondsLeft(qr.expiresAt, now)}</span> s
            </span>
            <span>
              attempt {qr.attempt}/{qr.maxAttempts}
            </span>
          </p>
          {device.connector === "simulator" && mayControl && (
            <button
              type="button"
              class="primary"
              data-testid="qr-simulate-scan"
              disabled={busy}
              onClick={() => run(() => scanQr(dashboard.session, qr.qr))}
            >
              Scan with the simulated phone
            </button>
          )}
        </>
      )}
      {phoneOffered && (
        <button type="button" class="link" data-testid="pairing-phone-toggle" onClick={() => setByPhone(!byPhone)}>
          {byPhone ? "Link with the QR code instead" : "Link with phone number instead"}
        </button>
      )}
      {problem && <p class="error">{problem}</p>}
    </section>
  );
}
