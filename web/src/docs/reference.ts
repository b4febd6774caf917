// The API reference: swagger-ui rendering the daemon's OpenAPI document. This module is loaded
// by a dynamic import() on /docs only, so swagger-ui, React and its stylesheet stay out of the
// dashboard's first view.
//
// swagger-ui suits the daemon's Content-Security-Policy (script-src and style-src 'self'): its
// styles are one stylesheet file, React sets element styles through the DOM rather than as
// style="…" markup, and it neither evaluates code nor loads anything but the document and the
// requests "Try it out" sends, which go to the page's own origin (the document names no server).
import SwaggerUI, { type OperationEntry, type Plugin, type Request, type TaggedOperations } from "swagger-ui";
import "swagger-ui/dist/swagger-ui.css";
import "./reference.css";
import { operationMatches, searchWords } from "./search";

export interface ApiReference {
  /** The reference's element, to put in the page (the same one each time). */
  element: HTMLElement;
  /** Shows only the operations that answer `phrase` (all for a blank one). */
  search(phrase: string): void;
  /**
   * The dashboard's session, while signed in: a token good for a while yet.
   * "Try it out" then sends it with each request that carries no credential
   * of its own (none was given in "Authorize"), so a signed-in person need
   * not authorize again. Null when signed out.
   */
  setSession(freshToken: (() => Promise<string>) | null): void;
}

/** Whether a request names a credential already (a key or token given in "Authorize"). */
const hasCredential = (request: Request) =>
  Object.keys(request.headers ?? {}).some((name) => /^(x-api-key|authorization)$/i.test(name));

const text = (value: unknown): string => (typeof value === "string" ? value : "");

function searchOperations(tags: TaggedOperations, phrase: string): TaggedOperations {
  const words = searchWords(phrase);
  const matches = (tag: string, operation: OperationEntry) =>
    operationMatches(words, {
      tag,
      method: text(operation.get("method")),
      path: text(operation.get("path")),
      summary: text(operation.getIn(["operation", "summary"])),
      operationId: text(operation.getIn(["operation", "operationId"])),
    });
  return tags
    .map((tag, name) => tag.set("operations", tag.get("operations").filter((operation) => matches(name, operation))))
    .filter((tag) => tag.get("operations").size > 0);
}

const search: Plugin = {
  // Searching reads paths, methods, summaries and operation ids, not only tag names.
  fn: { opsFilter: searchOperations },
  // The page has its own search field; swagger-ui's would show once a search is set.
  wrapComponents: { FilterContainer: () => () => null },
};

let reference: ApiReference | null = null;

/**
 * The page's one reference, made on first use. It is kept while the page lives, so going back
 * to /docs finds it as it was left: the operations opened, and the key typed into "Authorize",
 * which swagger-ui keeps in memory only (persistAuthorization stays off: no storage, no cookie).
 */
export function apiReference(): ApiReference {
  if (reference) return reference;
  const element = document.createElement("div");
  element.className = "api-reference-ui";
  let freshToken: (() => Promise<string>) | null = null;
  const system = SwaggerUI({
    domNode: element,
    url: "/docs-json",
    // No badge from the public validator: nothing is fetched from anywhere but the daemon.
    validatorUrl: null,
    // Neither ?url= nor ?configUrl= may point the page at another document.
    queryConfigEnabled: false,
    persistAuthorization: false,
    deepLinking: false,
    displayOperationId: true,
    displayRequestDuration: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    plugins: [search],
    // The token is asked for as the request leaves, so a renewed one is sent; never to
    // another origin.
    requestInterceptor: async (request) => {
      const sameOrigin = new URL(request.url, window.location.href).origin === window.location.origin;
      if (!freshToken || !sameOrigin || hasCredential(request)) return request;
      return { ...request, headers: { ...request.headers, Authorization: `Bearer ${await freshToken()}` } };
    },
  });
  // What swagger-ui draws is given what it lacks for the keyboard and screen readers: code blocks
  // (an answer, a curl command, an example), which scroll past 400 px, take the focus, so that
  // they scroll with the keyboard too; a dialog's close button, an icon, is named.
  new MutationObserver(() => {
    for (const block of element.querySelectorAll<HTMLElement>(".microlight:not([tabindex])")) block.tabIndex = 0;
    for (const close of element.querySelectorAll("button.close-modal:not([aria-label])")) close.setAttribute("aria-label", "Close");
  }).observe(element, { childList: true, subtree: true });
  reference = {
    element,
    search: (phrase) => system.layoutActions.updateFilter(phrase.trim()),
    setSession: (session) => {
      freshToken = session;
    },
  };
  return reference;
}
