import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import { readProject, readStackConfig } from "../../runner/project";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "runner-project-"));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test("readProject takes name and main from the top level only", () => {
  fs.writeFileSync(
    path.join(dir, "Pulumi.yaml"),
    'name: "resets" # the project\nruntime:\n  name: nodejs\nmain: src/index.ts\n',
  );
  expect(readProject(dir)).toEqual({ name: "resets", main: "src/index.ts" });
});

test("readStackConfig reads plain values, qualifies bare keys with the project and skips comments", () => {
  fs.writeFileSync(
    path.join(dir, "Pulumi.dev.yaml"),
    "# stack dev\nconfig:\n  alicloud:region: cn-shanghai\n  batchSize: '50'\n  resets:campaign: \"2024 rotation\" # why\nother: x\n",
  );
  expect(readStackConfig(dir, "dev", "resets")).toEqual({
    "alicloud:region": "cn-shanghai",
    "resets:batchSize": "50",
    "resets:campaign": "2024 rotation",
  });
  expect(readStackConfig(dir, "missing", "resets")).toEqual({});
});

test("readStackConfig refuses secure values, which the offline runner cannot decrypt", () => {
  fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), "config:\n  resets:token:\n    secure: AAABAB==\n");
  expect(() => readStackConfig(dir, "dev", "resets")).toThrow(
    `${path.join(dir, "Pulumi.dev.yaml")}: config resets:token is not a plain value (secure values are not supported)`,
  );
});
