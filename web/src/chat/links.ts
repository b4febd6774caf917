/** A piece of a message's text: words as they are, or a web address to open. */
export type TextPart = { kind: "text"; text: string } | { kind: "link"; text: string; href: string };

// An address starts with http://, https:// or www., but not within a word or another address
// ("javascript:…", "xwww.…", "…//www.…"), and runs to the next space, angle bracket or quotation
// mark.
const ADDRESS = /(?<![\p{L}\p{N}\p{M}_:/.@%+=&?#~-])(?:https?:\/\/|www\.)[^\s<>"“”‘’«»]+/giu;

// What ends a sentence or a quote rather than an address: left out of the link.
const TRAILING = ".,;:!?)'";

/** How many of `char` `text` holds. */
const count = (text: string, char: string) => text.split(char).length - 1;

/**
 * The address without the punctuation that follows it in a sentence. A closing parenthesis stays
 * when it closes one opened within the address (https://en.wikipedia.org/wiki/Hare_(disambiguation)).
 */
function trimTrailing(candidate: string): string {
  const opened = count(candidate, "(");
  let closed = count(candidate, ")");
  let end = candidate.length;
  while (end > 0 && TRAILING.includes(candidate.charAt(end - 1))) {
    if (candidate.charAt(end - 1) === ")") {
      if (closed <= opened) break;
      closed -= 1;
    }
    end -= 1;
  }
  return candidate.slice(0, end);
}

/** Where `address` leads: an http(s) URL with a host, or null when it is not one. */
function hrefOf(address: string): string | null {
  const href = /^www\./iu.test(address) ? `https://${address}` : address;
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    return null;
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "") return null;
  return href;
}

/**
 * `text` cut into its web addresses (http, https and www. ones) and the text between them, in
 * order; joined back, the parts' texts are `text`. Only http(s) addresses become links: any other
 * scheme stays text, and so does punctuation ending a sentence after an address.
 */
export function splitLinks(text: string): TextPart[] {
  const parts: TextPart[] = [];
  let last = 0;
  for (const match of text.matchAll(ADDRESS)) {
    const address = trimTrailing(match[0]);
    const href = hrefOf(address);
    if (href === null) continue;
    if (match.index > last) parts.push({ kind: "text", text: text.slice(last, match.index) });
    parts.push({ kind: "link", text: address, href });
    last = match.index + address.length;
  }
  if (last < text.length) parts.push({ kind: "text", text: text.slice(last) });
  return parts;
}
