import type { Scope } from "../api/types";
import { type Selection, choices, isPicked, toggle } from "../admin/selection";
import { SCOPES, SCOPE_HINTS, toggleScope } from "../admin/scopes";

/**
 * Checkboxes for devices or events: "all" (`*`, which takes in those to come
 * too) and each one by name. `attribute` names the `data-*` each box carries
 * its name in, for tests.
 */
export function SelectionChoices({
  legend,
  allLabel,
  known,
  selection,
  onChange,
  allowAll = true,
  testId,
  attribute,
}: {
  legend: string;
  allLabel: string;
  known: readonly string[];
  selection: Selection;
  onChange: (selection: Selection) => void;
  allowAll?: boolean;
  testId: string;
  attribute: string;
}) {
  const names = choices(known, selection);
  const box = (name: string, label: string, disabled = false) => (
    <label key={name} class={`choice${name === "*" ? " all" : ""}`}>
      <input
        type="checkbox"
        data-testid={testId}
        {...{ [attribute]: name }}
        checked={name === "*" ? selection.all : isPicked(selection, name)}
        disabled={disabled}
        onChange={(event) => onChange(toggle(selection, name, event.currentTarget.checked))}
      />
      {label}
    </label>
  );
  return (
    <fieldset class="choices">
      <legend>{legend}</legend>
      {allowAll && box("*", allLabel)}
      {names.map((name) => box(name, name, selection.all))}
      {names.length === 0 && !allowAll && <span class="muted">None to choose from.</span>}
    </fieldset>
  );
}

/** The devices a key, token or webhook reaches: all of them (`*`), or those picked by id. */
export function DeviceChoices({
  known,
  selection,
  onChange,
  allowAll,
  testId,
}: {
  known: readonly string[];
  selection: Selection;
  onChange: (selection: Selection) => void;
  /** Whether "all" may be picked: only by a credential that reaches every device itself. */
  allowAll: boolean;
  testId: string;
}) {
  return (
    <SelectionChoices
      legend="Devices"
      allLabel="All devices, those added later too (*)"
      known={known}
      selection={selection}
      onChange={onChange}
      allowAll={allowAll}
      testId={testId}
      attribute="data-device-id"
    />
  );
}

/** A checkbox for each scope, with what it allows. */
export function ScopeChoices({
  scopes,
  onChange,
  testId,
}: {
  scopes: readonly Scope[];
  onChange: (scopes: Scope[]) => void;
  testId: string;
}) {
  return (
    <fieldset class="choices">
      <legend>Scopes</legend>
      {SCOPES.map((scope) => (
        <label key={scope} class="choice" title={SCOPE_HINTS[scope]}>
          <input
            type="checkbox"
            data-testid={testId}
            data-scope={scope}
            checked={scopes.includes(scope)}
            onChange={(event) => onChange(toggleScope(scopes, scope, event.currentTarget.checked))}
          />
          {scope} <span class="muted">({SCOPE_HINTS[scope]})</span>
        </label>
      ))}
    </fieldset>
  );
}

/** A device or event list as the API gives it, in words. */
export function listLabel(list: readonly string[], all: string): string {
  return list.includes("*") ? all : list.join(", ") || "none";
}
