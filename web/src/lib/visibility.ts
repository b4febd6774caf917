import { type Store, createStore } from "./store";

function visibleNow(): boolean {
  return typeof document === "undefined" || document.visibilityState === "visible";
}

/**
 * Whether the page is visible (`document.visibilityState`): a hidden tab, a
 * minimised window. Outside a browser (tests under Node) it counts as visible.
 */
export const pageVisible: Store<boolean> = createStore(visibleNow());

if (typeof document !== "undefined") {
  document.addEventListener("visibilitychange", () => pageVisible.set(visibleNow()));
}
