import { useState } from "preact/hooks";
import { describeError } from "../api/rest";

/**
 * One request a button starts at a time: `busy` while it runs (buttons are
 * disabled meanwhile), and what went wrong with the last one, as a sentence.
 */
export function useAction(): {
  busy: boolean;
  problem: string | null;
  run: (work: () => Promise<unknown>) => Promise<void>;
} {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const run = async (work: () => Promise<unknown>) => {
    setBusy(true);
    setProblem(null);
    try {
      await work();
    } catch (error) {
      setProblem(describeError(error));
    } finally {
      setBusy(false);
    }
  };
  return { busy, problem, run };
}
