import { type Route, parseRoute } from "../router";
import { createStore } from "../lib/store";

export const currentRoute = createStore<Route>(parseRoute(window.location.pathname));

window.addEventListener("popstate", () => currentRoute.set(parseRoute(window.location.pathname)));

export function navigate(path: string): void {
  if (path === window.location.pathname) return;
  window.history.pushState(null, "", path);
  currentRoute.set(parseRoute(path));
}

/**
 * For links: a plain click navigates in the page; a click with a modifier
 * (new tab, new window) is left to the browser.
 */
export function followLink(event: MouseEvent, path: string): void {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(path);
}
