import { useEffect, useState } from "preact/hooks";
import { issueToken, listProfiles } from "../api/admin";
import type { IssuedToken, ProfileSummary } from "../api/types";
import type { Dashboard } from "../app/dashboard";
import { TOKEN_LIFETIMES, type TokenForm, emptyTokenForm, newTokenBody, tokenFormProblems } from "../admin/tokenForm";
import { sortedDevices } from "../fleet/fleet";
import { useStore } from "../lib/store";
import { DeviceChoices, ScopeChoices, listLabel } from "./Choices";
import { SecretOnce } from "./SecretOnce";
import { Problems } from "./Problems";
import { useFormSubmit } from "./useFormSubmit";

/** Issues an access token (`POST /api/v1/tokens`) for someone else, shown once. */
export function TokenPanel({ dashboard }: { dashboard: Dashboard }) {
  const session = dashboard.session;
  const devices = sortedDevices(useStore(dashboard.fleet.fleet)).map((d) => d.id);
  const [profiles, setProfiles] = useState<ProfileSummary[]>([]);
  const [form, setForm] = useState<TokenForm>(emptyTokenForm);
  const [issued, setIssued] = useState<IssuedToken | null>(null);

  useEffect(() => {
    listProfiles(session).then(setProfiles, () => setProfiles([]));
  }, []);

  const { problems, busy, submit } = useFormSubmit(
    () => tokenFormProblems(form),
    async () => setIssued(await issueToken(session, newTokenBody(form))),
  );

  const chosenProfile = profiles.find((p) => p.name === form.profile);
  return (
    <section class="card admin-section" aria-labelledby="tokens-title">
      <div class="section-head">
        <h2 id="tokens-title">Access tokens</h2>
      </div>
      <p class="hint">
        A token for an app or a person, with at most this key's rights, that ends by itself. Revoking this key ends
        it too.
      </p>
      {issued && (
        <SecretOnce title="The access token" secret={issued.token} testId="token-secret" onDone={() => setIssued(null)}>
          <p class="muted">
            Ends <time dateTime={issued.expiresAt}>{new Date(issued.expiresAt).toLocaleString()}</time>; grants{" "}
            {issued.scopes.join(", ")} on {listLabel(issued.devices, "all devices")}. Send it as{" "}
            <code>Authorization: Bearer …</code> or as the Socket.IO <code>auth.token</code>.
          </p>
        </SecretOnce>
      )}
      <form class="admin-form" onSubmit={submit}>
        <div class="field">
          <label for="token-form-sub">For (its subject)</label>
          <input
            id="token-form-sub"
            data-testid="token-form-sub"
            value={form.sub}
            placeholder="dashboard-user-7"
            autocomplete="off"
            onInput={(event) => setForm({ ...form, sub: event.currentTarget.value })}
          />
        </div>
        <DeviceChoices
          known={devices}
          selection={form.devices}
          onChange={(selection) => setForm({ ...form, devices: selection })}
          allowAll={session.devices.includes("*")}
          testId="token-form-device"
        />
        <ScopeChoices scopes={form.scopes} onChange={(scopes) => setForm({ ...form, scopes })} testId="token-form-scope" />
        <div class="field-row">
          <div class="field">
            <label for="token-form-ttl">Lifetime</label>
            <select
              id="token-form-ttl"
              data-testid="token-form-ttl"
              value={String(form.ttlSecs)}
              onChange={(event) => setForm({ ...form, ttlSecs: Number(event.currentTarget.value) })}
            >
              {TOKEN_LIFETIMES.map(({ secs, label }) => (
                <option key={secs} value={String(secs)}>
                  {label}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="token-form-profile">Protocol profile</label>
            <select
              id="token-form-profile"
              data-testid="token-form-profile"
              value={form.profile}
              onChange={(event) => setForm({ ...form, profile: event.currentTarget.value })}
            >
              <option value="">native</option>
              {profiles
                .filter((p) => p.name !== "native")
                .map((p) => (
                  <option key={p.name} value={p.name}>
                    {p.name}
                    {p.source === "user" ? " (yours)" : ""}
                  </option>
                ))}
            </select>
          </div>
        </div>
        {chosenProfile && <p class="muted">{chosenProfile.description}</p>}
        <Problems problems={problems} />
        <div class="actions">
          <button type="submit" class="primary" data-testid="token-issue" disabled={busy}>
            Issue token
          </button>
        </div>
      </form>
    </section>
  );
}
