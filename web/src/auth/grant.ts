import type { Scope } from "../api/types";

/** What an access token is asked for: devices (ids or `*`) and scopes. */
export interface Grant {
  devices: readonly string[];
  scopes: readonly Scope[];
}

/** Whether scopes allow what needs `scope` (`admin` allows everything). */
export function allows(scopes: readonly Scope[], scope: Scope): boolean {
  return scopes.includes("admin") || scopes.includes(scope);
}
