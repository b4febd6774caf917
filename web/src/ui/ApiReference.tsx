import { useEffect, useRef, useState } from "preact/hooks";
import type { AuthSession } from "../auth/session";
import type { ApiReference as Reference } from "../docs/reference";
import { createStore, useStore } from "../lib/store";

/** The search typed last, kept with the reference when the view is left. */
const searchPhrase = createStore("");

type Loading = { phase: "loading" } | { phase: "shown"; reference: Reference } | { phase: "failed"; problem: string };

/**
 * `/docs`: the daemon's OpenAPI document (`/docs-json`) as a reference whose operations can be
 * tried with an API key typed into "Authorize", or, signed in (`session`), with the session's
 * own access token. Public: the document needs no credential, so the view is shown signed in
 * or not. Its renderer is loaded on first use, apart from the dashboard's own code.
 */
export function ApiReference({ session }: { session?: AuthSession }) {
  const host = useRef<HTMLDivElement>(null);
  const [loading, setLoading] = useState<Loading>({ phase: "loading" });
  const phrase = useStore(searchPhrase);
  const shown = loading.phase === "shown" ? loading.reference : null;

  useEffect(() => {
    if (!shown) return;
    shown.setSession(session ? () => session.freshToken() : null);
    return () => shown.setSession(null);
  }, [shown, session]);

  useEffect(() => {
    let left = false;
    let shown: HTMLElement | null = null;
    import("../docs/reference")
      .then(({ apiReference }) => {
        if (left || !host.current) return;
        const reference = apiReference();
        reference.search(searchPhrase.get());
        shown = reference.element;
        host.current.append(shown);
        setLoading({ phase: "shown", reference });
      })
      .catch((error: unknown) =>
        setLoading({ phase: "failed", problem: error instanceof Error ? error.message : String(error) }),
      );
    return () => {
      left = true;
      shown?.remove();
    };
  }, []);

  return (
    <main class="api-docs" data-testid="api-docs">
      <div class="api-docs-head">
        <h1>API reference</h1>
        <input
          type="search"
          class="api-docs-search"
          data-testid="api-docs-search"
          placeholder="Search operations: path, method, summary…"
          aria-label="Search operations"
          spellcheck={false}
          value={phrase}
          disabled={loading.phase !== "shown"}
          onInput={(event) => {
            const next = event.currentTarget.value;
            searchPhrase.set(next);
            if (loading.phase === "shown") loading.reference.search(next);
          }}
        />
      </div>
      {session ? (
        <p class="hint">
          The daemon's OpenAPI document, <a href="/docs-json">/docs-json</a>. “Try it out” sends this session's
          access token; a key given in “Authorize” is sent instead.
        </p>
      ) : (
        <p class="hint">
          The daemon's OpenAPI document, <a href="/docs-json">/docs-json</a>. To try an operation, give an API key in
          “Authorize”: it is kept in this page's memory only, and sent as <code>X-Api-Key</code>.
        </p>
      )}
      {loading.phase === "loading" && (
        <p class="empty" data-testid="api-docs-loading">
          Loading the reference…
        </p>
      )}
      {loading.phase === "failed" && (
        <p class="error" role="alert" data-testid="api-docs-error">
          The reference could not be loaded: {loading.problem}
        </p>
      )}
      <div class="api-docs-body" ref={host} />
    </main>
  );
}
