// devicebridge's Socket.IO events, REST bodies and models, for dashboards written in TypeScript.
//
// The types in ./generated.ts are generated from the daemon's Rust types (the daemon's
// `cargo test` fails when they fall behind); this file adds what the daemon does to every
// payload and the event maps that a typed `socket.io-client` socket takes:
//
//   import { io } from "socket.io-client";
//   import type { DeviceSocket } from "@devicebridge/client";
//   const socket: DeviceSocket = io(`${origin}/device/demo`, { auth: { token } });
//   socket.emit("message:send", { chatId, text: "hi", tempId }, (reply) => {
//     if (reply.ok) console.log(reply.data.ackName); // reply.data is a Message
//   });

import type { Socket } from "socket.io-client";

import type {
  ApiError,
  DeviceEvents,
  DeviceRequests,
  FleetEvents,
  FleetRequests,
  SocketEvents,
} from "./generated";

export * from "./generated";

/** What the daemon adds to every journaled event's payload. */
export type Journaled<T> = T & {
  deviceId: string;
  /** Gap-free per device: resume with `auth.lastSeq` set to the last one processed. */
  seq: number;
  at: string;
};

/** Every answer to a client event: `{ ok: true, data }` or `{ ok: false, error }`. */
export type Reply<T> = { ok: true; data: T } | { ok: false; error: ApiError };

/** The journaled events a device namespace (`/device/<id>`) emits, typed by name. */
export type DeviceEventListeners = {
  [Name in keyof DeviceEvents]: (payload: Journaled<DeviceEvents[Name]>) => void;
};

/** Everything a device namespace's socket hears: the journaled events, `session` and `sync`. */
export type DeviceServerEvents = DeviceEventListeners & {
  [Name in keyof SocketEvents]: (payload: SocketEvents[Name]) => void;
};

/** Client events as socket.io-client types an emit: the payload, then the acknowledgement. */
type Emits<Requests extends { [Name in keyof Requests]: [unknown, unknown] }> = {
  [Name in keyof Requests]: (
    payload: Requests[Name][0],
    ack: (reply: Reply<Requests[Name][1]>) => void,
  ) => void;
};

/** Everything a device namespace's socket may ask. */
export type DeviceClientEvents = Emits<DeviceRequests>;

/** What the root namespace announces: the fleet's devices as they change. */
export type FleetServerEvents = {
  [Name in keyof FleetEvents]: (payload: FleetEvents[Name]) => void;
};

/** Everything the root namespace's socket may ask. */
export type FleetClientEvents = Emits<FleetRequests>;

/** A socket of `/device/<id>`, typed both ways. */
export type DeviceSocket = Socket<DeviceServerEvents, DeviceClientEvents>;

/** A socket of the root namespace `/`, typed both ways. */
export type FleetSocket = Socket<FleetServerEvents, FleetClientEvents>;
