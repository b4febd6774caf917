import type { Scope } from "../api/types";

/** What an access token is asked for: devices (ids or `*`) and scopes. */
export interface Grant {
  devices: readonly string[];
  scopes: readonly Scope[];
}

/**
 * The scope sets to ask a token for, widest first. No route tells a key its
 * own rights, and a token may not exceed them (the server answers 403), so the
 * dashboard asks for the most it could use and steps down. `admin` includes
 * every other scope; `read` is what any view needs.
 */
export const SCOPE_LADDER: readonly (readonly Scope[])[] = [
  ["admin"],
  ["read", "send", "control"],
  ["read", "send"],
  ["read", "control"],
  ["read"],
];

/** Whether scopes allow what needs `scope` (`admin` allows everything). */
export function allows(scopes: readonly Scope[], scope: Scope): boolean {
  return scopes.includes("admin") || scopes.includes(scope);
}
