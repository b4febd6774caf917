import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";

/**
 * A modal dialog within the page: a `<dialog>` opened with `showModal()`, so
 * the page behind it is inert, Escape closes it and the browser gives focus
 * back to what had it. It is open while it is rendered: closing it (Escape)
 * asks the owner to stop rendering it.
 */
export function Dialog({
  testId,
  label,
  class: className = "",
  onClose,
  children,
}: {
  testId: string;
  label: string;
  class?: string;
  onClose: () => void;
  children: ComponentChildren;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const element = dialog.current;
    if (!element) return;
    element.showModal();
    return () => element.close();
  }, []);
  return (
    <dialog
      ref={dialog}
      class={`dialog ${className}`}
      data-testid={testId}
      aria-label={label}
      onCancel={(event) => {
        event.preventDefault();
        onClose();
      }}
    >
      {children}
    </dialog>
  );
}

/**
 * Asks before an action that cannot be taken back. `busy` while the action
 * runs; `problem` says why it failed, leaving the dialog open to try again.
 */
export function ConfirmDialog({
  title,
  confirm,
  busy,
  problem,
  onConfirm,
  onCancel,
  children,
}: {
  title: string;
  /** The confirming button's words: the action itself ("Log out"), not "OK". */
  confirm: string;
  busy: boolean;
  problem: string | null;
  onConfirm: () => void;
  onCancel: () => void;
  children: ComponentChildren;
}) {
  return (
    <Dialog testId="confirm-dialog" label={title} class="confirm-dialog" onClose={onCancel}>
      <h2>{title}</h2>
      <div class="dialog-body">{children}</div>
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      <div class="dialog-actions">
        <button type="button" data-testid="confirm-no" onClick={onCancel} autofocus>
          Cancel
        </button>
        <button type="button" class="danger" data-testid="confirm-yes" disabled={busy} onClick={onConfirm}>
          {confirm}
        </button>
      </div>
    </Dialog>
  );
}
