import { useState } from "preact/hooks";
import { deleteWebhook, listWebhooks, updateWebhook } from "../api/admin";
import { describeError } from "../api/rest";
import type { Webhook } from "../api/types";
import type { Dashboard } from "../app/dashboard";
import { listLabel } from "./Choices";
import { DeliveryLog } from "./DeliveryLog";
import { SecretOnce } from "./SecretOnce";
import { WebhookForm } from "./WebhookForm";
import { useLoaded } from "./useLoaded";

/** Webhook subscriptions: list, create, edit, enable or disable, delete, and each one's deliveries. */
export function WebhooksPanel({ dashboard }: { dashboard: Dashboard }) {
  const session = dashboard.session;
  const { value: webhooks, setValue: setWebhooks, problem, setProblem } = useLoaded(() => listWebhooks(session));
  /** The form open: a new subscription, or the one being edited. */
  const [editing, setEditing] = useState<"new" | string | null>(null);
  const [secret, setSecret] = useState<{ webhookId: string; secret: string } | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [logs, setLogs] = useState<ReadonlySet<string>>(new Set());
  const [busy, setBusy] = useState<string | null>(null);

  const put = (webhook: Webhook) =>
    setWebhooks((all) => {
      const list = all ?? [];
      return list.some((w) => w.id === webhook.id) ? list.map((w) => (w.id === webhook.id ? webhook : w)) : [...list, webhook];
    });

  const run = async (id: string, work: () => Promise<void>) => {
    setBusy(id);
    try {
      await work();
      setProblem(null);
    } catch (error) {
      setProblem(describeError(error));
    } finally {
      setBusy(null);
    }
  };
  const setEnabled = (webhook: Webhook, enabled: boolean) =>
    run(webhook.id, async () => put(await updateWebhook(session, webhook.id, { enabled })));
  const remove = (webhook: Webhook) =>
    run(webhook.id, async () => {
      await deleteWebhook(session, webhook.id);
      setWebhooks((all) => (all ?? []).filter((w) => w.id !== webhook.id));
      setConfirming(null);
    });
  const toggleLog = (id: string) =>
    setLogs((open) => {
      const next = new Set(open);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  const saved = (webhook: Webhook, made: string | null) => {
    put(webhook);
    setEditing(null);
    setSecret(made ? { webhookId: webhook.id, secret: made } : null);
  };

  return (
    <section class="card admin-section" aria-labelledby="webhooks-title">
      <div class="section-head">
        <h2 id="webhooks-title">Webhooks</h2>
        {editing === null && (
          <button type="button" class="primary" data-testid="webhook-add" onClick={() => setEditing("new")}>
            New webhook
          </button>
        )}
      </div>
      <p class="hint">
        Each event a subscription selects is POSTed to its URL, signed as Standard Webhooks do, retried for three days
        until it is taken.
      </p>
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      {editing === "new" && <WebhookForm dashboard={dashboard} onSaved={saved} onCancel={() => setEditing(null)} />}
      {secret && (
        <SecretOnce title={`The signing secret of ${secret.webhookId}`} secret={secret.secret} testId="webhook-secret" onDone={() => setSecret(null)}>
          <p class="muted">
            Verify each delivery's <code>webhook-signature</code> with it.
          </p>
        </SecretOnce>
      )}
      {webhooks !== null && webhooks.length === 0 && <p class="empty">No webhooks.</p>}
      <ul class="admin-list">
        {(webhooks ?? []).map((webhook) => {
          const fromConfig = webhook.source === "config";
          return (
            <li
              key={webhook.id}
              class={`admin-row webhook-row${webhook.enabled ? "" : " disabled"}`}
              data-testid="webhook-row"
              data-webhook-id={webhook.id}
              data-enabled={webhook.enabled ? "true" : "false"}
            >
              <div class="admin-main">
                <strong class="webhook-url">{webhook.url}</strong>
                <span class="muted">
                  {webhook.id}
                  {fromConfig && " · from the configuration"}
                </span>
              </div>
              <span class={`state-badge ${webhook.enabled ? "ready" : "failed"}`} title={webhook.disabledReason ?? undefined}>
                {webhook.enabled ? "Enabled" : "Disabled"}
              </span>
              <dl class="facts">
                <dt>Events</dt>
                <dd>{listLabel(webhook.events, "all events")}</dd>
                <dt>Devices</dt>
                <dd>{listLabel(webhook.devices, "all devices")}</dd>
                {webhook.disabledReason && (
                  <>
                    <dt>Disabled because</dt>
                    <dd>{webhook.disabledReason}</dd>
                  </>
                )}
              </dl>
              {editing === webhook.id ? (
                <WebhookForm dashboard={dashboard} webhook={webhook} onSaved={saved} onCancel={() => setEditing(null)} />
              ) : confirming === webhook.id ? (
                <div class="row-actions" role="group" aria-label={`Delete ${webhook.id}?`}>
                  <span>Delete this subscription and its delivery log?</span>
                  <button type="button" class="danger" data-testid="webhook-delete-confirm" disabled={busy === webhook.id} onClick={() => void remove(webhook)}>
                    Delete
                  </button>
                  <button type="button" onClick={() => setConfirming(null)}>
                    Cancel
                  </button>
                </div>
              ) : (
                <div class="row-actions">
                  <button
                    type="button"
                    data-testid="webhook-toggle"
                    disabled={busy === webhook.id}
                    onClick={() => void setEnabled(webhook, !webhook.enabled)}
                  >
                    {webhook.enabled ? "Disable" : "Enable"}
                  </button>
                  {!fromConfig && (
                    <button type="button" data-testid="webhook-edit" disabled={editing !== null} onClick={() => setEditing(webhook.id)}>
                      Edit
                    </button>
                  )}
                  <button
                    type="button"
                    data-testid="webhook-deliveries"
                    aria-expanded={logs.has(webhook.id)}
                    onClick={() => toggleLog(webhook.id)}
                  >
                    {logs.has(webhook.id) ? "Hide deliveries" : "Deliveries"}
                  </button>
                  {!fromConfig && (
                    <button type="button" class="danger" data-testid="webhook-delete" onClick={() => setConfirming(webhook.id)}>
                      Delete
                    </button>
                  )}
                </div>
              )}
              {logs.has(webhook.id) && <DeliveryLog session={session} webhookId={webhook.id} />}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
