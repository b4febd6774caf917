import { describe, expect, it } from "vitest";
import { splitLinks } from "./links";

const link = (text: string, href = text) => ({ kind: "link", text, href });
const text = (text: string) => ({ kind: "text", text });

describe("finding links in a message's text", () => {
  it("leaves text without an address as one part, and an empty text as none", () => {
    expect(splitLinks("hello there")).toEqual([text("hello there")]);
    expect(splitLinks("")).toEqual([]);
  });

  it("cuts out http and https addresses, keeping the text around them", () => {
    expect(splitLinks("see https://example.com/a?b=1#c and http://example.org")).toEqual([
      text("see "),
      link("https://example.com/a?b=1#c"),
      text(" and "),
      link("http://example.org"),
    ]);
    expect(splitLinks("http://localhost:3000/docs")).toEqual([link("http://localhost:3000/docs")]);
  });

  it("opens www. addresses over https", () => {
    expect(splitLinks("at www.example.com/page now")).toEqual([
      text("at "),
      link("www.example.com/page", "https://www.example.com/page"),
      text(" now"),
    ]);
    expect(splitLinks("WWW.Example.com")).toEqual([link("WWW.Example.com", "https://WWW.Example.com")]);
  });

  it("leaves the punctuation ending a sentence out of the link", () => {
    expect(splitLinks("Look: https://example.com/x.")).toEqual([text("Look: "), link("https://example.com/x"), text(".")]);
    expect(splitLinks("https://example.com, www.example.org! https://example.net/?")).toEqual([
      link("https://example.com"),
      text(", "),
      link("www.example.org", "https://www.example.org"),
      text("! "),
      link("https://example.net/"),
      text("?"),
    ]);
    expect(splitLinks("(see https://example.com/a).")).toEqual([text("(see "), link("https://example.com/a"), text(").")]);
    expect(splitLinks("is it https://example.com?!")).toEqual([text("is it "), link("https://example.com"), text("?!")]);
  });

  it("keeps a closing parenthesis that closes one opened in the address", () => {
    expect(splitLinks("https://en.wikipedia.org/wiki/Hare_(disambiguation).")).toEqual([
      link("https://en.wikipedia.org/wiki/Hare_(disambiguation)"),
      text("."),
    ]);
  });

  it("stops at spaces, angle brackets and quotes", () => {
    expect(splitLinks('<https://example.com/a> "https://example.com/b"')).toEqual([
      text("<"),
      link("https://example.com/a"),
      text('> "'),
      link("https://example.com/b"),
      text('"'),
    ]);
    expect(splitLinks("https://example.com\nnext line")).toEqual([link("https://example.com"), text("\nnext line")]);
  });

  it("links no other scheme, and no address taken from within a word or another URL", () => {
    for (const plain of [
      "javascript:alert(1)",
      "JavaScript://www.example.com/%0aalert(1)",
      "data:text/html,<script>alert(1)</script>",
      "ftp://example.com/file",
      "mailto:someone@example.com",
      "xwww.example.com",
      "notahttps://example.com",
      "http:// nothing",
      "www. nothing",
      "https://",
    ]) {
      expect(splitLinks(plain)).toEqual([text(plain)]);
    }
  });

  it("keeps markup as text", () => {
    const message = '<script>alert("x")</script> <a href="javascript:alert(1)">https://example.com</a>';
    const parts = splitLinks(message);
    expect(parts.map((part) => part.text).join("")).toBe(message);
    expect(parts.filter((part) => part.kind === "link")).toEqual([link("https://example.com")]);
  });

  it("cuts a long run of punctuation off an address in one pass", () => {
    const tail = ")".repeat(100_000);
    expect(splitLinks(`https://example.com/${tail}`)).toEqual([link("https://example.com/"), text(tail)]);
  });

  it("gives back the whole text, in order, whatever it holds", () => {
    const message = "a https://x.example/p?q=(1), b www.y.example. c http://z.example) d";
    expect(
      splitLinks(message)
        .map((part) => part.text)
        .join(""),
    ).toBe(message);
  });
});
