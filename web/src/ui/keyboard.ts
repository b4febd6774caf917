/**
 * Keys for a list's rows: Enter opens the focused row, the arrow keys move to
 * the row above or below (rows are the siblings marked with the same testid).
 */
export function onRowKey(event: KeyboardEvent, open: () => void): void {
  const row = event.currentTarget as HTMLElement;
  if (event.key === "Enter" && event.target === row) {
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
