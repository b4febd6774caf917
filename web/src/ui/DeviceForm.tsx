import { useState } from "preact/hooks";
import { createDevice } from "../api/devices";
import type { ConnectorKind } from "../api/types";
import type { Dashboard } from "../app/dashboard";
import { navigate } from "../app/navigation";
import { type DeviceForm as Form, emptyDeviceForm, formProblems, newDeviceBody } from "../fleet/newDevice";
import { devicePath } from "../router";
import { Problems } from "./Problems";
import { useFormSubmit } from "./useFormSubmit";

type TextField = Exclude<keyof Form, "connector">;

/** Creates a device: the simulator for anyone with `control`, WAHA and Cloud API with `admin`. */
export function DeviceForm({ dashboard, onDone }: { dashboard: Dashboard; onDone: () => void }) {
  const [form, setForm] = useState<Form>(emptyDeviceForm);
  const admin = dashboard.session.can("admin");

  const field = (name: TextField, label: string, options: { secret?: boolean; placeholder?: string; multiline?: boolean } = {}) => {
    const id = `device-form-${name}`;
    const onInput = (event: { currentTarget: HTMLInputElement | HTMLTextAreaElement }) =>
      setForm({ ...form, [name]: event.currentTarget.value });
    const common = { id, value: form[name], onInput, spellcheck: false };
    return (
      <div class="field">
        <label for={id}>{label}</label>
        {options.multiline ? (
          <textarea {...common} rows={3} />
        ) : options.secret ? (
          <input {...common} type="password" autocomplete="off" />
        ) : (
          <input {...common} type="text" autocomplete="off" placeholder={options.placeholder} />
        )}
      </div>
    );
  };

  const { problems, busy, submit } = useFormSubmit(
    () => formProblems(form),
    async () => {
      const device = await createDevice(dashboard.session, newDeviceBody(form));
      dashboard.fleet.added(device);
      onDone();
      navigate(devicePath(device.id));
    },
  );

  return (
    <form class="card device-form" onSubmit={submit}>
      <h2>Add a device</h2>
      <div class="field">
        <label for="device-form-id">Id</label>
        <input
          id="device-form-id"
          data-testid="device-form-id"
          value={form.id}
          placeholder="shop-1"
          onInput={(event) => setForm({ ...form, id: event.currentTarget.value })}
          autocomplete="off"
          spellcheck={false}
          autofocus
        />
      </div>
      {field("name", "Name", { placeholder: "Shop" })}
      <div class="field">
        <label for="device-form-connector">Connector</label>
        <select
          id="device-form-connector"
          data-testid="device-form-connector"
          value={form.connector}
          onChange={(event) => setForm({ ...form, connector: event.currentTarget.value as ConnectorKind })}
        >
          <option value="simulator">Simulator (built in)</option>
          <option value="waha" disabled={!admin}>WAHA{admin ? "" : " (needs an admin key)"}</option>
          <option value="cloud_api" disabled={!admin}>WhatsApp Cloud API{admin ? "" : " (needs an admin key)"}</option>
        </select>
      </div>
      {form.connector === "simulator" && (
        <fieldset>
          <legend>Simulated phone</legend>
          {field("simulatorPhone", "Phone number", { placeholder: "15550000001" })}
          {field("simulatorContacts", "Contacts, one a line: chat id, name, echo | silent | slow_reader", {
            multiline: true,
          })}
        </fieldset>
      )}
      {form.connector === "waha" && (
        <fieldset>
          <legend>WAHA</legend>
          {field("wahaBaseUrl", "WAHA's URL", { placeholder: "http://localhost:3001" })}
          {field("wahaApiKey", "WAHA API key (optional)", { secret: true })}
          {field("wahaSession", "Session")}
          {field("wahaWebhookSecret", "Webhook secret (HMAC key WAHA signs with)", { secret: true })}
        </fieldset>
      )}
      {form.connector === "cloud_api" && (
        <fieldset>
          <legend>WhatsApp Business Cloud API</legend>
          {field("cloudPhoneNumberId", "Phone number id")}
          {field("cloudAccessToken", "Access token", { secret: true })}
          {field("cloudAppSecret", "App secret", { secret: true })}
          {field("cloudVerifyToken", "Verify token", { secret: true })}
          {field("cloudGraphUrl", "Graph API URL (optional)", { placeholder: "https://graph.facebook.com/v21.0" })}
        </fieldset>
      )}
      <Problems problems={problems} />
      <div class="actions">
        <button type="submit" class="primary" data-testid="device-form-submit" disabled={busy}>
          {busy ? "Adding…" : "Add device"}
        </button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}
