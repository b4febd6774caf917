/**
 * `run` at most once per `intervalMs`: the first call runs at once, calls within the interval
 * after it run once when it ends. For work that many events ask for and one run answers.
 */
export function throttle(run: () => void, intervalMs: number): { call(): void; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let asked = false;
  const rest = () => {
    timer = setTimeout(() => {
      timer = undefined;
      if (asked) {
        asked = false;
        run();
        rest();
      }
    }, intervalMs);
  };
  return {
    call() {
      if (timer !== undefined) {
        asked = true;
        return;
      }
      run();
      rest();
    },
    cancel() {
      clearTimeout(timer);
      timer = undefined;
      asked = false;
    },
  };
}
