// The listing APIs through the real SDK: QueryDevice (pages newest first, PageSize up to 50, NextToken past the
// 10,000th device, the deep-page quota), QueryDeviceByStatus and QueryDeviceListByDeviceGroup, with their errors.
import {
  QueryDeviceByStatusRequest,
  QueryDeviceListByDeviceGroupRequest,
  QueryDeviceRequest,
} from "@alicloud/iot20180120";
import { startEmulator, type Emulator } from "../../emulator";
import { validateFleet } from "../../emulator/fleet";
import { sdkClient, sdkError } from "./helpers";

const names = (from: number, to: number, step = -1): string[] => {
  const out: string[] = [];
  for (let i = from; step < 0 ? i >= to : i <= to; i += step) out.push(`dev-${String(i).padStart(5, "0")}`);
  return out;
};

describe("QueryDevice", () => {
  let emu: Emulator;
  // Still, so quotas count one second; near the real time, since the SDK dates its requests with it.
  const instant = Math.floor(Date.now() / 1000) * 1000;
  beforeEach(async () => {
    emu = await startEmulator({
      clock: () => instant,
      fleet: {
        products: [
          { productKey: "a1List", productName: "Listed cameras", generate: { prefix: "dev-", count: 10_120, pad: 5 } },
        ],
        instances: [
          { iotInstanceId: "iot-cn-list", products: [{ productKey: "a1Ent", devices: [{ deviceName: "ent-01" }] }] },
        ],
      },
    });
  });
  afterEach(async () => {
    await emu.stop();
  });

  test("pages are newest first with Total, Page, PageSize, PageCount and a NextToken while more follow", async () => {
    const client = sdkClient(emu);
    const first = await client.queryDevice(
      new QueryDeviceRequest({ productKey: "a1List", pageSize: 50, currentPage: 1 }),
    );
    expect(first.body?.success).toBe(true);
    expect(first.body?.data?.deviceInfo?.map((d) => d.deviceName)).toEqual(names(10_119, 10_070));
    expect([first.body?.total, first.body?.page, first.body?.pageSize, first.body?.pageCount]).toEqual([
      10_120, 1, 50, 203,
    ]);
    expect(first.body?.nextToken).toEqual(expect.any(String));
    const d = first.body?.data?.deviceInfo?.[0];
    expect(d).toMatchObject({
      deviceName: "dev-10119",
      productKey: "a1List",
      deviceStatus: "ONLINE",
      deviceType: "Listed cameras",
      // Beijing time (UTC+8) and UTC, as the reference's examples show.
      gmtCreate: new Date(instant + 8 * 3600_000).toISOString().replace("T", " ").slice(0, 19),
      utcCreate: new Date(instant).toISOString(),
    });
    expect(d?.iotId).toHaveLength(26);
    expect(d?.deviceId).toBe(d?.iotId?.slice(0, -5));
  });

  test("past the 10,000th device a page needs NextToken: without it iot.common.InvalidPageParams", async () => {
    const client = sdkClient(emu);
    const at10000 = await client.queryDevice(
      new QueryDeviceRequest({ productKey: "a1List", pageSize: 50, currentPage: 200 }),
    );
    expect(at10000.body?.data?.deviceInfo?.map((d) => d.deviceName)).toEqual(names(169, 120));
    const beyond = await client.queryDevice(
      new QueryDeviceRequest({ productKey: "a1List", pageSize: 50, currentPage: 201 }),
    );
    expect([beyond.body?.success, beyond.body?.code, beyond.body?.errorMessage]).toEqual([
      false,
      "iot.common.InvalidPageParams",
      "The page size or page number is invalid.",
    ]);
    // From there, each page follows the token of the one before, to the last.
    let token = at10000.body?.nextToken;
    const pages: string[][] = [];
    for (const currentPage of [201, 202, 203]) {
      const res = await client.queryDevice(
        new QueryDeviceRequest({ productKey: "a1List", pageSize: 50, currentPage, nextToken: token }),
      );
      pages.push(res.body?.data?.deviceInfo?.map((d) => d.deviceName ?? "") ?? []);
      token = res.body?.nextToken;
    }
    expect(pages).toEqual([names(119, 70), names(69, 20), names(19, 0)]);
    expect(token).toBeUndefined();
  });

  test("a device created during a listing is not in its later pages, and first in the next listing", async () => {
    const client = sdkClient(emu);
    const first = await client.queryDevice(new QueryDeviceRequest({ productKey: "a1List", pageSize: 50 }));
    emu.addDevices("a1List", [{ deviceName: "dev-new" }]);
    const second = await client.queryDevice(
      new QueryDeviceRequest({ productKey: "a1List", pageSize: 50, currentPage: 2, nextToken: first.body?.nextToken }),
    );
    expect(second.body?.data?.deviceInfo?.map((d) => d.deviceName)).toEqual(names(10_069, 10_020));
    expect(second.body?.total).toBe(10_121);
    const again = await client.queryDevice(new QueryDeviceRequest({ productKey: "a1List", pageSize: 1 }));
    expect(again.body?.data?.deviceInfo?.map((d) => d.deviceName)).toEqual(["dev-new"]);
  });

  test("refusals: PageSize over 50, no ProductKey, an unknown product or instance, another listing's NextToken", async () => {
    const client = sdkClient(emu);
    const codeOf = async (r: QueryDeviceRequest) => (await client.queryDevice(r)).body?.code;
    expect(await codeOf(new QueryDeviceRequest({ productKey: "a1List", pageSize: 51 }))).toBe(
      "iot.common.InvalidPageParams",
    );
    expect(await codeOf(new QueryDeviceRequest({ productKey: "a1List", currentPage: 0 }))).toBe(
      "iot.common.InvalidPageParams",
    );
    expect(await codeOf(new QueryDeviceRequest({}))).toBe("iot.common.InvalidFormattedParameter");
    expect(await codeOf(new QueryDeviceRequest({ productKey: "a1Nope" }))).toBe("iot.prod.NotExistedProduct");
    expect(await codeOf(new QueryDeviceRequest({ productKey: "a1List", iotInstanceId: "iot-cn-nope" }))).toBe(
      "iot.system.InstanceNotFound",
    );
    // A product of an instance is not found without its IotInstanceId.
    expect(await codeOf(new QueryDeviceRequest({ productKey: "a1Ent" }))).toBe("iot.prod.NotExistedProduct");
    const ent = await client.queryDevice(new QueryDeviceRequest({ productKey: "a1Ent", iotInstanceId: "iot-cn-list" }));
    expect(ent.body?.data?.deviceInfo?.map((d) => d.deviceName)).toEqual(["ent-01"]);
    const token = (await client.queryDevice(new QueryDeviceRequest({ productKey: "a1List" }))).body?.nextToken;
    expect(
      await codeOf(new QueryDeviceRequest({ productKey: "a1Ent", iotInstanceId: "iot-cn-list", nextToken: token })),
    ).toBe("iot.common.InvalidFormattedParameter");
    expect(await codeOf(new QueryDeviceRequest({ productKey: "a1List", nextToken: "not-a-token" }))).toBe(
      "iot.common.InvalidFormattedParameter",
    );
  });

  test("quotas: 50 calls a second, and 2 a second for pages from the 100,000th device, counted apart", async () => {
    // The clock stands still: every call falls in the same second.
    const client = sdkClient(emu);
    const token = (await client.queryDevice(new QueryDeviceRequest({ productKey: "a1List", pageSize: 50 }))).body
      ?.nextToken;
    const deep = () =>
      client.queryDevice(
        new QueryDeviceRequest({ productKey: "a1List", pageSize: 50, currentPage: 2000, nextToken: token }),
      );
    expect((await deep()).body?.success).toBe(true);
    expect((await deep()).body?.success).toBe(true);
    const third = await sdkError(deep());
    expect([third.statusCode, third.code]).toEqual([400, "Throttling.User"]);
    // Page 1999 (99,950 devices) still counts against the 50: one call is used, 49 more pass, then throttled.
    const shallow = () =>
      client.queryDevice(
        new QueryDeviceRequest({ productKey: "a1List", pageSize: 50, currentPage: 1999, nextToken: token }),
      );
    for (let i = 0; i < 49; i++) expect((await shallow()).body?.success).toBe(true);
    expect((await sdkError(shallow())).code).toBe("Throttling.User");
    expect([emu.quota("QueryDevice"), emu.quota("QueryDeviceDeepPage")]).toEqual([50, 2]);
    expect(emu.requests({ outcome: "throttled" }).map((r) => r.params["CurrentPage"])).toEqual(["2000", "1999"]);
  });
});

describe("QueryDeviceByStatus and QueryDeviceListByDeviceGroup", () => {
  let emu: Emulator;
  beforeEach(async () => {
    emu = await startEmulator({
      fleet: {
        products: [
          {
            productKey: "a1Mixed",
            devices: [
              { deviceName: "on-1", groups: ["grpNorth"] },
              { deviceName: "off-1", status: "OFFLINE", groups: ["grpNorth", "grpSouth"] },
              { deviceName: "new-1", activated: false },
              { deviceName: "dis-1", status: "DISABLE" },
              { deviceName: "on-2" },
            ],
            generate: { prefix: "north-", count: 12, pad: 2, groups: ["grpNorth"] },
          },
          { productKey: "a1Other", devices: [{ deviceName: "other-on" }] },
        ],
      },
    });
  });
  afterEach(async () => {
    await emu.stop();
  });

  test("QueryDeviceByStatus lists one status (1 online, 3 offline, 0 inactive, 8 disabled), newest first", async () => {
    const client = sdkClient(emu);
    const by = async (status: number, productKey?: string) => {
      const res = await client.queryDeviceByStatus(
        new QueryDeviceByStatusRequest({ status, pageSize: 50, ...(productKey ? { productKey } : {}) }),
      );
      return res.body?.data?.simpleDeviceInfo?.map((d) => `${d.deviceName}:${d.status}`);
    };
    expect(await by(3, "a1Mixed")).toEqual(["off-1:OFFLINE"]);
    expect(await by(0, "a1Mixed")).toEqual(["new-1:UNACTIVE"]);
    expect(await by(8, "a1Mixed")).toEqual(["dis-1:DISABLE"]);
    const online = await client.queryDeviceByStatus(
      new QueryDeviceByStatusRequest({ status: 1, productKey: "a1Mixed", pageSize: 5, currentPage: 3 }),
    );
    expect(online.body?.data?.simpleDeviceInfo?.map((d) => d.deviceName)).toEqual([
      "north-01",
      "north-00",
      "on-2",
      "on-1",
    ]);
    expect([online.body?.total, online.body?.page, online.body?.pageSize, online.body?.pageCount]).toEqual([
      14, 3, 5, 3,
    ]);
    // Without ProductKey: the whole instance.
    expect(await by(1)).toEqual(expect.arrayContaining(["other-on:ONLINE", "on-1:ONLINE"]));
    const bad = await client.queryDeviceByStatus(new QueryDeviceByStatusRequest({ status: 2 }));
    expect([bad.body?.success, bad.body?.code]).toEqual([false, "iot.common.InvalidFormattedParameter"]);
  });

  test("QueryDeviceListByDeviceGroup lists a group's members in the order they joined; an unknown group is refused", async () => {
    const client = sdkClient(emu);
    const south = await client.queryDeviceListByDeviceGroup(
      new QueryDeviceListByDeviceGroupRequest({ groupId: "grpSouth" }),
    );
    expect(south.body?.data?.simpleDeviceInfo).toEqual([
      expect.objectContaining({
        deviceName: "off-1",
        productKey: "a1Mixed",
        productName: "a1Mixed",
        iotId: expect.any(String),
      }),
    ]);
    const north = await client.queryDeviceListByDeviceGroup(
      new QueryDeviceListByDeviceGroupRequest({ groupId: "grpNorth", pageSize: 10, currentPage: 2 }),
    );
    expect(north.body?.data?.simpleDeviceInfo?.map((d) => d.deviceName)).toEqual([
      "north-08",
      "north-09",
      "north-10",
      "north-11",
    ]);
    expect([north.body?.total, north.body?.pageCount]).toEqual([14, 2]);
    const unknown = await client.queryDeviceListByDeviceGroup(
      new QueryDeviceListByDeviceGroupRequest({ groupId: "grpNope" }),
    );
    expect([unknown.body?.success, unknown.body?.code, unknown.body?.errorMessage]).toEqual([
      false,
      "iot.group.NotExistedGroup",
      "The group does not exist.",
    ]);
    expect(emu.quota("QueryDeviceListByDeviceGroup")).toBe(5);
  });

  test("a fleet's groups must be arrays of group IDs; the error names the path", () => {
    expect(() =>
      validateFleet(
        { products: [{ productKey: "a1X", devices: [{ deviceName: "dev-1", groups: "grpA" }] }] },
        "f.json",
      ),
    ).toThrow(
      "f.json: `products[0].devices[0].groups` must be an array of group IDs, each 1-64 letters, digits, `_` or `-`",
    );
  });
});
