/**
 * The resource constructors check their arguments in the program, before the Pulumi runtime serializes them
 * (which turns a Date or a BigInt into {}, NaN or a function into null) and before anything is registered.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { mockRegistrations } from "./program-mocks";
import { DeviceCohortReset } from "../../provider/program/cohort-reset";
import { InputError } from "../../provider/shared/errors";
import { loadFleet } from "../../provider/program/fleet-file";
import { checkProgramArgs, DeviceRegistrationReset } from "../../provider/program/device-reset";

const { registered, settle, refusal } = mockRegistrations();

const JSON_RULE = "triggers hold strings, finite numbers, booleans, null, arrays and plain objects";

describe("DeviceRegistrationReset arguments, checked in the program", () => {
  const reset = (args: Record<string, unknown>) => () =>
    new DeviceRegistrationReset("gw", { iotId: "Q7u1", ...args } as never);

  test("valid arguments register the resource with the triggers as given", async () => {
    reset({ triggers: ["rotation-2026-11", { wave: 2 }] })();
    await settle();
    expect(registered.map((r) => r.inputs.triggers)).toEqual([["rotation-2026-11", { wave: 2 }]]);
  });

  test("a Date in triggers is refused, naming its path (the runtime would send {}, so a new date looked unchanged)", async () => {
    const error = await refusal(reset({ triggers: [new Date("2026-11-01")] }));
    expect(error.message).toBe(
      `DeviceRegistrationReset "gw": \`triggers[0]\` is a Date, not plain JSON: ${JSON_RULE}; write the date as a string, e.g. date.toISOString().`,
    );
  });

  test("a BigInt, NaN, Infinity, a function, a Map and undefined in an array are refused, each by path", async () => {
    const error = await refusal(
      reset({
        triggers: { n: BigInt(10), wave: Number.NaN, big: Infinity, f: () => 1, m: new Map(), list: [1, undefined] },
      }),
    );
    expect(error.message).toBe(
      `DeviceRegistrationReset "gw" has 6 problems:\n` +
        `  \`triggers.n\` is the bigint 10n, not plain JSON: ${JSON_RULE}; write it as a string, e.g. String(n)\n` +
        `  \`triggers.wave\` is NaN, not plain JSON: ${JSON_RULE}; use a finite number or a string\n` +
        `  \`triggers.big\` is Infinity, not plain JSON: ${JSON_RULE}; use a finite number or a string\n` +
        `  \`triggers.f\` is a function, not plain JSON: ${JSON_RULE}; remove it\n` +
        `  \`triggers.m\` is a Map, not plain JSON: ${JSON_RULE}; write it as an object, e.g. Object.fromEntries(map)\n` +
        `  \`triggers.list[1]\` is undefined, not plain JSON: ${JSON_RULE}; use null or remove the element`,
    );
  });

  test("a cycle and a class instance are refused", async () => {
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    class Wave {}
    const error = await refusal(reset({ triggers: [loop, new Wave()] }));
    expect(error.message).toBe(
      `DeviceRegistrationReset "gw" has 2 problems:\n` +
        `  \`triggers[0].self\` refers back to a value that contains it (a cycle); ${JSON_RULE}\n` +
        `  \`triggers[1]\` is a Wave, not plain JSON: ${JSON_RULE}; write it as a string or a plain object`,
    );
  });

  test("triggers over 16 KiB as JSON are refused here, not later with a gRPC size error", async () => {
    const error = await refusal(reset({ triggers: ["x".repeat(5_000_000)] }));
    expect(error.message).toBe(
      `DeviceRegistrationReset "gw": \`triggers\` is 5000004 bytes as JSON, over the limit of 16384: triggers are stored in state and compared on every preview; put a hash of large content there instead (e.g. its SHA-256).`,
    );
    expect((await refusal(reset({ triggers: ["x".repeat(16_381)] }))).message).toMatch(/ is 16385 bytes as JSON, /);
  }, 10_000);

  test("the largest accepted triggers (16,384 bytes with brackets and quotes) register", async () => {
    reset({ triggers: ["x".repeat(16_380)] })();
    await settle();
    expect(registered).toHaveLength(1);
  });

  test("arguments the runtime would turn into null, and unknown argument names, are refused", async () => {
    const error = await refusal(
      reset({ iotId: Number.NaN, waitForJob: () => true, productkey: "a1Rel", region: Symbol("r") }),
    );
    expect(error.message).toBe(
      `DeviceRegistrationReset "gw" has 4 problems:\n` +
        "  `productkey` is not an argument of DeviceRegistrationReset; the arguments are productKey, deviceName, iotId, iotInstanceId, region, endpoint, triggers, waitForJob\n" +
        "  `iotId` must be a non-empty string, got NaN\n" +
        "  `region` must be a non-empty string, got a symbol\n" +
        "  `waitForJob` must be a boolean, got a function",
    );
  });

  test("a value inside triggers that resolves later is checked when it resolves", async () => {
    const triggers = checkProgramArgs("gw", {
      iotId: "Q7u1",
      triggers: ["wave-1", Promise.resolve(new Date(0)) as never, pulumi.output(Number.NaN) as never],
    }) as [string, Promise<unknown>, pulumi.Output<unknown>];
    // An Output carries three promises (value, known, secret); all three reject with the refusal.
    const output = triggers[2] as unknown as {
      promise(): Promise<unknown>;
      isKnown: Promise<boolean>;
      isSecret: Promise<boolean>;
    };
    const [outputValue, outputKnown] = await Promise.allSettled([output.promise(), output.isKnown, output.isSecret]);
    expect(triggers[0]).toBe("wave-1");
    await expect(triggers[1]).rejects.toThrow(
      `DeviceRegistrationReset "gw": \`triggers[1]\` is a Date, not plain JSON: ${JSON_RULE}; write the date as a string, e.g. date.toISOString().`,
    );
    const nan = `DeviceRegistrationReset "gw": \`triggers[2]\` is NaN, not plain JSON: ${JSON_RULE}; use a finite number or a string.`;
    expect(outputValue).toEqual({ status: "rejected", reason: new InputError(nan) });
    expect(outputKnown).toEqual({ status: "rejected", reason: new InputError(nan) });
    const fine = checkProgramArgs("gw", { iotId: "Q7u1", triggers: [Promise.resolve("wave-2") as never] }) as [
      Promise<unknown>,
    ];
    await expect(fine[0]).resolves.toBe("wave-2");
  });
});

describe("DeviceCohortReset arguments, checked in the program", () => {
  const pair = (i: number) => ({ productKey: "a1Rel", deviceName: `d-${String(i).padStart(4, "0")}` });
  const fleet = Array.from({ length: 20 }, (_, i) => pair(i));
  const cohort = (args: Record<string, unknown>) => () =>
    new DeviceCohortReset("cams", { devices: fleet, campaign: "c1", stages: [10, 100], stage: 2, ...args } as never);
  const batchDevices = () =>
    registered.filter((r) => r.type.endsWith("DeviceBatchReset")).flatMap((r) => r.inputs.devices as object[]);

  test("valid arguments register the cohort and its batches, with the stage percentages for iot-reset-plan", async () => {
    cohort({})();
    await settle();
    const batches = registered.filter((r) => r.type.endsWith("DeviceBatchReset"));
    expect(batches).toHaveLength(1);
    expect(batches[0]?.inputs.stages).toEqual([10, 100]);
    expect(batchDevices()).toHaveLength(20);
  });

  test("`stage: null` is refused, not read as every stage", async () => {
    const error = await refusal(cohort({ stage: null }));
    expect(error.message).toBe('DeviceCohortReset "cams": `stage` is null; give a whole number from 0 to 2.');
  });

  test("`stages: null` is refused, not read as [100]", async () => {
    const error = await refusal(cohort({ stages: null }));
    expect(error.message).toBe(
      'DeviceCohortReset "cams": `stages` is null; give cumulative percentages such as [1, 10, 100], or leave it out for [100].',
    );
  });

  test('types are named as given: `stage: "2"`, `stages: {}`, a string percentage', async () => {
    expect((await refusal(cohort({ stage: "2" }))).message).toBe(
      'DeviceCohortReset "cams": `stage` must be a whole number from 0 to 2 (how many stages are promoted), got the string "2".',
    );
    expect((await refusal(cohort({ stages: {} }))).message).toBe(
      'DeviceCohortReset "cams": `stages` must be an array of cumulative percentages such as [1, 10, 100], got an object.',
    );
    expect((await refusal(cohort({ stages: [1, "10", 100] }))).message).toBe(
      'DeviceCohortReset "cams": `stages[1]` must be a percentage in (0, 100], got the string "10".',
    );
  });

  test("every numeric argument is range-checked, null refused, integers where meant", async () => {
    const error = await refusal(
      cohort({ batchSize: null, batchCount: 0, maxFailureRatio: null, maxResetsPerUpdate: 1.5, stage: 1.5 }),
    );
    expect(error.message).toBe(
      'DeviceCohortReset "cams" has 5 problems:\n' +
        "  `stage` must be a whole number from 0 to 2 (how many stages are promoted), got the number 1.5\n" +
        "  `batchSize` is null; give a whole number from 1 to 5000, or leave it out\n" +
        "  `batchCount` must be a whole number from 1 to 4096, got the number 0\n" +
        "  `maxFailureRatio` is null; give a number from 0 to 1, or leave it out\n" +
        "  `maxResetsPerUpdate` must be a whole number from 0 to 9007199254740991, got the number 1.5",
    );
    expect((await refusal(cohort({ batchSize: 5001, maxFailureRatio: 1.2 }))).message).toBe(
      'DeviceCohortReset "cams" has 2 problems:\n' +
        "  `batchSize` must be a whole number from 1 to 5000, got the number 5001\n" +
        "  `maxFailureRatio` must be a number from 0 to 1, got the number 1.2",
    );
  });

  test("rollout controls reach every batch only when set, and are refused by name when broken", async () => {
    cohort({})();
    await settle();
    const keys = ["abortCriteria", "notBefore", "notAfter", "maintenanceWindows", "ramp"];
    for (const r of registered.filter((b) => b.type.endsWith("DeviceBatchReset"))) {
      expect(keys.filter((k) => k in r.inputs)).toEqual([]);
    }
    registered.length = 0;
    const controls = {
      abortCriteria: [{ failureType: "any", thresholdPercentage: 10, minExecuted: 20 }],
      notBefore: "2026-12-01T02:00:00Z",
      notAfter: "2026-12-02T02:00:00Z",
      maintenanceWindows: [{ start: "02:00", durationMinutes: 60 }],
      ramp: { baseRatePerMinute: 60, incrementFactor: 2, increaseEveryResets: 10 },
    };
    cohort(controls)();
    await settle();
    const batches = registered.filter((b) => b.type.endsWith("DeviceBatchReset"));
    expect(batches.length).toBeGreaterThan(0);
    for (const b of batches) for (const k of keys) expect(b.inputs[k]).toEqual(controls[k as keyof typeof controls]);
    registered.splice(0);
    expect(
      (
        await refusal(
          cohort({
            ramp: { baseRatePerMinute: NaN, incrementFactor: 2, increaseEveryResets: 10 },
            notAfter: new Date(0),
          }),
        )
      ).message,
    ).toBe(
      'DeviceCohortReset "cams" has 2 problems:\n' +
        "  `notAfter` must be a non-empty string, got a Date\n" +
        "  `ramp.baseRatePerMinute` must be a number greater than 0 and at most 30000, got NaN",
    );
  });

  test("`devices` null, missing or empty is refused; an empty fleet passes with allowEmpty", async () => {
    expect((await refusal(cohort({ devices: null }))).message).toBe(
      'DeviceCohortReset "cams": `devices` is null; give an array of { productKey, deviceName } or { iotId } (see loadFleet).',
    );
    expect((await refusal(cohort({ devices: undefined }))).message).toBe(
      'DeviceCohortReset "cams": `devices` is required: an array of { productKey, deviceName } or { iotId }.',
    );
    expect((await refusal(cohort({ devices: [] }))).message).toBe(
      'DeviceCohortReset "cams": `devices` is empty, so nothing would be reset; an empty fleet is usually a fleet file or a filter gone wrong: pass `allowEmpty: true` when it is expected.',
    );
    cohort({ devices: [], allowEmpty: true })();
    await settle();
    expect(registered.filter((r) => r.type.endsWith("DeviceBatchReset"))).toHaveLength(1);
    expect(batchDevices()).toEqual([]);
  });

  test("`iotId: undefined` is absent: the device is its pair, and only its key reaches the batches", async () => {
    cohort({ devices: fleet.map((d) => ({ ...d, iotId: undefined })) })();
    await settle();
    // A batch lists its devices by key (`productKey/deviceName`): one string per device crosses the engine cheaply.
    expect(batchDevices()).toEqual(expect.arrayContaining(fleet.map((d) => `${d.productKey}/${d.deviceName}`)));
    expect(batchDevices()).toHaveLength(20);
  });

  test("mixing { iotId } and pairs is refused, naming the first of each", async () => {
    const error = await refusal(cohort({ devices: [...fleet, { iotId: "Q7u1" }, { iotId: "Q7u2" }] }));
    expect(error.message).toBe(
      'DeviceCohortReset "cams": `devices` mixes identity forms: devices[0] is named by productKey/deviceName and devices[20] by iotId; one device listed both ways would be reset twice, since the two forms cannot be matched without asking IoT Platform: name every device of a fleet the same way.',
    );
  });

  test("identities damaged on the way are refused, naming the device and what is wrong", async () => {
    const error = await refusal(
      cohort({
        devices: [
          { productKey: "  a1Rel", deviceName: "d-0001" },
          { productKey: '"a1Rel"', deviceName: "d-0002" },
          { productKey: "a1R\ufffdl", deviceName: "d-0003" },
          { productKey: "a1Rel", deviceName: "d-0004\nDevices: 0 reset" },
          { productKey: "a1-Rel", deviceName: "d-0005" },
          { iotId: "Q7u 1" },
        ],
      }),
    );
    expect(error.message).toBe(
      'DeviceCohortReset "cams" has 7 problems:\n' +
        '  `devices[0].productKey` "  a1Rel" has leading or trailing whitespace; remove it\n' +
        '  `devices[1].productKey` "\\"a1Rel\\"" contains a quote, usually CSV quoting kept as part of the value; remove it (loadFleet reads CSV quoting)\n' +
        '  `devices[2].productKey` "a1R\\ufffdl" contains U+FFFD, the character left where bytes were not valid UTF-8; fix the source\'s encoding (save the fleet file as UTF-8)\n' +
        '  `devices[3].deviceName` "d-0004\\nDevices: 0 reset" contains a control character (U+000A); remove it: identities never hold line breaks or control characters\n' +
        '  `devices[4].productKey` "a1-Rel" must be 1 to 20 letters and digits, as IoT Platform issues it\n' +
        '  `devices[5].iotId` "Q7u 1" must be 1 to 64 letters and digits, as IoT Platform issues it\n' +
        "  `devices` mixes identity forms: devices[0] is named by productKey/deviceName and devices[5] by iotId; one device listed both ways would be reset twice, since the two forms cannot be matched without asking IoT Platform: name every device of a fleet the same way",
    );
  });

  test("entries that are not devices, and keys a device does not have, are refused", async () => {
    const error = await refusal(cohort({ devices: [null, { ...pair(1), iotInstanceId: "iot-cn-x" }] }));
    expect(error.message).toBe(
      'DeviceCohortReset "cams" has 2 problems:\n' +
        "  `devices[0]` must be { productKey, deviceName } or { iotId }, got null\n" +
        '  `devices[1]` has unknown key(s) "iotInstanceId"; a device is { productKey, deviceName } or { iotId } (instance, region and endpoint are the cohort\'s)',
    );
  });

  test("errors about devices read by loadFleet name the file and line", async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "cohort-")), "fleet.csv");
    fs.writeFileSync(file, "productKey,deviceName\na1Rel,d-0001\na1Rel,d-0002\n");
    const error = await refusal(cohort({ devices: [...loadFleet(file), pair(2), { iotId: "Q7u1" }] }));
    expect(error.message).toBe(
      'DeviceCohortReset "cams" has 2 problems:\n' +
        `  \`devices[2]\` repeats device a1Rel/d-0002 (devices[1] (${file} line 3))\n` +
        `  \`devices\` mixes identity forms: devices[0] (${file} line 2) is named by productKey/deviceName and devices[3] by iotId; one device listed both ways would be reset twice, since the two forms cannot be matched without asking IoT Platform: name every device of a fleet the same way`,
    );
  });

  test("plain settings are checked too: campaign on one line, region type, endpoint port", async () => {
    const error = await refusal(cohort({ campaign: "c1\nc2", region: 7, endpoint: "https://h:99999" }));
    expect(error.message).toBe(
      'DeviceCohortReset "cams" has 3 problems:\n' +
        '  `campaign` "c1\\nc2" contains a control character (U+000A); a campaign is one line of text\n' +
        "  `region` must be a non-empty string, got the number 7\n" +
        '  `endpoint` "https://h:99999" has port 99999; a port is a whole number from 1 to 65535',
    );
  });
});
