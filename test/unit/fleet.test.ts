import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadFleet } from "../../provider/program/fleet-file";

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

  test("reads a CSV of IotIds and JSON arrays", () => {
    expect(loadFleet(write("f.csv", "iotId\nQ7u0001\nQ7u0002\n"))).toEqual([
      { iotId: "Q7u0001" },
      { iotId: "Q7u0002" },
    ]);
    expect(
      loadFleet(
        write(
          "f.json",
          '[{"productKey":"a1Demo","deviceName":"sensor-001"},{"productKey":"a1Demo","deviceName":"sensor-002"}]',
        ),
      ),
    ).toEqual([
      { productKey: "a1Demo", deviceName: "sensor-001" },
      { productKey: "a1Demo", deviceName: "sensor-002" },
    ]);
    expect(loadFleet(write("f.json", '[{"iotId":"Q7u0001"}]'))).toEqual([{ iotId: "Q7u0001" }]);
  });

  test("CSV as spreadsheets write it: quotes, a BOM, CRLF line ends, spaces around cells", () => {
    const file = write(
      "f.csv",
      '\ufeffproductKey,deviceName\r\n"a1Rel",d-0001\r\n "a1Rel" , "d-0002"\r\na1Rel , d-0003\r\n',
    );
    expect(loadFleet(file)).toEqual([
      { productKey: "a1Rel", deviceName: "d-0001" },
      { productKey: "a1Rel", deviceName: "d-0002" },
      { productKey: "a1Rel", deviceName: "d-0003" },
    ]);
  });

  test("spaces and line breaks inside quotes are part of the value, and refused", () => {
    const file = write("f.csv", 'productKey,deviceName\n" a1Rel",d-0001\na1Rel,"d-0002\nDevices: 0 reset"\n');
    expect(() => loadFleet(file)).toThrow(
      `Fleet file ${file} has 2 bad row(s):\n` +
        `  ${file} line 2: productKey " a1Rel" has leading or trailing whitespace; remove it\n` +
        `  ${file} line 4: deviceName "d-0002\\nDevices: 0 reset" contains a control character (U+000A); remove it: identities never hold line breaks or control characters`,
    );
  });

  test("broken CSV quoting names the line", () => {
    const file = write("f.csv", 'productKey,deviceName\na1Rel,d-0001\na1Rel,"d-0002\n');
    expect(() => loadFleet(file)).toThrow(
      `Fleet file ${file} line 3 is not valid CSV: Quote Not Closed: the parsing is finished with an opening quote at line 3; fix the quoting (a value with a comma or a quote is written "like ""this""").`,
    );
  });

  test("a file that is not UTF-8 is refused, naming the line, before any byte becomes U+FFFD", () => {
    const file = write("f.csv", "");
    fs.writeFileSync(
      file,
      Buffer.concat([
        Buffer.from("productKey,deviceName\na1Rel,d-0001\na1Rel,caf"),
        Buffer.from([0xe9]),
        Buffer.from("-01\n"),
      ]),
    );
    expect(() => loadFleet(file)).toThrow(
      `Fleet file ${file} line 3 is not valid UTF-8 (a spreadsheet's "CSV" export in a local code page, or UTF-16); save the file as UTF-8.`,
    );
  });

  test.each([
    ["an empty CSV", "f.csv", ""],
    ["a CSV with only a header", "f.csv", "productKey,deviceName\r\n"],
    ["a CSV with only comments and blank lines", "f.csv", "# nothing yet\n\n"],
    ["an empty JSON array", "f.json", "[]"],
  ])("%s lists no device: an error unless allowEmpty", (_what, name, text) => {
    const file = write(name, text);
    expect(() => loadFleet(file)).toThrow(
      `Fleet file ${file} lists no device, so nothing would be reset; an empty fleet file is usually a mistake: pass \`{ allowEmpty: true }\` to loadFleet when it is expected.`,
    );
    expect(loadFleet(file, { allowEmpty: true })).toEqual([]);
  });

  test("a file mixing { iotId } and pairs is refused, naming the first line of each", () => {
    const csv = write("f.csv", "productKey,deviceName,iotId\na1Rel,d-0001,\na1Rel,d-0002,\n,,Q7u0003\n");
    expect(() => loadFleet(csv)).toThrow(
      `Fleet file ${csv} has 1 bad row(s):\n` +
        `  ${csv}: mixes identity forms: ${csv} line 2 is named by productKey/deviceName and ${csv} line 4 by iotId; one device listed both ways would be reset twice, since the two forms cannot be matched without asking IoT Platform: name every device of a fleet the same way`,
    );
    const json = write("f.json", '[{"iotId":"Q7u0001"},{"productKey":"a1Demo","deviceName":"sensor-001"}]');
    expect(() => loadFleet(json)).toThrow(
      `  ${json}: mixes identity forms: ${json} [1] is named by productKey/deviceName and ${json} [0] by iotId;`,
    );
  });

  test("JSON entries that are not device objects are refused", () => {
    const json = write("f.json", '["Q7u0001", null, {"productKey":"a1Demo","deviceName":"sensor-001","note":"x"}]');
    expect(() => loadFleet(json)).toThrow(
      `Fleet file ${json} has 3 bad row(s):\n` +
        `  ${json} [0]: must be { productKey, deviceName } or { iotId }, got the string "Q7u0001"\n` +
        `  ${json} [1]: must be { productKey, deviceName } or { iotId }, got null\n` +
        `  ${json} [2]: has unknown key(s) "note"; a device is { productKey, deviceName } or { iotId } (instance, region and endpoint are the cohort's)`,
    );
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

  test("refuses unknown and repeated columns, and non-array JSON", () => {
    const twice = write("f.csv", "iotId,iotId\nQ7u1,Q7u2\n");
    expect(() => loadFleet(twice)).toThrow(`Fleet file ${twice} line 1: the header names "iotId" twice.`);
    const csv = write("f.csv", "productKey,name\n");
    expect(() => loadFleet(csv)).toThrow(
      `Fleet file ${csv} line 1: unknown column(s) "name"; the header names productKey,deviceName or iotId.`,
    );
    const json = write("f.json", '{"devices":[]}');
    expect(() => loadFleet(json)).toThrow(`Fleet file ${json} must hold a JSON array of devices.`);
  });
});
