// ACS3-HMAC-SHA256 as the gateway checks it: the published V3 example, agreement with the SDK's own
// signer, and each signature failure with its real HTTP status, Code and wording (hand-forged requests).
import OpenApiUtil from "@alicloud/openapi-util";
import { ResetThingRequest } from "@alicloud/iot20180120";
import { startEmulator, type Emulator } from "../../emulator";
import {
  EMPTY_PAYLOAD_SHA256,
  canonicalRequest,
  parseAuthorization,
  parseQueryString,
  sha256Hex,
  signRequest,
  stringToSign,
} from "../../emulator/signature";
import { acsDate, forge, sdkClient, sdkError } from "./helpers";

describe("signature module", () => {
  test("reproduces Alibaba Cloud's published V3 signature example", () => {
    const signed = signRequest(
      {
        method: "POST",
        pathname: "/",
        query: parseQueryString("ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai"),
        headers: {
          host: "ecs.cn-shanghai.aliyuncs.com",
          "x-acs-action": "RunInstances",
          "x-acs-version": "2014-05-26",
          "x-acs-date": "2023-10-26T10:22:32Z",
          "x-acs-signature-nonce": "3156853299f313e23d1673dc12e1703d",
          "x-acs-content-sha256": EMPTY_PAYLOAD_SHA256,
        },
        hashedPayload: EMPTY_PAYLOAD_SHA256,
      },
      "YourAccessKeyId",
      "YourAccessKeySecret",
    );
    expect(signed.signature).toBe("06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0");
    expect(signed.authorization).toBe(
      "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0",
    );
    expect(sha256Hex("")).toBe(EMPTY_PAYLOAD_SHA256);
  });

  test("agrees with the SDK's signer (@alicloud/openapi-util) on a query that needs percent-encoding", () => {
    const request = {
      method: "POST",
      pathname: "/",
      query: { DeviceName: "dev (1)*!'~ é", ProductKey: "a1Key", IotInstanceId: "iot-cn-x" },
      headers: {
        host: "127.0.0.1:8127",
        "x-acs-action": "ResetThing",
        "x-acs-version": "2018-01-20",
        "x-acs-date": "2024-01-01T00:00:00Z",
        "x-acs-signature-nonce": "abc",
        "x-acs-content-sha256": EMPTY_PAYLOAD_SHA256,
        "user-agent": "not signed",
        accept: "application/json",
      } as Record<string, string>,
    };
    const sdk = OpenApiUtil.getAuthorization(
      request as never,
      "ACS3-HMAC-SHA256",
      EMPTY_PAYLOAD_SHA256,
      "AKID",
      "secret",
    );
    expect(signRequest({ ...request, hashedPayload: EMPTY_PAYLOAD_SHA256 }, "AKID", "secret").authorization).toBe(sdk);
  });

  test("parseAuthorization reads the three parts and refuses anything else", () => {
    expect(parseAuthorization("ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host;x-acs-date,Signature=ff")).toEqual({
      accessKeyId: "AK",
      signedHeaders: ["host", "x-acs-date"],
      signature: "ff",
    });
    expect(parseAuthorization("ACS3-HMAC-SHA256 Credential=AK,Signature=ff")).toBeUndefined();
    expect(parseAuthorization("acs AK:sig")).toBeUndefined();
    expect(parseAuthorization(undefined)).toBeUndefined();
  });
});

describe("gateway signature checks", () => {
  let emu: Emulator;
  beforeEach(async () => {
    emu = await startEmulator();
  });
  afterEach(async () => {
    await emu.stop();
  });

  const gatewayBody = (code: string, message: string) =>
    expect.objectContaining({
      Code: code,
      Message: message,
      HostId: new URL(emu.endpoint).host,
      RequestId: expect.stringMatching(/^[0-9A-F-]{36}$/),
      Recommend: expect.stringContaining(`q=${code}`),
    });

  test("a correctly forged request succeeds (the baseline of the cases below)", async () => {
    const res = await forge(emu);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ Success: true });
  });

  test("a wrong secret is 400 SignatureDoesNotMatch showing the server's StringToSign", async () => {
    const date = acsDate();
    const nonce = "nonce-wrong-secret";
    const res = await forge(emu, { accessKeySecret: "not-the-secret", date, nonce });
    const host = new URL(emu.endpoint).host;
    const expectedToSign = stringToSign(
      canonicalRequest({
        method: "POST",
        pathname: "/",
        query: { ProductKey: "a1DemoProduct", DeviceName: "sensor-001" },
        headers: {
          host,
          "x-acs-action": "ResetThing",
          "x-acs-version": "2018-01-20",
          "x-acs-date": date,
          "x-acs-signature-nonce": nonce,
          "x-acs-content-sha256": EMPTY_PAYLOAD_SHA256,
        },
        signedHeaders: [
          "host",
          "x-acs-action",
          "x-acs-content-sha256",
          "x-acs-date",
          "x-acs-signature-nonce",
          "x-acs-version",
        ],
        hashedPayload: EMPTY_PAYLOAD_SHA256,
      }),
    );
    expect(res.status).toBe(400);
    expect(res.body).toEqual(
      gatewayBody(
        "SignatureDoesNotMatch",
        `Specified signature does not match our calculation. server StringToSign is [${expectedToSign}]`,
      ),
    );
    expect(emu.totalResets()).toBe(0);
  });

  test("the SDK with a wrong secret throws SignatureDoesNotMatch with status 400", async () => {
    const err = await sdkError(
      sdkClient(emu, { accessKeySecret: "wrong" }).resetThing(
        new ResetThingRequest({ productKey: "a1DemoProduct", deviceName: "sensor-001" }),
      ),
    );
    expect(err.statusCode).toBe(400);
    expect(err.code).toBe("SignatureDoesNotMatch");
    expect(err.data.Message).toMatch(
      /^Specified signature does not match our calculation\. server StringToSign is \[ACS3-HMAC-SHA256\n[0-9a-f]{64}\]$/,
    );
  });

  test("an unknown AccessKey ID is 404 InvalidAccessKeyId.NotFound", async () => {
    const res = await forge(emu, { accessKeyId: "LTAIUnknownKey" });
    expect(res.status).toBe(404);
    expect(res.body).toEqual(gatewayBody("InvalidAccessKeyId.NotFound", "Specified access key is not found."));
  });

  test("an x-acs-content-sha256 that does not describe the body is 400 SignatureDoesNotMatch", async () => {
    const body = "ProductKey=a1DemoProduct&DeviceName=sensor-002";
    const ok = await forge(emu, { query: {}, body });
    expect(ok.status).toBe(200);
    expect(emu.resetCount({ productKey: "a1DemoProduct", deviceName: "sensor-002" })).toBe(1);
    const res = await forge(emu, {
      query: {},
      body,
      contentSha256: sha256Hex("ProductKey=a1DemoProduct&DeviceName=sensor-003"),
    });
    expect(res.status).toBe(400);
    expect(res.body["Code"]).toBe("SignatureDoesNotMatch");
    expect(emu.resetCount({ productKey: "a1DemoProduct", deviceName: "sensor-003" })).toBe(0);
  });

  test("an x-acs-date more than 15 minutes off is 400 InvalidTimeStamp.Expired; 14 minutes is accepted", async () => {
    const stale = await forge(emu, { date: acsDate(Date.now() - 16 * 60_000) });
    expect(stale.status).toBe(400);
    expect(stale.body).toEqual(
      gatewayBody("InvalidTimeStamp.Expired", "Specified time stamp or date value is expired."),
    );
    const future = await forge(emu, { date: acsDate(Date.now() + 16 * 60_000) });
    expect(future.body["Code"]).toBe("InvalidTimeStamp.Expired");
    const near = await forge(emu, { date: acsDate(Date.now() - 14 * 60_000) });
    expect(near.status).toBe(200);
  });

  test("a malformed x-acs-date is 400 InvalidTimeStamp.Format", async () => {
    const res = await forge(emu, { date: "Mon, 01 Jan 2024 00:00:00 GMT" });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(
      gatewayBody("InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted."),
    );
  });

  test("a reused x-acs-signature-nonce is 400 SignatureNonceUsed and does not reset again", async () => {
    const first = await forge(emu, { nonce: "replayed-nonce-1" });
    expect(first.status).toBe(200);
    const replay = await forge(emu, { nonce: "replayed-nonce-1" });
    expect(replay.status).toBe(400);
    expect(replay.body).toEqual(gatewayBody("SignatureNonceUsed", "Specified signature nonce was used already."));
    expect(emu.resetCount({ productKey: "a1DemoProduct", deviceName: "sensor-001" })).toBe(1);
  });

  test("a missing or non-ACS3 Authorization is 400 IncompleteSignature", async () => {
    for (const authorization of [
      "",
      "acs LTAIEmulatorTestKey01:abc",
      "ACS3-HMAC-SHA256 Credential=LTAIEmulatorTestKey01,Signature=00",
    ]) {
      const res = await forge(emu, { authorization });
      expect(res.status).toBe(400);
      expect(res.body).toEqual(
        gatewayBody("IncompleteSignature", "The request signature does not conform to Aliyun standards."),
      );
    }
  });

  test("an unknown action is 404 InvalidAction.NotFound and a wrong version 400 InvalidVersion", async () => {
    const action = await forge(emu, { action: "DeleteEverything" });
    expect(action.status).toBe(404);
    expect(action.body).toEqual(
      gatewayBody("InvalidAction.NotFound", "Specified api is not found, please check your url and method."),
    );
    const version = await forge(emu, { version: "2017-01-01" });
    expect(version.status).toBe(400);
    expect(version.body).toEqual(gatewayBody("InvalidVersion", "Specified parameter Version is not valid."));
  });

  test("every refusal is recorded as auth-error with its status and Code", async () => {
    await forge(emu, { accessKeyId: "LTAIUnknownKey" });
    await forge(emu, { nonce: "n1" });
    await forge(emu, { nonce: "n1" });
    expect(emu.requests().map((r) => [r.outcome, r.httpStatus, r.code ?? null, r.accessKeyId])).toEqual([
      ["auth-error", 404, "InvalidAccessKeyId.NotFound", "LTAIUnknownKey"],
      ["success", 200, null, "LTAIEmulatorTestKey01"],
      ["auth-error", 400, "SignatureNonceUsed", "LTAIEmulatorTestKey01"],
    ]);
  });
});
