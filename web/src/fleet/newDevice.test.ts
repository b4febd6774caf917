import { describe, expect, it } from "vitest";
import { emptyDeviceForm, formProblems, newDeviceBody, parseContacts } from "./newDevice";

describe("new device form", () => {
  it("reads simulated contacts one a line, behaviour last", () => {
    expect(parseContacts("1@c.us Alice Smith echo\n\n 2@c.us  Bob \n3@c.us silent")).toEqual([
      { id: "1@c.us", name: "Alice Smith", behaviour: "echo" },
      { id: "2@c.us", name: "Bob", behaviour: "echo" },
      { id: "3@c.us", name: "3@c.us", behaviour: "silent" },
    ]);
  });

  it("checks the id and each connector's required settings", () => {
    expect(formProblems({ ...emptyDeviceForm, id: "Shop 1" })).toHaveLength(1);
    expect(formProblems({ ...emptyDeviceForm, id: "shop-1" })).toEqual([]);
    expect(formProblems({ ...emptyDeviceForm, id: "sales", connector: "waha" })).toHaveLength(2);
    expect(formProblems({ ...emptyDeviceForm, id: "support", connector: "cloud_api" })).toHaveLength(4);
  });

  it("sends only the chosen connector's table, without empty optional fields", () => {
    const body = newDeviceBody({
      ...emptyDeviceForm,
      id: "sales",
      connector: "waha",
      wahaBaseUrl: " http://localhost:3001 ",
      wahaWebhookSecret: "s3cret",
      wahaSession: "",
    });
    expect(body).toEqual({
      id: "sales",
      name: "sales",
      connector: "waha",
      waha: { base_url: "http://localhost:3001", webhook_secret: "s3cret" },
    });
  });
});
