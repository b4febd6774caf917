import { useState } from "preact/hooks";
import { createKey, listKeys, revokeKey } from "../api/admin";
import { describeError } from "../api/rest";
import type { CreatedApiKey } from "../api/types";
import type { Dashboard } from "../app/dashboard";
import { type KeyForm, emptyKeyForm, keyFormProblems, newKeyBody } from "../admin/keyForm";
import { sortedDevices } from "../fleet/fleet";
import { useStore } from "../lib/store";
import { DeviceChoices, ScopeChoices, listLabel } from "./Choices";
import { activityTime } from "./format";
import { SecretOnce } from "./SecretOnce";
import { Problems } from "./Problems";
import { useFormSubmit } from "./useFormSubmit";
import { useLoaded } from "./useLoaded";

/** API keys: the list, a new key (its secret shown once), and revoking one. */
export function KeysPanel({ dashboard }: { dashboard: Dashboard }) {
  const session = dashboard.session;
  const devices = sortedDevices(useStore(dashboard.fleet.fleet)).map((d) => d.id);
  const { value: keys, setValue: setKeys, problem, setProblem } = useLoaded(() => listKeys(session));
  const [form, setForm] = useState<KeyForm>(emptyKeyForm);
  const [revoking, setRevoking] = useState(false);
  const [created, setCreated] = useState<CreatedApiKey | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);

  const creation = useFormSubmit(
    () => keyFormProblems(form),
    async () => {
      const key = await createKey(session, newKeyBody(form));
      setCreated(key);
      setForm(emptyKeyForm);
      const { key: _secret, ...shown } = key;
      setKeys((all) => [...(all ?? []).filter((k) => k.id !== shown.id), shown]);
    },
  );
  const busy = creation.busy || revoking;

  const revoke = async (id: string) => {
    setRevoking(true);
    try {
      await revokeKey(session, id);
      setKeys((all) => (all ?? []).filter((k) => k.id !== id));
      setConfirming(null);
      setProblem(null);
    } catch (error) {
      setProblem(describeError(error));
    } finally {
      setRevoking(false);
    }
  };

  return (
    <section class="card admin-section" aria-labelledby="keys-title">
      <div class="section-head">
        <h2 id="keys-title">API keys</h2>
      </div>
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      {keys !== null && keys.length === 0 && <p class="empty">No keys.</p>}
      <ul class="admin-list">
        {(keys ?? []).map((key) => (
          <li key={key.id} class="admin-row" data-testid="key-row" data-key-id={key.id}>
            <div class="admin-main">
              <strong>{key.name}</strong>
              <span class="muted">
                {key.id}
                {key.id === session.keyId && " · this dashboard is signed in with it"}
              </span>
            </div>
            <dl class="facts">
              <dt>Devices</dt>
              <dd>{listLabel(key.devices, "all devices")}</dd>
              <dt>Scopes</dt>
              <dd>{key.scopes.join(", ")}</dd>
              <dt>Created</dt>
              <dd>
                <time dateTime={key.createdAt}>{activityTime(key.createdAt)}</time>
              </dd>
            </dl>
            {confirming === key.id ? (
              <div class="row-actions" role="group" aria-label={`Revoke ${key.name}?`}>
                <span>
                  Revoke {key.name}? Its connections close at once
                  {key.id === session.keyId ? ", this dashboard's too: it signs out." : "."}
                </span>
                <button type="button" class="danger" data-testid="key-revoke-confirm" disabled={busy} onClick={() => void revoke(key.id)}>
                  Revoke
                </button>
                <button type="button" onClick={() => setConfirming(null)}>
                  Cancel
                </button>
              </div>
            ) : (
              <div class="row-actions">
                <button type="button" class="danger" data-testid="key-revoke" onClick={() => setConfirming(key.id)}>
                  Revoke
                </button>
              </div>
            )}
          </li>
        ))}
      </ul>
      {created && (
        <SecretOnce title={`The key “${created.name}”`} secret={created.key} testId="key-secret" onDone={() => setCreated(null)}>
          <p class="muted">
            Send it as <code>x-api-key</code>, or sign in to this dashboard with it.
          </p>
        </SecretOnce>
      )}
      <form class="admin-form" onSubmit={creation.submit}>
        <h3>New key</h3>
        <div class="field">
          <label for="key-form-name">Name</label>
          <input
            id="key-form-name"
            data-testid="key-form-name"
            value={form.name}
            placeholder="shop dashboard"
            autocomplete="off"
            onInput={(event) => setForm({ ...form, name: event.currentTarget.value })}
          />
        </div>
        <DeviceChoices
          known={devices}
          selection={form.devices}
          onChange={(selection) => setForm({ ...form, devices: selection })}
          allowAll={session.devices.includes("*")}
          testId="key-form-device"
        />
        <ScopeChoices scopes={form.scopes} onChange={(scopes) => setForm({ ...form, scopes })} testId="key-form-scope" />
        <Problems problems={creation.problems} />
        <div class="actions">
          <button type="submit" class="primary" data-testid="key-create" disabled={busy}>
            Create key
          </button>
        </div>
      </form>
    </section>
  );
}
