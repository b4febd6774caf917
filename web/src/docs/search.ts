/** What the search over the API reference reads of one operation. */
export interface OperationText {
  tag: string;
  method: string;
  path: string;
  summary?: string | undefined;
  operationId?: string | undefined;
}

/** The words of a search, lower-cased; none for a blank one. */
export function searchWords(phrase: string): string[] {
  return phrase.toLowerCase().split(/\s+/).filter(Boolean);
}

/**
 * Whether an operation answers a search: every word is found in its method, path, summary,
 * operation id or tag, in any case and order ("get devices", "tokens", "waha").
 */
export function operationMatches(words: readonly string[], operation: OperationText): boolean {
  const text = [operation.method, operation.path, operation.summary ?? "", operation.operationId ?? "", operation.tag]
    .join("\n")
    .toLowerCase();
  return words.every((word) => text.includes(word));
}
