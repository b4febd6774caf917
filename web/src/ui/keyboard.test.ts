// @vitest-environment happy-dom
import { beforeEach, describe, expect, it } from "vitest";
import { onCardClick, onRowKey } from "./keyboard";

let opened: string[];

/** A card as the fleet draws one: text, a link to the same place, a button, a confirmation. */
function card(id: string): HTMLElement {
  const element = document.createElement("div");
  element.tabIndex = 0;
  element.dataset.testid = "card";
  element.innerHTML = `<span class="facts">Connector: simulator</span><a href="/x">name</a>
    <button type="button">Stop</button><div role="group"><span>Delete?</span></div>`;
  element.addEventListener("click", (event) => onCardClick(event, () => opened.push(id)));
  element.addEventListener("keydown", (event) => onRowKey(event, () => opened.push(id)));
  document.body.append(element);
  return element;
}

const click = (target: Element, init: MouseEventInit = {}) =>
  target.dispatchEvent(new MouseEvent("click", { bubbles: true, cancelable: true, button: 0, ...init }));
const press = (target: Element, key: string) =>
  target.dispatchEvent(new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true }));

describe("a card that opens something", () => {
  beforeEach(() => {
    document.body.replaceChildren();
    opened = [];
  });

  it("opens on a click anywhere but on its controls", () => {
    const one = card("one");
    click(one.querySelector(".facts")!);
    click(one);
    expect(opened).toEqual(["one", "one"]);
    click(one.querySelector("button")!);
    click(one.querySelector("[role=group] span")!);
    click(one.querySelector("a")!);
    expect(opened).toEqual(["one", "one"]);
  });

  it("leaves clicks with a modifier or another button to the browser", () => {
    const one = card("one");
    click(one, { ctrlKey: true });
    click(one, { metaKey: true });
    click(one, { button: 1 });
    expect(opened).toEqual([]);
  });

  it("opens with Enter or Space when it has the focus, not when one of its buttons has", () => {
    const one = card("one");
    press(one, "Enter");
    press(one, " ");
    expect(opened).toEqual(["one", "one"]);
    press(one.querySelector("button")!, "Enter");
    press(one.querySelector("button")!, " ");
    expect(opened).toEqual(["one", "one"]);
  });

  it("moves to the next card with the arrow keys", () => {
    // Each in an item of one list, as in the fleet.
    const list = document.body.appendChild(document.createElement("ul"));
    const [one, two] = [card("one"), card("two")];
    for (const element of [one, two]) list.appendChild(document.createElement("li")).append(element);
    one.focus();
    press(one, "ArrowDown");
    expect(document.activeElement).toBe(two);
    press(two, "ArrowUp");
    expect(document.activeElement).toBe(one);
  });
});

describe("a row that is a link", () => {
  it("opens with Enter, and leaves Space to scroll", () => {
    opened = [];
    const row = document.createElement("a");
    row.href = "/chat";
    row.addEventListener("keydown", (event) => onRowKey(event, () => opened.push("chat")));
    document.body.append(row);
    press(row, " ");
    expect(opened).toEqual([]);
    press(row, "Enter");
    expect(opened).toEqual(["chat"]);
  });
});
