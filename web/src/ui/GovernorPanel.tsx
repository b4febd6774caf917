import { useState } from "preact/hooks";
import { changeGovernor } from "../api/devices";
import type { Device, GovernorLimits } from "../api/types";
import type { Dashboard } from "../app/dashboard";
import { type LimitLine, governorLines, restrictionLines } from "../device/governor";
import { type GovernorForm, governorChanges, governorFormOf, governorFormProblems } from "../device/governorForm";
import { useNow } from "../lib/useNow";
import { Problems } from "./Problems";
import type { DeviceDetails } from "./useDeviceDetails";
import { useFormSubmit } from "./useFormSubmit";

function LimitLines({ lines, testId }: { lines: readonly LimitLine[]; testId: string }) {
  if (lines.length === 0) return null;
  return (
    <dl class="limit-lines" data-testid={testId}>
      {lines.map((line) => (
        <div key={line.id} class={line.warn ? "warn" : undefined} data-testid={`${testId}-${line.id}`} data-warn={line.warn}>
          <dt>
            {line.warn && (
              <span class="warn-mark" role="img" aria-label="Holding messages back:">
                ⚠
              </span>
            )}
            {line.label}
          </dt>
          <dd>{line.value}</dd>
        </div>
      ))}
    </dl>
  );
}

/**
 * The device's send governor, as `GET /devices/{id}` tells it and kept current as its events
 * come: where it stands against its limits, WhatsApp's restrictions, and for an admin a form
 * that changes the limits.
 */
export function GovernorPanel({ dashboard, details }: { dashboard: Dashboard; details: DeviceDetails }) {
  const { device, problem, replace } = details;
  const now = new Date(useNow(1000));
  const [editing, setEditing] = useState(false);
  if (!device?.governor) return problem ? <p class="error">Cannot read the device's limits: {problem}</p> : null;
  const governor = device.governor;
  const lines = governorLines(governor, now);
  const restrictions = restrictionLines(device.restrictions, now);
  return (
    <section class="governor card" aria-labelledby="governor-title" data-testid="governor" data-enabled={governor.limits.enabled}>
      <div class="section-head">
        <h2 id="governor-title">Sending limits</h2>
        {dashboard.session.can("admin") && !editing && (
          <button type="button" data-testid="governor-edit" onClick={() => setEditing(true)}>
            Change
          </button>
        )}
      </div>
      {!governor.limits.enabled && (
        <p class="hint" data-testid="governor-off">
          Off: messages are not paced or capped. WhatsApp's restrictions and the upstream's own limits still hold them.
        </p>
      )}
      <LimitLines lines={lines} testId="governor-line" />
      {restrictions.length > 0 && (
        <>
          <h3>WhatsApp's restrictions</h3>
          <LimitLines lines={restrictions} testId="restriction" />
        </>
      )}
      {problem && <p class="error">Could not read the device again: {problem}</p>}
      {editing && (
        <GovernorEditor
          dashboard={dashboard}
          deviceId={device.id}
          limits={governor.limits}
          onDone={(changed) => {
            if (changed) replace(changed);
            setEditing(false);
          }}
        />
      )}
    </section>
  );
}

function NumberField({
  id,
  label,
  value,
  onInput,
}: {
  id: string;
  label: string;
  value: string;
  onInput: (value: string) => void;
}) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input
        id={id}
        data-testid={id}
        type="number"
        inputMode="numeric"
        min={0}
        value={value}
        onInput={(event) => onInput(event.currentTarget.value)}
      />
    </div>
  );
}

/** The limits an admin may change here; the daemon's refusal (400, 403) is shown as it says it. */
function GovernorEditor({
  dashboard,
  deviceId,
  limits,
  onDone,
}: {
  dashboard: Dashboard;
  deviceId: string;
  limits: GovernorLimits;
  onDone: (changed: Device | null) => void;
}) {
  const [form, setForm] = useState<GovernorForm>(() => governorFormOf(limits));
  const { problems, busy, submit } = useFormSubmit(
    () => governorFormProblems(form, limits),
    async () => onDone(await changeGovernor(dashboard.session, deviceId, governorChanges(form, limits))),
  );
  const check = (field: "enabled" | "typing", label: string) => (
    <label class="choice">
      <input
        type="checkbox"
        data-testid={`governor-form-${field}`}
        checked={form[field]}
        onChange={(event) => setForm({ ...form, [field]: event.currentTarget.checked })}
      />
      {label}
    </label>
  );
  return (
    <form class="admin-form" data-testid="governor-form" aria-label="Change the sending limits" onSubmit={submit}>
      {check("enabled", "Pace and cap this device's messages")}
      <div class="field-row">
        <NumberField
          id="governor-form-per-minute"
          label="Messages a minute"
          value={form.perMinute}
          onInput={(perMinute) => setForm({ ...form, perMinute })}
        />
        <NumberField id="governor-form-burst" label="Burst" value={form.burst} onInput={(burst) => setForm({ ...form, burst })} />
        <NumberField
          id="governor-form-new-chats"
          label="New chats a day"
          value={form.newChatsPerDay}
          onInput={(newChatsPerDay) => setForm({ ...form, newChatsPerDay })}
        />
      </div>
      {check("typing", "Show typing before each text")}
      <Problems problems={problems} />
      <div class="actions">
        <button type="submit" class="primary" data-testid="governor-form-save" disabled={busy}>
          Save
        </button>
        <button type="button" data-testid="governor-form-cancel" onClick={() => onDone(null)}>
          Cancel
        </button>
      </div>
    </form>
  );
}
