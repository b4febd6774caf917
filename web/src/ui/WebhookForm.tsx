import { useState } from "preact/hooks";
import { createWebhook, updateWebhook } from "../api/admin";
import { EVENT_NAMES, type Webhook } from "../api/types";
import type { Dashboard } from "../app/dashboard";
import {
  type SecretChoice,
  type WebhookForm as Form,
  emptyWebhookForm,
  newWebhookBody,
  newWebhookSecret,
  webhookChange,
  webhookFormOf,
  webhookFormProblems,
} from "../admin/webhookForm";
import { sortedDevices } from "../fleet/fleet";
import { useStore } from "../lib/store";
import { DeviceChoices, SelectionChoices } from "./Choices";
import { Problems } from "./Problems";
import { useFormSubmit } from "./useFormSubmit";

const SECRET_CHOICES: Record<"new" | "edit", [SecretChoice, string][]> = {
  new: [
    ["generate", "Generate one"],
    ["own", "Use mine"],
  ],
  edit: [
    ["keep", "Keep the current one"],
    ["rotate", "Generate a new one"],
    ["own", "Use mine"],
  ],
};

/**
 * A webhook subscription's definition: new (`webhook` absent) or edited.
 * `onSaved` gets the subscription and the secret to show once, if one was
 * made (by the daemon for a new one, here when rotating).
 */
export function WebhookForm({
  dashboard,
  webhook,
  onSaved,
  onCancel,
}: {
  dashboard: Dashboard;
  webhook?: Webhook;
  onSaved: (webhook: Webhook, secret: string | null) => void;
  onCancel: () => void;
}) {
  const session = dashboard.session;
  const devices = sortedDevices(useStore(dashboard.fleet.fleet)).map((d) => d.id);
  const [form, setForm] = useState<Form>(() => (webhook ? webhookFormOf(webhook) : emptyWebhookForm));
  const mode = webhook ? "edit" : "new";

  const { problems, busy, submit } = useFormSubmit(
    () => webhookFormProblems(form),
    async () => {
      if (!webhook) {
        const created = await createWebhook(session, newWebhookBody(form));
        const { secret, ...shown } = created;
        onSaved(shown, form.secret === "own" ? null : secret);
      } else {
        const rotated = form.secret === "rotate" ? newWebhookSecret(crypto.getRandomValues(new Uint8Array(32))) : undefined;
        const change = webhookChange(form, webhook, rotated);
        if (Object.keys(change).length === 0) return onCancel();
        onSaved(await updateWebhook(session, webhook.id, change), rotated ?? null);
      }
    },
  );

  return (
    <form class="admin-form webhook-form" data-testid="webhook-form" onSubmit={submit}>
      <h3>{webhook ? `Edit ${webhook.id}` : "New webhook"}</h3>
      <div class="field">
        <label for="webhook-form-url">URL</label>
        <input
          id="webhook-form-url"
          data-testid="webhook-form-url"
          type="url"
          value={form.url}
          placeholder="https://crm.example/hooks/devicebridge"
          autocomplete="off"
          spellcheck={false}
          onInput={(event) => setForm({ ...form, url: event.currentTarget.value })}
        />
      </div>
      <SelectionChoices
        legend="Events"
        allLabel="All events (*)"
        known={EVENT_NAMES}
        selection={form.events}
        onChange={(selection) => setForm({ ...form, events: selection })}
        testId="webhook-form-event"
        attribute="data-event"
      />
      <DeviceChoices
        known={devices}
        selection={form.devices}
        onChange={(selection) => setForm({ ...form, devices: selection })}
        allowAll={session.devices.includes("*")}
        testId="webhook-form-device"
      />
      <fieldset class="choices">
        <legend>Signing secret</legend>
        {SECRET_CHOICES[mode].map(([choice, label]) => (
          <label key={choice} class="choice">
            <input
              type="radio"
              name="webhook-secret"
              data-testid="webhook-form-secret"
              data-choice={choice}
              checked={form.secret === choice}
              onChange={() => setForm({ ...form, secret: choice })}
            />
            {label}
          </label>
        ))}
        {form.secret === "own" && (
          <input
            data-testid="webhook-form-own-secret"
            aria-label="Your secret"
            type="password"
            autocomplete="off"
            spellcheck={false}
            placeholder="whsec_ and the base64 of 24 to 64 random bytes"
            value={form.ownSecret}
            onInput={(event) => setForm({ ...form, ownSecret: event.currentTarget.value })}
          />
        )}
      </fieldset>
      {!webhook && (
        <label class="choice">
          <input type="checkbox" checked={form.enabled} onChange={(event) => setForm({ ...form, enabled: event.currentTarget.checked })} />
          Send deliveries from now on (enabled)
        </label>
      )}
      <Problems problems={problems} />
      <div class="actions">
        <button type="submit" class="primary" data-testid="webhook-form-submit" disabled={busy}>
          {webhook ? "Save" : "Create webhook"}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
