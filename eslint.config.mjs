// Lint: typescript-eslint's recommended rules over the package, the emulator, the runner and the tests; no import
// cycle anywhere; no function over 80 lines in the package.
import tseslint from "typescript-eslint";
import { createNodeResolver, importX } from "eslint-plugin-import-x";

export default tseslint.config(
  {
    ignores: [
      "lib/**",
      "docs/api/**",
      "node_modules/**",
      "examples/*/node_modules/**",
      "coverage/**",
      "**/*.js",
      "**/*.mjs",
    ],
  },
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    // A cycle makes the load order decide which module sees the other half-initialized; what two modules share
    // belongs in a third. Type-only imports vanish when compiled, so the rule does not count them.
    plugins: { "import-x": importX },
    settings: {
      "import-x/extensions": [".ts", ".js"],
      "import-x/parsers": { "@typescript-eslint/parser": [".ts"] },
      "import-x/resolver-next": [createNodeResolver({ extensions: [".ts", ".js", ".json", ".node"] })],
    },
    rules: { "import-x/no-cycle": ["error", { ignoreExternal: true }] },
  },
  {
    // Counted plainly, from a function's first line to its last: a longer one is split into named steps.
    files: ["provider/**/*.ts"],
    rules: { "max-lines-per-function": ["error", { max: 80, skipBlankLines: false, skipComments: false }] },
  },
  {
    files: ["test/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off", "@typescript-eslint/no-non-null-assertion": "off" },
  },
);
