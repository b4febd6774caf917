import { useState } from "preact/hooks";
import { describeError } from "../api/rest";

/**
 * A form's submission: what is wrong with it, found before anything is sent
 * (`problemsOf`) or answered by the daemon, and `busy` while `send` runs (its
 * submit button is disabled meanwhile). `send` runs only for a form without
 * problems.
 */
export function useFormSubmit(
  problemsOf: () => string[],
  send: () => Promise<unknown>,
): { problems: string[]; busy: boolean; submit: (event: Event) => Promise<void> } {
  const [problems, setProblems] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const found = problemsOf();
    setProblems(found);
    if (found.length) return;
    setBusy(true);
    try {
      await send();
    } catch (error) {
      setProblems([describeError(error)]);
    } finally {
      setBusy(false);
    }
  };
  return { problems, busy, submit };
}
