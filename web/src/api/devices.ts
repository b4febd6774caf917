import type { AuthSession } from "../auth/session";
import type { ConnectorKind, Device, GovernorChanges, IssuedCode } from "./types";

// The REST calls that manage devices. Everything else the dashboard does goes
// over the device's Socket.IO namespace.

export type DeviceAction = "start" | "stop" | "restart" | "logout";

/** A simulated contact, as a simulator device's settings list them. */
export interface SimulatedContact {
  id: string;
  name: string;
  behaviour: "echo" | "silent" | "slow_reader";
}

/** `POST /api/v1/devices`: the id and name, and the settings of its connector. */
export interface NewDevice {
  id: string;
  name: string;
  connector: ConnectorKind;
  simulator?: { phone?: string; contacts?: SimulatedContact[] };
  waha?: { base_url: string; api_key?: string; session?: string; webhook_secret: string };
  cloud_api?: {
    phone_number_id: string;
    access_token: string;
    app_secret: string;
    verify_token: string;
    graph_url?: string;
  };
}

const path = (id: string) => `/devices/${encodeURIComponent(id)}`;

export function createDevice(session: AuthSession, device: NewDevice): Promise<Device> {
  return session.request<Device>("/devices", { method: "POST", body: device });
}

/** One device as `GET /devices/{id}` shows it: with its governor and WhatsApp's restrictions. */
export function getDevice(session: AuthSession, id: string): Promise<Device> {
  return session.request<Device>(path(id));
}

/** Changes the device's send governor (the `admin` scope); answers the device as changed. */
export function changeGovernor(session: AuthSession, id: string, governor: GovernorChanges): Promise<Device> {
  return session.request<Device>(path(id), { method: "PATCH", body: { governor } });
}

export function driveDevice(session: AuthSession, id: string, action: DeviceAction): Promise<Device> {
  return session.request<Device>(`${path(id)}/${action}`, { method: "POST" });
}

export function deleteDevice(session: AuthSession, id: string): Promise<void> {
  return session.request<void>(path(id), { method: "DELETE" });
}

/**
 * Acts as the simulated phone scanning the code: the simulator links when its
 * pairing link (the QR's text) is confirmed, which `POST /pairings` does.
 */
export function scanQr(session: AuthSession, qr: string): Promise<{ deviceId: string; linked: boolean }> {
  return session.request("/pairings", { method: "POST", body: { qr } });
}

/**
 * Asks a device showing its QR code for a code that links it when typed on the
 * phone whose number is `phone`; the `pairing:code` event tells it too.
 */
export function requestPairingCode(session: AuthSession, id: string, phone: string): Promise<IssuedCode> {
  return session.request<IssuedCode>(`${path(id)}/pairing-code`, { method: "POST", body: { phone } });
}

/** Acts as the simulated phone typing a code it was given for its number. */
export function typePairingCode(session: AuthSession, code: string, phone: string): Promise<{ deviceId: string; linked: boolean }> {
  return session.request("/pairings", { method: "POST", body: { code, phone } });
}
