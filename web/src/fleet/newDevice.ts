import type { NewDevice, SimulatedContact } from "../api/devices";
import type { ConnectorKind } from "../api/types";

/** What the "add a device" form holds: every connector's fields, as typed. */
export interface DeviceForm {
  id: string;
  name: string;
  connector: ConnectorKind;
  simulatorPhone: string;
  /** One contact a line: `<chat id> <name…> [echo|silent|slow_reader]`. */
  simulatorContacts: string;
  wahaBaseUrl: string;
  wahaApiKey: string;
  wahaSession: string;
  wahaWebhookSecret: string;
  cloudPhoneNumberId: string;
  cloudAccessToken: string;
  cloudAppSecret: string;
  cloudVerifyToken: string;
  cloudGraphUrl: string;
}

export const emptyDeviceForm: DeviceForm = {
  id: "",
  name: "",
  connector: "simulator",
  simulatorPhone: "",
  simulatorContacts: "15550000002@c.us Alice echo\n15550000003@c.us Bob slow_reader",
  wahaBaseUrl: "",
  wahaApiKey: "",
  wahaSession: "default",
  wahaWebhookSecret: "",
  cloudPhoneNumberId: "",
  cloudAccessToken: "",
  cloudAppSecret: "",
  cloudVerifyToken: "",
  cloudGraphUrl: "",
};

const DEVICE_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

const BEHAVIOURS = ["echo", "silent", "slow_reader"] as const;

export function parseContacts(text: string): SimulatedContact[] {
  return text
    .split("\n")
    .map((line) => line.trim().split(/\s+/).filter(Boolean))
    .filter((words) => words.length > 0)
    .map(([id = "", ...rest]) => {
      const last = rest[rest.length - 1];
      const behaviour = BEHAVIOURS.find((b) => b === last);
      const nameWords = behaviour ? rest.slice(0, -1) : rest;
      return { id, name: nameWords.join(" ") || id, behaviour: behaviour ?? "echo" };
    });
}

/** The form's problems, in the words shown beside it; empty when it can be sent. */
export function formProblems(form: DeviceForm): string[] {
  const problems: string[] = [];
  if (!DEVICE_ID_PATTERN.test(form.id)) {
    problems.push("The id is 1–64 lowercase letters, digits, - or _, starting with a letter or digit.");
  }
  const required: [string, string][] =
    form.connector === "waha"
      ? [[form.wahaBaseUrl, "WAHA's URL"], [form.wahaWebhookSecret, "the webhook secret"]]
      : form.connector === "cloud_api"
        ? [
            [form.cloudPhoneNumberId, "the phone number id"],
            [form.cloudAccessToken, "the access token"],
            [form.cloudAppSecret, "the app secret"],
            [form.cloudVerifyToken, "the verify token"],
          ]
        : [];
  for (const [value, label] of required) if (!value.trim()) problems.push(`Fill in ${label}.`);
  return problems;
}

/** The body of `POST /api/v1/devices`; optional fields left empty are left out. */
export function newDeviceBody(form: DeviceForm): NewDevice {
  const base = { id: form.id, name: form.name.trim() || form.id, connector: form.connector };
  const optional = (value: string) => (value.trim() ? value.trim() : undefined);
  switch (form.connector) {
    case "simulator":
      return {
        ...base,
        simulator: {
          ...(optional(form.simulatorPhone) && { phone: form.simulatorPhone.trim() }),
          contacts: parseContacts(form.simulatorContacts),
        },
      };
    case "waha":
      return {
        ...base,
        waha: {
          base_url: form.wahaBaseUrl.trim(),
          webhook_secret: form.wahaWebhookSecret,
          ...(optional(form.wahaApiKey) && { api_key: form.wahaApiKey }),
          ...(optional(form.wahaSession) && { session: form.wahaSession.trim() }),
        },
      };
    case "cloud_api":
      return {
        ...base,
        cloud_api: {
          phone_number_id: form.cloudPhoneNumberId.trim(),
          access_token: form.cloudAccessToken,
          app_secret: form.cloudAppSecret,
          verify_token: form.cloudVerifyToken,
          ...(optional(form.cloudGraphUrl) && { graph_url: form.cloudGraphUrl.trim() }),
        },
      };
  }
}
