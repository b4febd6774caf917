/**
 * A choice of devices or events, as checkboxes make it: everything (`*`, which
 * also takes in what comes later) or some by name.
 */
export interface Selection {
  all: boolean;
  picked: readonly string[];
}

export const nothingSelected: Selection = { all: false, picked: [] };
export const everythingSelected: Selection = { all: true, picked: [] };

/** The list the API takes: `["*"]`, or the names picked, each once, in order. */
export function selectionList(selection: Selection): string[] {
  if (selection.all) return ["*"];
  return [...new Set(selection.picked)].sort();
}

/** A list the API answered, as checkboxes show it. */
export function selectionOf(list: readonly string[]): Selection {
  return list.includes("*") ? everythingSelected : { all: false, picked: [...new Set(list)].sort() };
}

export function isEmpty(selection: Selection): boolean {
  return !selection.all && selection.picked.length === 0;
}

/** One checkbox ticked or unticked; `*` stands for "all". */
export function toggle(selection: Selection, name: string, on: boolean): Selection {
  if (name === "*") return { ...selection, all: on };
  const picked = selection.picked.filter((p) => p !== name);
  return { ...selection, picked: on ? [...picked, name].sort() : picked };
}

export function isPicked(selection: Selection, name: string): boolean {
  return selection.all || selection.picked.includes(name);
}

/** The names to offer: those known now, and those a stored list names that are gone since. */
export function choices(known: readonly string[], selection: Selection): string[] {
  return [...new Set([...known, ...selection.picked])].sort();
}
