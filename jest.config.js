/** Tests are TypeScript run by ts-jest; the provider host and the runner load the compiled `lib/`, so `npm test` builds first. */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.test.json" }] },
  modulePathIgnorePatterns: ["<rootDir>/lib/", "<rootDir>/examples/.*/node_modules/"],
  // An end-to-end test runs several Pulumi CLI operations; on a loaded 2-core machine they take twice as long.
  testTimeout: 180000,
  setupFiles: ["<rootDir>/test/setup-env.ts"],
  globalSetup: "<rootDir>/test/global-setup.ts",
};
