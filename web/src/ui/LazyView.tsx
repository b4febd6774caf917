import type { ComponentType } from "preact";
import { useEffect, useState } from "preact/hooks";

/**
 * A view whose code is loaded when first shown (`import()`), so the pages
 * most visits never open stay out of the first view's download. Shows a
 * line while it loads, and a way to try again if the download fails.
 */
export function lazyView<P extends object>(load: () => Promise<ComponentType<P>>): ComponentType<P> {
  let loaded: ComponentType<P> | null = null;
  let loading: Promise<ComponentType<P>> | null = null;
  const start = () => {
    loading ??= load().then(
      (component) => (loaded = component),
      (error: unknown) => {
        loading = null;
        throw error;
      },
    );
    return loading;
  };

  return function LazyView(props: P) {
    // Re-renders once the code is in. (Not the component itself as state: useState would call
    // a function it is given, here the component, as its initializer.)
    const [, setReady] = useState(false);
    const [problem, setProblem] = useState<string | null>(null);
    useEffect(() => {
      if (loaded) return;
      let live = true;
      start().then(
        () => live && setReady(true),
        (error: unknown) => live && setProblem(error instanceof Error ? error.message : String(error)),
      );
      return () => {
        live = false;
      };
    }, [problem]);
    if (loaded) {
      const View = loaded;
      return <View {...props} />;
    }
    return (
      <main class="coming-soon">
        {problem ? (
          <>
            <p class="error" role="alert">
              This page could not be loaded: {problem}
            </p>
            <button type="button" onClick={() => setProblem(null)}>
              Try again
            </button>
          </>
        ) : (
          <p class="hint">Loading…</p>
        )}
      </main>
    );
  };
}
