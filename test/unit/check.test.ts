import { check } from "../../provider/device";
import { parseEndpoint, UNKNOWN } from "../../provider/inputs";

const failuresOf = (news: Record<string, unknown>) => check({}, news).failures;

describe("DeviceRegistrationReset check", () => {
  test("accepts a ProductKey+DeviceName pair and an IotId alone", () => {
    expect(failuresOf({ productKey: "a1Demo", deviceName: "sensor-001" })).toEqual([]);
    expect(failuresOf({ iotId: "Q7uOhVRdZRRlDnTLv0000100" })).toEqual([]);
  });

  test("accepts both identities: the API resets by IotId", () => {
    expect(failuresOf({ iotId: "Q7u", productKey: "a1Demo", deviceName: "sensor-001" })).toEqual([]);
  });

  test("names the missing half of the pair", () => {
    expect(failuresOf({ productKey: "a1Demo" })).toEqual([
      { property: "deviceName", reason: "deviceName is required with productKey (or give iotId instead)" },
    ]);
    expect(failuresOf({ deviceName: "sensor-001" })).toEqual([
      { property: "productKey", reason: "productKey is required with deviceName (or give iotId instead)" },
    ]);
  });

  test("refuses a resource with no identity", () => {
    expect(failuresOf({})).toEqual([
      { property: "iotId", reason: "a device needs either iotId or both productKey and deviceName" },
    ]);
  });

  test.each([
    ["abc", false],
    ["abcd", true],
    ["a".repeat(32), true],
    ["a".repeat(33), false],
    ["dev-1_x@y.z:9", true],
    ["dev 1", false],
    ["dev/1", false],
  ])("DeviceName %j valid: %s", (deviceName, valid) => {
    const failures = failuresOf({ productKey: "a1Demo", deviceName });
    expect(failures).toEqual(
      valid
        ? []
        : [
            {
              property: "deviceName",
              reason: `"${deviceName}" must be 4 to 32 characters of letters, digits and -_@.:`,
            },
          ],
    );
  });

  test("refuses empty strings and non-strings, naming the property", () => {
    expect(failuresOf({ iotId: "" })).toEqual([{ property: "iotId", reason: "must be a non-empty string" }]);
    expect(failuresOf({ iotId: "x1", iotInstanceId: " " })).toEqual([
      { property: "iotInstanceId", reason: "must be a non-empty string" },
    ]);
    expect(failuresOf({ iotId: "x1", region: 7 })).toEqual([
      { property: "region", reason: "must be a non-empty string" },
    ]);
    expect(failuresOf({ iotId: "x1", region: "Shanghai" })).toEqual([
      { property: "region", reason: '"Shanghai" is not a region ID such as cn-shanghai' },
    ]);
    expect(failuresOf({ iotId: "x1", waitForJob: "yes" })).toEqual([
      { property: "waitForJob", reason: "must be a boolean" },
    ]);
  });

  test("plain http only to a loopback endpoint", () => {
    expect(failuresOf({ iotId: "x1", endpoint: "http://127.0.0.1:8127" })).toEqual([]);
    expect(failuresOf({ iotId: "x1", endpoint: "http://localhost:8127" })).toEqual([]);
    expect(failuresOf({ iotId: "x1", endpoint: "iot.cn-shanghai.aliyuncs.com" })).toEqual([]);
    expect(failuresOf({ iotId: "x1", endpoint: "https://iot.cn-shanghai.aliyuncs.com:443" })).toEqual([]);
    expect(failuresOf({ iotId: "x1", endpoint: "http://iot.cn-shanghai.aliyuncs.com" })).toEqual([
      {
        property: "endpoint",
        reason:
          '"http://iot.cn-shanghai.aliyuncs.com" uses plain http:// to "iot.cn-shanghai.aliyuncs.com"; plain HTTP is only allowed to a loopback address (a local emulator): use https:// or host[:port]',
      },
    ]);
    expect(failuresOf({ iotId: "x1", endpoint: "https://host/path" })).toEqual([
      {
        property: "endpoint",
        reason:
          '"https://host/path" must be host[:port] or an http(s):// URL with no path, e.g. iot.cn-shanghai.aliyuncs.com',
      },
    ]);
    expect(parseEndpoint("http://[::1]:9000")).toEqual({ host: "[::1]:9000", protocol: "http" });
    expect(parseEndpoint("iot.cn-shanghai.aliyuncs.com")).toEqual({
      host: "iot.cn-shanghai.aliyuncs.com",
      protocol: "https",
    });
  });

  test("triggers must be JSON values", () => {
    expect(failuresOf({ iotId: "x1", triggers: ["rotation-2026-11", 3, { batch: "a" }] })).toEqual([]);
    expect(failuresOf({ iotId: "x1", triggers: [Number.NaN] })).toEqual([
      { property: "triggers", reason: "must be JSON-serializable values" },
    ]);
  });

  test("unknown values during preview pass every rule", () => {
    expect(
      failuresOf({
        iotId: UNKNOWN,
        productKey: UNKNOWN,
        deviceName: UNKNOWN,
        iotInstanceId: UNKNOWN,
        region: UNKNOWN,
        endpoint: UNKNOWN,
        triggers: [UNKNOWN],
        waitForJob: UNKNOWN,
      }),
    ).toEqual([]);
    expect(failuresOf({ productKey: UNKNOWN, deviceName: UNKNOWN })).toEqual([]);
  });
});
