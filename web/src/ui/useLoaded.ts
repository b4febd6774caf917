import { type Dispatch, type StateUpdater, useEffect, useState } from "preact/hooks";
import { describeError } from "../api/rest";

/**
 * What `read` answers, read as the view opens and again on `reload()`, `null`
 * until the first answer. `problem` says why the last read failed; the view's
 * other requests tell theirs there too (`setProblem`), so one line of the view
 * says what went wrong last.
 */
export function useLoaded<T>(read: () => Promise<T>): {
  value: T | null;
  setValue: Dispatch<StateUpdater<T | null>>;
  problem: string | null;
  setProblem: Dispatch<StateUpdater<string | null>>;
  reload: () => Promise<void>;
} {
  const [value, setValue] = useState<T | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const reload = async () => {
    try {
      setValue(await read());
      setProblem(null);
    } catch (error) {
      setProblem(describeError(error));
    }
  };
  useEffect(() => void reload(), []);
  return { value, setValue, problem, setProblem, reload };
}
