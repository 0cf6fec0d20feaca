import { check } from "../../provider/host/device-reset";
import { parseEndpoint, UNKNOWN } from "../../provider/shared/inputs";

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
      { property: "region", reason: "must be a non-empty string, got the number 7" },
    ]);
    expect(failuresOf({ productKey: null, deviceName: "sensor-001" })).toEqual([
      { property: "productKey", reason: "must be a non-empty string, got null" },
    ]);
    expect(failuresOf({ iotId: "x1", region: "Shanghai" })).toEqual([
      { property: "region", reason: '"Shanghai" is not a region ID such as cn-shanghai' },
    ]);
    expect(failuresOf({ iotId: "x1", waitForJob: "yes" })).toEqual([
      { property: "waitForJob", reason: 'must be a boolean, got the string "yes"' },
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

  test("triggers must be plain JSON, each failure named by its path, at most 16 KiB", () => {
    expect(failuresOf({ iotId: "x1", triggers: ["rotation-2026-11", 3, { batch: "a" }] })).toEqual([]);
    expect(failuresOf({ iotId: "x1", triggers: [Number.NaN, { at: new Date(0) }] })).toEqual([
      {
        property: "triggers[0]",
        reason:
          "is NaN, not plain JSON: triggers hold strings, finite numbers, booleans, null, arrays and plain objects; use a finite number or a string",
      },
      {
        property: "triggers[1].at",
        reason:
          "is a Date, not plain JSON: triggers hold strings, finite numbers, booleans, null, arrays and plain objects; write the date as a string, e.g. date.toISOString()",
      },
    ]);
    expect(failuresOf({ iotId: "x1", triggers: { "a b": "x".repeat(16_380) } })).toEqual([
      {
        property: "triggers",
        reason:
          "is 16390 bytes as JSON, over the limit of 16384: triggers are stored in state and compared on every preview; put a hash of large content there instead (e.g. its SHA-256)",
      },
    ]);
    const deep = JSON.parse("[".repeat(33) + "]".repeat(33));
    expect(failuresOf({ iotId: "x1", triggers: deep })).toEqual([
      { property: `triggers${"[0]".repeat(32)}`, reason: "is nested more than 32 levels deep; flatten it" },
    ]);
  });

  test("endpoint ports are 1 to 65535", () => {
    expect(failuresOf({ iotId: "x1", endpoint: "http://127.0.0.1:65535" })).toEqual([]);
    expect(failuresOf({ iotId: "x1", endpoint: "iot.cn-shanghai.aliyuncs.com:99999" })).toEqual([
      {
        property: "endpoint",
        reason: '"iot.cn-shanghai.aliyuncs.com:99999" has port 99999; a port is a whole number from 1 to 65535',
      },
    ]);
    expect(failuresOf({ iotId: "x1", endpoint: "http://127.0.0.1:0" })).toEqual([
      { property: "endpoint", reason: '"http://127.0.0.1:0" has port 0; a port is a whole number from 1 to 65535' },
    ]);
  });

  test.each([
    ["productKey", "a1BwAGV1234", undefined],
    ["productKey", "a".repeat(20), undefined],
    [
      "productKey",
      "a".repeat(21),
      '"aaaaaaaaaaaaaaaaaaaaa" must be 1 to 20 letters and digits, as IoT Platform issues it',
    ],
    ["productKey", " a1Rel", '" a1Rel" has leading or trailing whitespace; remove it'],
    ["productKey", "a1Rel\t", '"a1Rel\\t" has leading or trailing whitespace; remove it'],
    [
      "productKey",
      '"a1Rel"',
      '"\\"a1Rel\\"" contains a quote, usually CSV quoting kept as part of the value; remove it (loadFleet reads CSV quoting)',
    ],
    [
      "productKey",
      "a1R\ufffdl",
      '"a1R\\ufffdl" contains U+FFFD, the character left where bytes were not valid UTF-8; fix the source\'s encoding (save the fleet file as UTF-8)',
    ],
    ["productKey", "a1_Rel", '"a1_Rel" must be 1 to 20 letters and digits, as IoT Platform issues it'],
    [
      "deviceName",
      "cam-1\nDevices: 0 reset",
      '"cam-1\\nDevices: 0 reset" contains a control character (U+000A); remove it: identities never hold line breaks or control characters',
    ],
    ["deviceName", "cam\u202e1-0", '"cam\\u202e1-0" must be 4 to 32 characters of letters, digits and -_@.:'],
    ["iotId", "Q7uOhVRdZRRlDnTLv0000100", undefined],
    ["iotId", "iotId:Q7u", '"iotId:Q7u" must be 1 to 64 letters and digits, as IoT Platform issues it'],
    [
      "iotId",
      "Q7u\u0000",
      '"Q7u\\u0000" contains a control character (U+0000); remove it: identities never hold line breaks or control characters',
    ],
    ["iotInstanceId", "iot-cn-0pp1n8t", undefined],
    ["iotInstanceId", "iot_instc_pu1_c0-v64", undefined],
    ["iotInstanceId", "iot cn", '"iot cn" must be 1 to 64 letters, digits, - and _, e.g. iot-cn-0pp1n8t'],
  ])("%s %j: %s", (property, value, reason) => {
    const base: Record<string, unknown> =
      property === "iotId"
        ? {}
        : property === "iotInstanceId"
          ? { iotId: "Q7u" }
          : { productKey: "a1Demo", deviceName: "sensor-001" };
    expect(failuresOf({ ...base, [property]: value })).toEqual(reason === undefined ? [] : [{ property, reason }]);
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
