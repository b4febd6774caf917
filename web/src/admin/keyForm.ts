import type { NewKey } from "../api/admin";
import type { Scope } from "../api/types";
import { type Selection, isEmpty, nothingSelected, selectionList } from "./selection";
import { scopeList } from "./scopes";

/** The "new API key" form: a name, devices × scopes. */
export interface KeyForm {
  name: string;
  devices: Selection;
  scopes: readonly Scope[];
}

export const emptyKeyForm: KeyForm = { name: "", devices: nothingSelected, scopes: ["read"] };

/** What keeps the form from being sent, in the words shown beside it. */
export function keyFormProblems(form: KeyForm): string[] {
  const problems: string[] = [];
  if (!form.name.trim()) problems.push("Give the key a name: it tells the keys apart.");
  if (isEmpty(form.devices)) problems.push("Pick the devices it may use, or all devices.");
  if (form.scopes.length === 0) problems.push("Pick at least one scope.");
  return problems;
}

/** The body of `POST /api/v1/keys`. */
export function newKeyBody(form: KeyForm): NewKey {
  return { name: form.name.trim(), devices: selectionList(form.devices), scopes: scopeList(form.scopes) };
}
