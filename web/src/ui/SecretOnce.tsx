import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";

/**
 * A secret the daemon shows this once (a new API key, a token, a webhook's
 * signing secret), with a button that copies it. Once dismissed it is gone:
 * the dashboard keeps no copy.
 */
export function SecretOnce({
  title,
  secret,
  testId,
  children,
  onDone,
}: {
  title: string;
  secret: string;
  testId: string;
  children?: ComponentChildren;
  onDone: () => void;
}) {
  const [copied, setCopied] = useState<"yes" | "no" | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret);
      setCopied("yes");
    } catch {
      // No clipboard without a secure context or permission: it can still be selected.
      setCopied("no");
    }
  };
  return (
    <section class="secret-once" role="alert">
      <h3>{title}</h3>
      <p>Copy it now: it is shown this once and cannot be shown again.</p>
      <code class="secret" data-testid={testId}>
        {secret}
      </code>
      {children}
      <div class="actions">
        <button type="button" class="primary" data-testid="secret-copy" onClick={() => void copy()}>
          Copy
        </button>
        <button type="button" data-testid="secret-done" onClick={onDone}>
          Done
        </button>
        {copied === "yes" && <span class="muted">Copied.</span>}
        {copied === "no" && <span class="muted">The browser did not allow copying: select the text and copy it.</span>}
      </div>
    </section>
  );
}
