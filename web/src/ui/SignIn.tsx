import { useState } from "preact/hooks";
import { signIn } from "../app/signIn";

export function SignIn({ problem, busy }: { problem: string | null; busy: boolean }) {
  const [key, setKey] = useState("");
  return (
    <main class="sign-in">
      <form
        class="card"
        onSubmit={(event) => {
          event.preventDefault();
          if (key.trim()) void signIn(key);
        }}
      >
        <h1>Sign in to devicebridge</h1>
        <p class="hint">
          Use an API key. The daemon prints its admin key on first start and writes it to{" "}
          <code>data/admin-api-key</code>. The key stays in this tab only.
        </p>
        <label for="signin-key">API key</label>
        <input
          id="signin-key"
          data-testid="signin-key"
          type="password"
          autocomplete="off"
          spellcheck={false}
          value={key}
          onInput={(event) => setKey(event.currentTarget.value)}
          autofocus
        />
        {problem && (
          <p class="error" data-testid="signin-error" role="alert">
            {problem}
          </p>
        )}
        <button type="submit" class="primary" data-testid="signin-submit" disabled={busy || !key.trim()}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
