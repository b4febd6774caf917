import type { ApiError } from "./types";

/** An error answer of the API: its HTTP status and `error.code`. */
export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiRequestError";
  }
}

/** Either credential the API takes. */
export type Credential = { apiKey: string } | { token: string };

export interface RequestOptions {
  method?: "GET" | "POST" | "PATCH" | "DELETE";
  body?: unknown;
}

/** One call to `origin` + `/api/v1` + `path`, answering its JSON body. */
export async function callApi<T>(
  origin: string,
  path: string,
  credential: Credential,
  { method = "GET", body }: RequestOptions = {},
): Promise<T> {
  const headers: Record<string, string> =
    "apiKey" in credential ? { "x-api-key": credential.apiKey } : { authorization: `Bearer ${credential.token}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${origin}/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!response.ok) {
    const error = (json as { error?: Partial<ApiError> } | undefined)?.error;
    throw new ApiRequestError(
      response.status,
      error?.code ?? `http_${response.status}`,
      error?.message ?? (response.statusText || "the request failed"),
    );
  }
  return json as T;
}

/** A sentence for an error of any kind, to show to the person at the dashboard. */
export function describeError(error: unknown): string {
  if (error instanceof ApiRequestError) return `${error.message} (${error.code})`;
  if (error instanceof Error) return error.message;
  return String(error);
}
