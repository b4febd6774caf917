// devicebridge's Socket.IO events and models, for dashboards written in TypeScript.
//
// The types in ./generated.ts are generated from the daemon's Rust types (the daemon's
// `cargo test` fails when they fall behind); this file adds what the daemon does to every
// payload and the event map that a typed `socket.io-client` socket takes.

import type { DeviceEvents } from "./generated";

export * from "./generated";

/** What the daemon adds to every journaled event's payload. */
export type Journaled<T> = T & {
  deviceId: string;
  /** Gap-free per device: resume with `auth.lastSeq` set to the last one processed. */
  seq: number;
  at: string;
};

/** The journaled events a device namespace (`/device/<id>`) emits, typed by name. */
export type DeviceEventListeners = {
  [Name in keyof DeviceEvents]: (payload: Journaled<DeviceEvents[Name]>) => void;
};
