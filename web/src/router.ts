/** The views the dashboard has, each with its own URL (History API, no hash). */
export type Route =
  | { view: "fleet" }
  | { view: "device"; deviceId: string }
  | { view: "chat"; deviceId: string; chatId: string }
  | { view: "events" }
  | { view: "admin" }
  | { view: "docs" }
  | { view: "not-found" };

function decode(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

export function parseRoute(pathname: string): Route {
  const parts = pathname.split("/").filter(Boolean).map(decode);
  if (parts.some((p) => p === null)) return { view: "not-found" };
  const [first, deviceId, third, chatId, ...rest] = parts as string[];
  if (first === undefined) return { view: "fleet" };
  if (first === "events" && deviceId === undefined) return { view: "events" };
  if (first === "admin" && deviceId === undefined) return { view: "admin" };
  if (first === "docs" && deviceId === undefined) return { view: "docs" };
  if (first === "devices" && deviceId !== undefined) {
    if (third === undefined) return { view: "device", deviceId };
    if (third === "chats" && chatId !== undefined && rest.length === 0) return { view: "chat", deviceId, chatId };
  }
  return { view: "not-found" };
}

// Chat ids read like `15550000002@c.us`; `@` is legal in a path segment, so it
// is kept readable rather than escaped as %40.
function encode(segment: string): string {
  return encodeURIComponent(segment).replace(/%40/g, "@");
}

export function devicePath(deviceId: string): string {
  return `/devices/${encode(deviceId)}`;
}

export function chatPath(deviceId: string, chatId: string): string {
  return `${devicePath(deviceId)}/chats/${encode(chatId)}`;
}
