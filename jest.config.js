/**
 * Tests are TypeScript run by ts-jest; the provider host, the runner and the end-to-end tests' emulator thread load the
 * compiled `lib/`, so every test script builds first. Four projects: `unit` (pure logic, no server), `emulator` and
 * `provider` (the emulator and the provider host against it, in process), and `e2e` (the real Pulumi CLI). Only `e2e`
 * has the global setup that finds or builds the CLI: jest runs a project's global setup only when it runs one of its
 * tests, so `jest --selectProjects unit emulator provider` never looks for the CLI.
 */
const shared = {
  testEnvironment: "node",
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.test.json" }] },
  modulePathIgnorePatterns: ["<rootDir>/lib/", "<rootDir>/examples/.*/node_modules/"],
  setupFiles: ["<rootDir>/test/setup-env.ts"],
};

/** A project of the tests under `test/<folder>`. */
const project = (folder, extra = {}) => ({
  ...shared,
  displayName: folder,
  roots: [`<rootDir>/test/${folder}`],
  ...extra,
});

module.exports = {
  // An end-to-end test runs several Pulumi CLI operations; on a loaded 2-core machine they take twice as long.
  testTimeout: 180000,
  // Jest's default on 2 cores is one worker. An end-to-end test spends most of its time waiting on the CLI and the
  // provider host, so a second worker overlaps that wait with another file's work.
  maxWorkers: 2,
  projects: [
    project("unit"),
    project("emulator"),
    project("provider"),
    project("e2e", { globalSetup: "<rootDir>/test/global-setup.ts" }),
  ],
};
