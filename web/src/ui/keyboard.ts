/**
 * Keys for a list's rows: Enter opens the focused row (and so does Space, unless the row is a
 * real `<a>`, which Space scrolls past as links do), the arrow keys move to the row above or
 * below (rows are the siblings marked with the same testid).
 */
export function onRowKey(event: KeyboardEvent, open: () => void): void {
  const row = event.currentTarget as HTMLElement;
  // Keys pressed on what the row holds (its buttons, a dialog they opened) are theirs.
  if (event.target !== row) return;
  if (event.key === "Enter" || (event.key === " " && !(row instanceof HTMLAnchorElement))) {
    event.preventDefault();
    open();
    return;
  }
  if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
  const testId = row.dataset.testid;
  const rows = [...(row.parentElement?.parentElement ?? document).querySelectorAll<HTMLElement>(`[data-testid="${testId}"]`)];
  const next = rows[rows.indexOf(row) + (event.key === "ArrowDown" ? 1 : -1)];
  if (next) {
    event.preventDefault();
    next.focus();
  }
}

/** What a card holds that does something of its own when clicked: the card leaves it alone. */
const CONTROLS = "a[href], button, input, select, textarea, label, summary, dialog, [role='group'], [role='menu']";

/**
 * A click on a card that opens something (a device's card in the fleet): a plain click anywhere
 * on it opens it, but not one on a control within it (its buttons, a confirmation they show), one
 * with a modifier or another mouse button, or the end of selecting its text.
 */
export function onCardClick(event: MouseEvent, open: () => void): void {
  const card = event.currentTarget as HTMLElement;
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  // The path as it was when clicked: a button may be gone from the page by now.
  for (const target of event.composedPath()) {
    if (target === card) break;
    if (target instanceof Element && target.matches(CONTROLS)) return;
  }
  const selection = window.getSelection();
  if (selection && !selection.isCollapsed && card.contains(selection.anchorNode)) return;
  open();
}
