import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadFleet } from "../../provider/fleet";

function write(name: string, text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-"));
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

describe("loadFleet", () => {
  test("reads a CSV with a header, skipping blank lines and comments", () => {
    const file = write("f.csv", "# canary fleet\nproductKey,deviceName\na1Demo,sensor-001\n\na1Demo,sensor-002\n");
    expect(loadFleet(file)).toEqual([
      { productKey: "a1Demo", deviceName: "sensor-001" },
      { productKey: "a1Demo", deviceName: "sensor-002" },
    ]);
  });

  test("reads a CSV of IotIds and a JSON array", () => {
    expect(loadFleet(write("f.csv", "iotId\nQ7u0001\nQ7u0002\n"))).toEqual([
      { iotId: "Q7u0001" },
      { iotId: "Q7u0002" },
    ]);
    expect(
      loadFleet(write("f.json", '[{"productKey":"a1Demo","deviceName":"sensor-001"},{"iotId":"Q7u0001"}]')),
    ).toEqual([{ productKey: "a1Demo", deviceName: "sensor-001" }, { iotId: "Q7u0001" }]);
  });

  test("names every malformed row and every duplicate", () => {
    const file = write(
      "f.csv",
      "productKey,deviceName\na1Demo,sensor-001\na1Demo,ab\na1Demo\n,sensor-004\na1Demo,sensor-001\n",
    );
    expect(() => loadFleet(file)).toThrow(
      `Fleet file ${file} has 4 bad row(s):\n` +
        `  ${file} line 3: deviceName "ab" must be 4 to 32 characters of letters, digits and -_@.:\n` +
        `  ${file} line 4: has 1 cells; the header has 2\n` +
        `  ${file} line 5: productKey - productKey is required with deviceName (or give iotId instead)\n` +
        `  ${file} line 6: repeats device a1Demo/sensor-001 (first at ${file} line 2)`,
    );
  });

  test("refuses unknown columns and non-array JSON", () => {
    const csv = write("f.csv", "productKey,name\n");
    expect(() => loadFleet(csv)).toThrow(
      `Fleet file ${csv} line 1: unknown column(s) "name"; the header names productKey,deviceName or iotId.`,
    );
    const json = write("f.json", '{"devices":[]}');
    expect(() => loadFleet(json)).toThrow(`Fleet file ${json} must hold a JSON array of devices.`);
  });
});
