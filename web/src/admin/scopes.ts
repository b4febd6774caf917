import type { Scope } from "../api/types";

export const SCOPES: readonly Scope[] = ["read", "send", "control", "admin"];

/** What each scope allows, in a few words (docs/rest.md, Scopes). */
export const SCOPE_HINTS: Record<Scope, string> = {
  read: "reading and receiving events",
  send: "sending, read receipts, typing",
  control: "start, stop, QR codes, adding devices",
  admin: "everything, keys and webhooks too",
};

/** Scopes as the API takes them: each once, in the usual order. */
export function scopeList(scopes: readonly Scope[]): Scope[] {
  return SCOPES.filter((scope) => scopes.includes(scope));
}

export function toggleScope(scopes: readonly Scope[], scope: Scope, on: boolean): Scope[] {
  return scopeList(on ? [...scopes, scope] : scopes.filter((s) => s !== scope));
}
