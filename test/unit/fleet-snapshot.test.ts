// Snapshot mode: a listing written as a reviewed fleet file, and a later listing checked against it.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { checkFleet, FleetChangedError, loadFleet, snapshotFleet, type FleetDevice } from "../../provider";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-snapshot-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const cam = (n: number): FleetDevice => ({ productKey: "a1Cams", deviceName: `cam-${String(n).padStart(3, "0")}` });

test("a JSON snapshot is sorted, one device per line, and loadFleet reads it back", () => {
  const file = path.join(dir, "fleets", "cams.json");
  snapshotFleet([cam(2), cam(0), cam(1)], file);
  expect(fs.readFileSync(file, "utf8")).toBe(
    '[\n  {"productKey":"a1Cams","deviceName":"cam-000"},\n  {"productKey":"a1Cams","deviceName":"cam-001"},\n' +
      '  {"productKey":"a1Cams","deviceName":"cam-002"}\n]\n',
  );
  expect(loadFleet(file)).toEqual([cam(0), cam(1), cam(2)]);
});

test("a CSV snapshot has the header loadFleet reads", () => {
  const file = path.join(dir, "cams.csv");
  snapshotFleet([cam(1), cam(0)], file);
  expect(fs.readFileSync(file, "utf8")).toBe("productKey,deviceName\na1Cams,cam-000\na1Cams,cam-001\n");
  expect(loadFleet(file)).toEqual([cam(0), cam(1)]);
  snapshotFleet([{ iotId: "B" }, { iotId: "A" }], file);
  expect(fs.readFileSync(file, "utf8")).toBe("iotId\nA\nB\n");
});

test("a listing that matches the file: the file's devices, nothing reported", () => {
  const file = path.join(dir, "cams.json");
  snapshotFleet([cam(0), cam(1)], file);
  const reports: string[] = [];
  const check = checkFleet([cam(1), cam(0)], file, { report: (s) => reports.push(s) });
  expect(check).toEqual({
    devices: [cam(0), cam(1)],
    added: [],
    removed: [],
    summary: `The listing matches ${file}: 2 device(s), as reviewed.`,
  });
  expect(reports).toEqual([]);
});

test("new devices are named, counted and left out; removed ones are named and kept as reviewed", () => {
  const file = path.join(dir, "cams.json");
  snapshotFleet([cam(0), cam(1), cam(2)], file);
  const reports: string[] = [];
  const listing = [cam(0), cam(2), ...Array.from({ length: 12 }, (_, i) => cam(100 + i))];
  const check = checkFleet(listing, file, { report: (s) => reports.push(s) });
  expect(check.devices).toEqual([cam(0), cam(1), cam(2)]);
  expect(check.added).toEqual(Array.from({ length: 12 }, (_, i) => cam(100 + i)));
  expect(check.removed).toEqual([cam(1)]);
  const summary =
    `The listing differs from the reviewed fleet file ${file} (3 device(s)). 12 device(s) are new since the snapshot ` +
    `and will not be reset: a1Cams/cam-100, a1Cams/cam-101, a1Cams/cam-102, a1Cams/cam-103, a1Cams/cam-104, ` +
    `a1Cams/cam-105, a1Cams/cam-106, a1Cams/cam-107, a1Cams/cam-108, a1Cams/cam-109 and 2 more. To reset them, write ` +
    `a new snapshot (snapshotFleet) and have the change reviewed. 1 reviewed device(s) are no longer in the listing ` +
    `and are still reset as reviewed: a1Cams/cam-001. A device that no longer exists fails its reset ` +
    `(iot.device.NotExistedDevice): take it out of the file.`;
  expect(check.summary).toBe(summary);
  expect(reports).toEqual([summary]);
});

test("failOnChange throws FleetChangedError with the summary instead of reporting", () => {
  const file = path.join(dir, "cams.json");
  snapshotFleet([cam(0)], file);
  const reports: string[] = [];
  const run = () => checkFleet([cam(0), cam(5)], file, { failOnChange: true, report: (s) => reports.push(s) });
  expect(run).toThrow(FleetChangedError);
  expect(run).toThrow(
    `The listing differs from the reviewed fleet file ${file} (1 device(s)). 1 device(s) are new since the snapshot ` +
      `and will not be reset: a1Cams/cam-005. To reset them, write a new snapshot (snapshotFleet) and have the change reviewed.`,
  );
  expect(reports).toEqual([]);
  expect(checkFleet([cam(0)], file, { failOnChange: true }).devices).toEqual([cam(0)]);
});
