// swagger-ui ships no types: these are the parts of its API that reference.ts uses.
declare module "swagger-ui" {
  /** One operation in swagger-ui's state (an Immutable.js Map: path, method, operation). */
  export interface OperationEntry {
    get(key: "path" | "method"): unknown;
    getIn(path: readonly ["operation", "summary" | "operationId"]): unknown;
  }

  /** The operations of one tag (an Immutable.js List). */
  export interface OperationList {
    readonly size: number;
    filter(keep: (operation: OperationEntry) => boolean): OperationList;
  }

  /** One tag with its operations (an Immutable.js Map). */
  export interface TaggedEntry {
    get(key: "operations"): OperationList;
    set(key: "operations", operations: OperationList): TaggedEntry;
  }

  /** Every tag, in order, with its operations (an Immutable.js OrderedMap). */
  export interface TaggedOperations {
    map(change: (tag: TaggedEntry, name: string) => TaggedEntry): TaggedOperations;
    filter(keep: (tag: TaggedEntry, name: string) => boolean): TaggedOperations;
  }

  export interface System {
    layoutActions: { updateFilter(phrase: string): void };
  }

  // A plugin: https://swagger.io/docs/open-source-tools/swagger-ui/customization/plugin-api/
  export interface Plugin {
    fn?: { opsFilter?: (operations: TaggedOperations, phrase: string) => TaggedOperations };
    wrapComponents?: Record<string, (original: unknown, system: System) => (props: unknown) => null>;
  }

  /** A request swagger-ui is about to send: the document's, or one of "Try it out". */
  export interface Request {
    url: string;
    method?: string;
    headers?: Record<string, string>;
  }

  // https://swagger.io/docs/open-source-tools/swagger-ui/usage/configuration/
  export interface Options {
    domNode: HTMLElement;
    url: string;
    validatorUrl: string | null;
    queryConfigEnabled?: boolean;
    persistAuthorization?: boolean;
    deepLinking?: boolean;
    displayOperationId?: boolean;
    displayRequestDuration?: boolean;
    defaultModelsExpandDepth?: number;
    docExpansion?: "list" | "full" | "none";
    tryItOutEnabled?: boolean;
    withCredentials?: boolean;
    plugins?: Plugin[];
    /** May change the request, and answer it or a promise of it. */
    requestInterceptor?: (request: Request) => Request | Promise<Request>;
    onComplete?: () => void;
  }

  export default function SwaggerUI(options: Options): System;
}
