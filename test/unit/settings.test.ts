import { buildCredential, readSettings, resolveTarget } from "../../provider/host/settings";

const settings = (config: Record<string, string>) => readSettings((k) => config[k]);

describe("credential sources, in order (nothing here calls a credential service)", () => {
  test("stack config keys, with an STS token when given", () => {
    expect(buildCredential(settings({ "alicloud:accessKey": "AK", "alicloud:secretKey": "SK" }), {}).getType()).toBe(
      "access_key",
    );
    expect(
      buildCredential(
        settings({ "alicloud:accessKey": "AK", "alicloud:secretKey": "SK", "alicloud:securityToken": "T" }),
        {},
      ).getType(),
    ).toBe("sts");
  });

  test("key, secret and token come from one source: a config key pair ignores a token in the environment", () => {
    const config = settings({ "alicloud:accessKey": "AK", "alicloud:secretKey": "SK" });
    expect(buildCredential(config, { ALICLOUD_SECURITY_TOKEN: "T" }).getType()).toBe("access_key");
    expect(() => buildCredential(settings({}), { ALICLOUD_ACCESS_KEY: "AK" })).toThrow(
      /^Only one half of an AccessKey pair is set \(ALICLOUD_SECRET_KEY is missing\)\./,
    );
  });

  test("the @pulumi/alicloud environment variables", () => {
    expect(buildCredential(settings({}), { ALICLOUD_ACCESS_KEY: "AK", ALICLOUD_SECRET_KEY: "SK" }).getType()).toBe(
      "access_key",
    );
  });

  test("half a key pair is refused, naming the missing key", () => {
    expect(() => buildCredential(settings({ "alicloud:accessKey": "AK" }), {})).toThrow(
      /^Only one half of an AccessKey pair is set \(alicloud:secretKey is missing\)\. Provide credentials in one of these ways:/,
    );
  });

  test("a named ECS RAM role (config or ALICLOUD_ECS_ROLE_NAME) goes to the metadata service, which tests keep disabled", () => {
    // test/setup-env.ts sets ALIBABA_CLOUD_ECS_METADATA_DISABLED, so the SDK refuses before any request.
    const refused =
      /^No usable Alibaba Cloud credentials \(IMDS credentials is disabled\)\. Provide credentials in one of these ways:/;
    expect(() => buildCredential(settings({ "alicloud:ecsRoleName": "pipeline" }), {})).toThrow(refused);
    expect(() => buildCredential(settings({}), { ALICLOUD_ECS_ROLE_NAME: "pipeline" })).toThrow(refused);
  });
});

describe("resolveTarget", () => {
  test("args, then config, then the environment; the default endpoint is the regional HTTPS one", () => {
    expect(resolveTarget({ region: "cn-beijing" }, settings({ "alicloud:region": "cn-shanghai" }), {})).toEqual({
      region: "cn-beijing",
      endpoint: "iot.cn-beijing.aliyuncs.com",
      protocol: "https",
    });
    expect(resolveTarget({}, settings({}), { ALICLOUD_REGION: "cn-hangzhou" }).region).toBe("cn-hangzhou");
    expect(
      resolveTarget({ endpoint: "http://127.0.0.1:9000" }, settings({ "alicloud:region": "cn-shanghai" }), {}),
    ).toEqual({
      region: "cn-shanghai",
      endpoint: "127.0.0.1:9000",
      protocol: "http",
    });
  });
});

describe("exactly-once settings", () => {
  test("iotReset:resendUnknown and iotReset:acceptUnknown take `all` or device keys; none by default", () => {
    expect(settings({}).resendUnknown).toEqual(new Map());
    expect(settings({ "iotReset:resendUnknown": "all" }).resendUnknown).toBe("all");
    expect(settings({ "iotReset:acceptUnknown": " a1/dev-1, iotId:XyZ\na1/dev-2 " }).acceptUnknown).toEqual(
      new Set(["a1/dev-1", "iotId:XyZ", "a1/dev-2"]),
    );
  });

  test("iotReset:resendUnknown names the resend it allows after `#`; anything else after `#` is refused", () => {
    expect(settings({ "iotReset:resendUnknown": "a1/dev-1#2, a1/dev-2 iotId:XyZ#12" }).resendUnknown).toEqual(
      new Map([
        ["a1/dev-1", 2],
        ["a1/dev-2", 1],
        ["iotId:XyZ", 12],
      ]),
    );
    const tail = "Fix it with `pulumi config set iotReset:resendUnknown <devices>`.";
    for (const bad of ["a1/dev-1#0", "a1/dev-1#", "a1/dev-1#2x", "a1/dev-1#-1"]) {
      expect(() => settings({ "iotReset:resendUnknown": `a1/dev-2,${bad}` })).toThrow(
        `Stack config iotReset:resendUnknown names "${bad}": after a device key, \`#\` takes the resend it allows, ` +
          `a whole number from 1 (\`a1Cam/cam-0008#2\` allows the second). ${tail}`,
      );
    }
    expect(() => settings({ "iotReset:acceptUnknown": "a1/dev-1#2" })).toThrow(
      'Stack config iotReset:acceptUnknown names "a1/dev-1#2": a device key holds no `#` (a resend number goes with ' +
        "iotReset:resendUnknown only). Fix it with `pulumi config set iotReset:acceptUnknown <devices>`.",
    );
  });

  test("a device both resent and accepted is refused, naming it", () => {
    expect(() =>
      settings({ "iotReset:resendUnknown": "a1/dev-1,a1/dev-2", "iotReset:acceptUnknown": "a1/dev-2" }),
    ).toThrow(
      "Stack config iotReset:resendUnknown and iotReset:acceptUnknown both name a1/dev-2; a device with an unknown outcome is either sent once more or accepted as reset, not both.",
    );
    expect(() => settings({ "iotReset:resendUnknown": "all", "iotReset:acceptUnknown": "all" })).toThrow(
      "both name all;",
    );
  });

  test("iotReset:journal: a path, a bucket, or `off`; unset means the default file beside the program", () => {
    expect(settings({}).journal).toEqual({ kind: "file" });
    expect(settings({ "iotReset:journal": "off" }).journal).toEqual({ kind: "off" });
    expect(settings({ "iotReset:journal": "/var/cache/iot/journal.jsonl" }).journal).toEqual({
      kind: "file",
      path: "/var/cache/iot/journal.jsonl",
    });
    const s3 =
      "s3://fleet-state/journals/prod?region=eu-central-1&endpoint=http://127.0.0.1:8333&forcePathStyle=true&lease=5";
    expect(settings({ "iotReset:journal": s3 }).journal).toEqual({
      kind: "s3",
      bucket: "fleet-state",
      prefix: "journals/prod",
      region: "eu-central-1",
      endpoint: "http://127.0.0.1:8333",
      pathStyle: true,
      leaseMs: 5_000,
      url: s3,
    });
    expect(settings({ "iotReset:journal": "oss://fleet-state?region=cn-shanghai" }).journal).toEqual({
      kind: "oss",
      bucket: "fleet-state",
      prefix: "",
      region: "cn-shanghai",
      pathStyle: false,
      leaseMs: 30_000,
      url: "oss://fleet-state?region=cn-shanghai",
    });
  });

  test.each([
    ["gs://b/p", `has the scheme gs://; use a file path, s3://bucket/prefix, oss://bucket/prefix or off.`],
    [
      "s3://AKID:secret@fleet-state/p",
      "holds credentials; remove them: the journal's bucket is reached with the default credential chain " +
        "(AWS_ACCESS_KEY_ID, a profile, or a role).",
    ],
    [
      "s3://Fleet_State/p",
      `names the bucket "Fleet_State", which is not a bucket name (3–63 lowercase letters, digits, . or -).`,
    ],
    [
      "oss://fleet-state/p?forcePathStyle=true",
      `has the unknown parameter "forcePathStyle"; oss:// takes region, endpoint, lease.`,
    ],
    [
      "s3://fleet-state/p?accessKeyId=AKID",
      `has the unknown parameter "accessKeyId"; s3:// takes region, endpoint, forcePathStyle, lease.`,
    ],
    ["s3://fleet-state/p?lease=0", "has lease=0; give the lease in seconds, from 1 to 600 (default 30)."],
    [
      "s3://fleet-state/p?endpoint=127.0.0.1:9000",
      "has endpoint=127.0.0.1:9000; give a URL of scheme and host, e.g. https://oss-cn-shanghai.aliyuncs.com.",
    ],
  ])("iotReset:journal %s is refused: %s", (value, why) => {
    expect(() => settings({ "iotReset:journal": value })).toThrow(`Stack config iotReset:journal "${value}" ${why}`);
  });
});
