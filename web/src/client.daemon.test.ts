// The client logic against a running daemon, which DEVICEBRIDGE_URL and
// DEVICEBRIDGE_API_KEY name (see README, "Test against a daemon").
// It needs a ready simulator device `demo` whose contact Alice echoes.
import { afterAll, describe, expect, it } from "vitest";
import { Dashboard } from "./app/dashboard";
import { ApiRequestError, callApi } from "./api/rest";
import { AuthSession } from "./auth/session";
import { io } from "socket.io-client";
import type { DeviceSocket, Message, Reply, SyncEvent } from "./api/types";
import { conversationOf } from "./device/deviceView";
import type { Store } from "./lib/store";

const origin: string | undefined = import.meta.env.DEVICEBRIDGE_URL;
const apiKey: string | undefined = import.meta.env.DEVICEBRIDGE_API_KEY;
if (!origin || !apiKey) {
  throw new Error("DEVICEBRIDGE_URL and DEVICEBRIDGE_API_KEY must name a running daemon");
}
const alice = "15550000002@c.us";

function until<T>(store: Store<T>, done: (value: T) => boolean, ms = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`timed out; last value: ${JSON.stringify(store.get()).slice(0, 600)}`));
    }, ms);
    const check = (value: T) => {
      if (!done(value)) return;
      clearTimeout(timer);
      stop();
      resolve(value);
    };
    const stop = store.subscribe(check);
    check(store.get());
  });
}

describe("against a running daemon", () => {
  let dashboard: Dashboard | undefined;
  afterAll(() => dashboard?.close());

  it("refuses a wrong key with 401", async () => {
    await expect(AuthSession.signIn(origin!, "dbk_wrong")).rejects.toMatchObject({ status: 401 });
    await expect(AuthSession.signIn(origin!, "dbk_wrong")).rejects.toBeInstanceOf(ApiRequestError);
  });

  it("asks a limited key for a token with exactly its devices and scopes", async () => {
    const { id, key } = await callApi<{ id: string; key: string }>(origin!, "/keys", { apiKey: apiKey! }, {
      method: "POST",
      body: { name: "dashboard-test", devices: ["demo"], scopes: ["read", "send"] },
    });
    try {
      const limited = await AuthSession.signIn(origin!, key);
      expect(limited.scopes).toEqual(["read", "send"]);
      expect(limited.can("control")).toBe(false);
      limited.end();
    } finally {
      await callApi(origin!, `/keys/${id}`, { apiKey: apiKey! }, { method: "DELETE" });
    }
  });

  it("signs in, follows the fleet and a device, sends, and resumes after a token renewal", async () => {
    const session = await AuthSession.signIn(origin!, apiKey!);
    dashboard = new Dashboard(session);
    await until(dashboard.fleet.loaded, Boolean);
    expect(dashboard.fleet.fleet.get().demo?.device.state).toBe("ready");
    await until(dashboard.hub.status, (s) => s === "connected");

    const demo = dashboard.device("demo");
    await until(demo.view, (v) => v.chatsLoaded && v.state === "ready");
    demo.openChat(alice);
    await until(demo.view, (v) => conversationOf(v, alice).loaded);

    const text = `hello ${Date.now()}`;
    demo.send(alice, text);
    expect(demo.view.get().outbox).toHaveLength(1);
    const mine = (v: typeof demo.view extends Store<infer V> ? V : never) =>
      conversationOf(v, alice).messages.filter((m) => m.fromMe && m.body === text);
    await until(demo.view, (v) => v.outbox.length === 0 && mine(v).length === 1);
    await until(demo.view, (v) => mine(v)[0]?.ackName === "read");

    // A renewed token moves every socket over, without going offline; the
    // resume loses and repeats nothing.
    const statuses: string[] = [];
    const stopRecording = dashboard.hub.status.subscribe((s) => statuses.push(s));
    await session.renew();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    stopRecording();
    expect(statuses).toEqual([]);
    const echo = (v: typeof demo.view extends Store<infer V> ? V : never) =>
      conversationOf(v, alice).messages.filter((m) => !m.fromMe && m.body === text);
    await until(demo.view, (v) => echo(v).length === 1, 15_000);
    expect(mine(demo.view.get())).toHaveLength(1);
    expect(dashboard.hub.status.get()).toBe("connected");
  }, 40_000);

  it("replies with a quote, reacts and deletes for everyone", async () => {
    const demo = dashboard!.device("demo");
    const me = dashboard!.fleet.fleet.get().demo?.device.me?.id ?? null;
    type View = typeof demo.view extends Store<infer V> ? V : never;
    const find = (v: View, match: (m: Message) => boolean) => conversationOf(v, alice).messages.find(match);

    const text = `quote me ${Date.now()}`;
    demo.send(alice, text);
    await until(demo.view, (v) => find(v, (m) => !m.fromMe && m.body === text) !== undefined, 15_000);
    const echo = find(demo.view.get(), (m) => !m.fromMe && m.body === text)!;

    demo.replyTo(alice, echo.id);
    const answer = `an answer ${Date.now()}`;
    demo.send(alice, answer);
    expect(demo.view.get().replies).toEqual({});
    await until(demo.view, (v) => find(v, (m) => m.fromMe && m.body === answer)?.replyTo === echo.id);

    demo.react(echo.id, "👍");
    await until(demo.view, (v) => me !== null && v.reactions[echo.id]?.[me] === "👍");
    demo.react(echo.id, "");
    await until(demo.view, (v) => v.reactions[echo.id] === undefined);

    const ours = find(demo.view.get(), (m) => m.fromMe && m.body === answer)!;
    demo.revoke(ours.id);
    await until(demo.view, (v) => find(v, (m) => m.id === ours.id)?.revoked === true);
    expect(demo.view.get().problem).toBeNull();
  }, 40_000);

  it("speaks the protocol through the client package's typed socket", async () => {
    const session = await AuthSession.signIn(origin!, apiKey!);
    const socket: DeviceSocket = io(`${origin}/device/demo`, {
      path: "/ws",
      auth: { token: session.token },
      transports: ["websocket"],
    });
    try {
      const synced = new Promise<SyncEvent>((resolve) => socket.once("sync", resolve));
      const scopes = await new Promise<string[]>((resolve) => socket.once("session", (s) => resolve(s.scopes)));
      expect(scopes).toEqual(session.scopes);
      expect((await synced).toSeq).toBeGreaterThan(0);

      const ask = <T>(emit: (answer: (reply: Reply<T>) => void) => void) =>
        new Promise<T>((resolve, reject) =>
          emit((reply) => (reply.ok ? resolve(reply.data) : reject(new Error(reply.error.code)))),
        );
      const chats = await ask<{ items: { id: string; unreadCount: number }[] }>((answer) =>
        socket.emit("chats:list", { limit: 10 }, answer),
      );
      expect(chats.items.map((chat) => chat.id)).toContain(alice);
      const presence = await ask<{ id: string; presence: string }[]>((answer) =>
        socket.emit("presence:get", { chatId: alice }, answer),
      );
      expect(presence.map((p) => p.id)).toEqual([alice]);
      const room = await ask<{ chatId: string; room: string }>((answer) =>
        socket.emit("chat:join", { chatId: alice }, answer),
      );
      expect(room.chatId).toBe(alice);
      await expect(
        ask((answer) => socket.emit("message:send", { chatId: alice, text: "" }, answer)),
      ).rejects.toThrow("bad_request");
    } finally {
      socket.disconnect();
      session.end();
    }
  }, 20_000);
});
