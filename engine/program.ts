/**
 * Loads a Pulumi program file (TypeScript or JavaScript, written for `pulumi up`) as an Automation API inline
 * program: the module's top-level code declares the resources and its exports become the stack outputs.
 * The same file runs unchanged under a Pulumi language host.
 */
import * as fs from "fs";
import * as path from "path";

type Loader = (module: NodeJS.Module, filename: string) => void;

/** Compiles `.ts` files on `require` when nothing else does (ts-jest does in tests; plain Node does not). */
function ensureTypeScriptLoader(): void {
  const extensions = require.extensions as unknown as Record<string, Loader | undefined>;
  if (extensions[".ts"]) return;
  extensions[".ts"] = (module, filename) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ts = require("typescript") as typeof import("typescript");
    const { outputText } = ts.transpileModule(fs.readFileSync(filename, "utf8"), {
      fileName: filename,
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    });
    (module as unknown as { _compile(code: string, file: string): void })._compile(outputText, filename);
  };
}

/**
 * Returns an inline program that runs `file` afresh each time: the module and its siblings are dropped from
 * `require`'s cache first, since an inline program may run several times in one process. With `exportName`,
 * the program is that exported function of the file instead of its top-level code.
 */
export function programFromFile(file: string, exportName?: string): () => Promise<Record<string, unknown> | void> {
  const resolved = path.resolve(file);
  const dir = path.dirname(resolved) + path.sep;
  return async () => {
    ensureTypeScriptLoader();
    for (const cached of Object.keys(require.cache)) {
      if (cached.startsWith(dir) && !cached.includes(`${path.sep}node_modules${path.sep}`))
        delete require.cache[cached];
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const exported = require(resolved) as Record<string, unknown>;
    if (exportName !== undefined) {
      const program = exported[exportName];
      if (typeof program !== "function") throw new Error(`${file} exports no function \`${exportName}\``);
      return (program as () => Promise<Record<string, unknown> | void>)();
    }
    // `__esModule` and the like are module plumbing, not outputs.
    return Object.fromEntries(Object.entries(exported).filter(([key]) => !key.startsWith("__")));
  };
}
