import { useState } from "preact/hooks";
import { requestPairingCode, typePairingCode } from "../api/devices";
import type { Device, PairingCode } from "../api/types";
import type { Dashboard } from "../app/dashboard";
import { phoneProblem, secondsLeft, typedPhone } from "../device/qr";
import { useAction } from "./useAction";
import { useFormSubmit } from "./useFormSubmit";

/**
 * Linking with a phone number instead of the QR code, as WhatsApp offers it:
 * the phone's number asked for, then the code the device gives for it, big,
 * with the seconds it has left, to type on that phone (Linked devices → Link
 * with phone number instead). `shown` is the last code the device's events
 * told of (any tab's), else the one this form was answered. For the simulator,
 * a button plays the phone typing it.
 */
export function PhoneLinking({
  dashboard,
  device,
  shown,
  now,
}: {
  dashboard: Dashboard;
  device: Device;
  shown: PairingCode | null;
  now: number;
}) {
  const [phone, setPhone] = useState("");
  const [answered, setAnswered] = useState<PairingCode | null>(null);
  const typing = useAction();
  const { problems, busy, submit } = useFormSubmit(
    () => [phoneProblem(phone)].filter((problem): problem is string => problem !== null),
    async () => {
      const number = typedPhone(phone);
      const issued = await requestPairingCode(dashboard.session, device.id, number);
      setAnswered({ ...issued, phone: number.replace(/^\+/, "") });
    },
  );
  const code = shown ?? answered;
  const left = code ? secondsLeft(code.expiresAt, now) : 0;

  return (
    <>
      <form class="phone-form" data-testid="pairing-phone-form" onSubmit={(event) => void submit(event)} noValidate>
        <label for="pairing-phone">Phone number, with its country code</label>
        <div class="phone-row">
          <input
            id="pairing-phone"
            data-testid="pairing-phone-input"
            type="tel"
            inputMode="tel"
            autoComplete="tel"
            placeholder="+15550000009"
            value={phone}
            onInput={(event) => setPhone((event.target as HTMLInputElement).value)}
          />
          <button type="submit" class="primary" data-testid="pairing-phone-submit" disabled={busy}>
            Get a code
          </button>
        </div>
        {problems.length > 0 && (
          <ul class="error" role="alert">
            {problems.map((problem) => (
              <li key={problem}>{problem}</li>
            ))}
          </ul>
        )}
      </form>
      {code && (
        <div class="pairing-code-card" data-phone={code.phone}>
          <p class="hint">
            On the phone +{code.phone}, open WhatsApp, go to Linked devices, Link a device, Link with phone number
            instead, and type:
          </p>
          <p class="pairing-code" data-testid="pairing-code">
            {code.code}
          </p>
          <p class="qr-meta">
            <span>
              Expires in <span data-testid="pairing-code-countdown">{left}</span> s
            </span>
            {left === 0 && <span>get a new code</span>}
          </p>
          {device.connector === "simulator" && left > 0 && (
            <button
              type="button"
              class="primary"
              data-testid="pairing-simulate-entry"
              disabled={typing.busy}
              onClick={() => typing.run(() => typePairingCode(dashboard.session, code.code, code.phone))}
            >
              Type it on the simulated phone
            </button>
          )}
          {typing.problem && <p class="error">{typing.problem}</p>}
        </div>
      )}
    </>
  );
}
