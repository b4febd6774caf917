import type { NewToken } from "../api/admin";
import type { Scope } from "../api/types";
import { type Selection, isEmpty, nothingSelected, selectionList } from "./selection";
import { scopeList } from "./scopes";

/** The longest lifetime the daemon grants a token: 30 days. */
export const MAX_TOKEN_TTL_SECS = 30 * 24 * 3600;

/** Lifetimes offered, in seconds. */
export const TOKEN_LIFETIMES: readonly { secs: number; label: string }[] = [
  { secs: 15 * 60, label: "15 minutes" },
  { secs: 3600, label: "1 hour" },
  { secs: 24 * 3600, label: "1 day" },
  { secs: 7 * 24 * 3600, label: "7 days" },
  { secs: MAX_TOKEN_TTL_SECS, label: "30 days" },
];

/** The "issue an access token" form. `profile` empty: the native protocol. */
export interface TokenForm {
  sub: string;
  devices: Selection;
  scopes: readonly Scope[];
  ttlSecs: number;
  profile: string;
}

export const emptyTokenForm: TokenForm = { sub: "", devices: nothingSelected, scopes: ["read"], ttlSecs: 3600, profile: "" };

export function tokenFormProblems(form: TokenForm): string[] {
  const problems: string[] = [];
  if (!form.sub.trim()) problems.push("Say whom the token is for (its subject).");
  if (isEmpty(form.devices)) problems.push("Pick the devices it may use, or all devices.");
  if (form.scopes.length === 0) problems.push("Pick at least one scope.");
  if (!Number.isInteger(form.ttlSecs) || form.ttlSecs < 1 || form.ttlSecs > MAX_TOKEN_TTL_SECS) {
    problems.push("The lifetime is 1 second to 30 days.");
  }
  return problems;
}

/** The body of `POST /api/v1/tokens`. */
export function newTokenBody(form: TokenForm): NewToken {
  const body: NewToken = {
    sub: form.sub.trim(),
    devices: selectionList(form.devices),
    scopes: scopeList(form.scopes),
    ttlSecs: form.ttlSecs,
  };
  if (form.profile && form.profile !== "native") body.profile = form.profile;
  return body;
}
