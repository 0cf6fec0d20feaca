import { check } from "../../provider/host/batch-reset";
import { UNKNOWN } from "../../provider/shared/inputs";

const batch = (extra: Record<string, unknown>) =>
  check({}, { campaign: "c1", devices: [{ productKey: "a1Demo", deviceName: "sensor-001" }], ...extra }).failures;

describe("rollout controls: check", () => {
  test("accepts every control well formed, and unknown values during preview", () => {
    expect(
      batch({
        abortCriteria: [
          { failureType: "businessError", thresholdPercentage: 10, minExecuted: 20 },
          { failureType: "any", thresholdPercentage: 100, minExecuted: 1 },
        ],
        notBefore: "2026-12-01T10:00:00+08:00",
        notAfter: "2026-12-01T02:00:01.5Z",
        maintenanceWindows: [
          { start: "23:30", durationMinutes: 1440, days: ["Sat", "Sun"] },
          { start: "00:00", durationMinutes: 1 },
        ],
        ramp: { baseRatePerMinute: 60, incrementFactor: 1.5, increaseEveryResets: 100 },
      }),
    ).toEqual([]);
    expect(batch({ abortCriteria: UNKNOWN, notBefore: UNKNOWN, ramp: UNKNOWN, maintenanceWindows: [UNKNOWN] })).toEqual(
      [],
    );
  });

  test("names each broken rule of the abort criteria", () => {
    expect(
      batch({
        abortCriteria: [
          { failureType: "FAILED", thresholdPercentage: 0, minExecuted: 0 },
          { failureType: "any", thresholdPercentage: 101 },
          { failureType: "any", thresholdPercentage: 5, minExecuted: 2, action: "CANCEL" },
          "any",
        ],
      }),
    ).toEqual([
      {
        property: "abortCriteria[0].failureType",
        reason: 'must be one of "businessError", "unknownOutcome", "jobFailed", "any", got the string "FAILED"',
      },
      {
        property: "abortCriteria[0].thresholdPercentage",
        reason: "must be a number greater than 0 and at most 100, got the number 0",
      },
      {
        property: "abortCriteria[0].minExecuted",
        reason: "must be a whole number from 1 to 9007199254740991, got the number 0",
      },
      {
        property: "abortCriteria[1].thresholdPercentage",
        reason: "must be a number greater than 0 and at most 100, got the number 101",
      },
      { property: "abortCriteria[1].minExecuted", reason: "is required: a whole number from 1 to 9007199254740991" },
      {
        property: "abortCriteria[2]",
        reason: 'has unknown key(s) "action"; it is { failureType, thresholdPercentage, minExecuted }',
      },
      {
        property: "abortCriteria[3]",
        reason: 'must be { failureType, thresholdPercentage, minExecuted }, got the string "any"',
      },
    ]);
    expect(batch({ abortCriteria: [] })).toEqual([
      {
        property: "abortCriteria",
        reason: "must be a list of 1 to 20 { failureType, thresholdPercentage, minExecuted }, got 0 entries",
      },
    ]);
  });

  test("times need a zone, a real date, and notBefore before notAfter", () => {
    expect(batch({ notBefore: "2026-12-01T02:00:00", notAfter: "2026-02-30T00:00:00Z" })).toEqual([
      {
        property: "notBefore",
        reason:
          '"2026-12-01T02:00:00" is not an ISO 8601 time with a zone, e.g. 2026-12-01T02:00:00Z or 2026-12-01T10:00:00+08:00',
      },
      {
        property: "notAfter",
        reason:
          '"2026-02-30T00:00:00Z" is not an ISO 8601 time with a zone, e.g. 2026-12-01T02:00:00Z or 2026-12-01T10:00:00+08:00',
      },
    ]);
    expect(batch({ notBefore: "2026-12-01T10:00:00+08:00", notAfter: "2026-12-01T02:00:00Z" })).toEqual([
      {
        property: "notAfter",
        reason: '"2026-12-01T02:00:00Z" is not after notBefore "2026-12-01T10:00:00+08:00"; nothing could be sent',
      },
    ]);
    expect(batch({ notAfter: 1764554400000 })).toEqual([
      { property: "notAfter", reason: "must be a non-empty string, got the number 1764554400000" },
    ]);
  });

  test("maintenance windows: HH:MM, 1 to 1440 minutes, distinct day names", () => {
    expect(
      batch({
        maintenanceWindows: [
          { start: "24:00", durationMinutes: 0 },
          { start: "2:00", durationMinutes: 1441, days: ["Mon", "Mon"] },
          { start: "02:00", durationMinutes: 60.5, days: ["monday"] },
          { start: "02:00", durationMinutes: 60, days: [] },
        ],
      }),
    ).toEqual([
      {
        property: "maintenanceWindows[0].start",
        reason: 'must be a UTC time of day "HH:MM" from "00:00" to "23:59", got the string "24:00"',
      },
      {
        property: "maintenanceWindows[0].durationMinutes",
        reason: "must be a whole number from 1 to 1440, got the number 0",
      },
      {
        property: "maintenanceWindows[1].start",
        reason: 'must be a UTC time of day "HH:MM" from "00:00" to "23:59", got the string "2:00"',
      },
      {
        property: "maintenanceWindows[1].durationMinutes",
        reason: "must be a whole number from 1 to 1440, got the number 1441",
      },
      {
        property: "maintenanceWindows[1].days",
        reason:
          'must be a non-empty list of distinct days among "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", got ["Mon","Mon"]',
      },
      {
        property: "maintenanceWindows[2].durationMinutes",
        reason: "must be a whole number from 1 to 1440, got the number 60.5",
      },
      {
        property: "maintenanceWindows[2].days",
        reason:
          'must be a non-empty list of distinct days among "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", got ["monday"]',
      },
      {
        property: "maintenanceWindows[3].days",
        reason:
          'must be a non-empty list of distinct days among "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", got []',
      },
    ]);
  });

  test("ramp: a positive base rate up to the quota, a factor from 1 to 10, a whole step", () => {
    expect(batch({ ramp: { baseRatePerMinute: 0, incrementFactor: 0.5, increaseEveryResets: 1.5 } })).toEqual([
      {
        property: "ramp.baseRatePerMinute",
        reason: "must be a number greater than 0 and at most 30000, got the number 0",
      },
      { property: "ramp.incrementFactor", reason: "must be a number from 1 to 10, got the number 0.5" },
      {
        property: "ramp.increaseEveryResets",
        reason: "must be a whole number from 1 to 9007199254740991, got the number 1.5",
      },
    ]);
    expect(batch({ ramp: { baseRatePerMinute: 60 } })).toEqual([
      { property: "ramp.incrementFactor", reason: "is required: a number from 1 to 10" },
      { property: "ramp.increaseEveryResets", reason: "is required: a whole number from 1 to 9007199254740991" },
    ]);
    expect(batch({ ramp: [60, 2, 10] })).toEqual([
      {
        property: "ramp",
        reason: "must be { baseRatePerMinute, incrementFactor, increaseEveryResets }, got an array",
      },
    ]);
  });
});
