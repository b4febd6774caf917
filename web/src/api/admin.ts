import type { AuthSession } from "../auth/session";
import type {
  ApiKey,
  CreatedApiKey,
  CreatedWebhook,
  Delivery,
  IssuedToken,
  Page,
  ProfileSummary,
  Scope,
  Sink,
  Stats,
  Webhook,
} from "./types";

// The REST calls of the admin pages: API keys, access tokens, webhook
// subscriptions and their deliveries, event sinks, and the fleet's counters.

/** `POST /api/v1/keys`. */
export interface NewKey {
  name: string;
  /** Device ids, or `["*"]` for all. */
  devices: string[];
  scopes: Scope[];
}

/** `POST /api/v1/tokens`. */
export interface NewToken {
  sub: string;
  devices: string[];
  scopes: Scope[];
  ttlSecs: number;
  profile?: string;
}

/** `POST /api/v1/webhooks`; `secret` left out has the daemon generate one. */
export interface NewWebhook {
  url: string;
  events: string[];
  devices: string[];
  secret?: string;
  enabled?: boolean;
}

/** `PATCH /api/v1/webhooks/{id}`: what is left out stays as it is. */
export type WebhookChange = Partial<NewWebhook>;

const keyPath = (id: string) => `/keys/${encodeURIComponent(id)}`;
const webhookPath = (id: string) => `/webhooks/${encodeURIComponent(id)}`;
const sinkPath = (id: string) => `/sinks/${encodeURIComponent(id)}`;

export async function listKeys(session: AuthSession): Promise<ApiKey[]> {
  return (await session.request<{ items: ApiKey[] }>("/keys")).items;
}

/** Only an API key may create keys: the daemon refuses a token (403). */
export function createKey(session: AuthSession, key: NewKey): Promise<CreatedApiKey> {
  return session.requestWithKey<CreatedApiKey>("/keys", { method: "POST", body: key });
}

export function revokeKey(session: AuthSession, id: string): Promise<void> {
  return session.request<void>(keyPath(id), { method: "DELETE" });
}

/** Asked for with the key, so the token may live as long as `ttlSecs` says, not the dashboard's own token. */
export function issueToken(session: AuthSession, token: NewToken): Promise<IssuedToken> {
  return session.requestWithKey<IssuedToken>("/tokens", { method: "POST", body: token });
}

export function listProfiles(session: AuthSession): Promise<ProfileSummary[]> {
  return session.request<ProfileSummary[]>("/profiles");
}

export async function listWebhooks(session: AuthSession): Promise<Webhook[]> {
  return (await session.request<{ items: Webhook[] }>("/webhooks")).items;
}

export function createWebhook(session: AuthSession, webhook: NewWebhook): Promise<CreatedWebhook> {
  return session.request<CreatedWebhook>("/webhooks", { method: "POST", body: webhook });
}

export function updateWebhook(session: AuthSession, id: string, change: WebhookChange): Promise<Webhook> {
  return session.request<Webhook>(webhookPath(id), { method: "PATCH", body: change });
}

export function deleteWebhook(session: AuthSession, id: string): Promise<void> {
  return session.request<void>(webhookPath(id), { method: "DELETE" });
}

/** `GET /api/v1/sinks`: every event sink the key administers, each with its lag. */
export async function listSinks(session: AuthSession): Promise<Sink[]> {
  return (await session.request<{ items: Sink[] }>("/sinks")).items;
}

/** `PATCH /api/v1/sinks/{id}` with `enabled`: a paused sink keeps its place in the journal. */
export function setSinkEnabled(session: AuthSession, id: string, enabled: boolean): Promise<Sink> {
  return session.request<Sink>(sinkPath(id), { method: "PATCH", body: { enabled } });
}

/** A page of a subscription's deliveries, newest first; `before` is the previous page's `nextCursor`. */
export function listDeliveries(session: AuthSession, webhookId: string, before?: string, limit = 50): Promise<Page<Delivery>> {
  const query = new URLSearchParams({ limit: String(limit) });
  if (before) query.set("before", before);
  return session.request<Page<Delivery>>(`${webhookPath(webhookId)}/deliveries?${query}`);
}

/** Sends a delivery again, with the same `webhook-id`; answers it pending again. */
export function replayDelivery(session: AuthSession, deliveryId: string): Promise<Delivery> {
  return session.request<Delivery>(`/webhooks/deliveries/${encodeURIComponent(deliveryId)}/replay`, { method: "POST" });
}

export function fetchStats(session: AuthSession): Promise<Stats> {
  return session.request<Stats>("/stats");
}
