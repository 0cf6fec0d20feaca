/**
 * The documents hold together: the README stays short, every relative link and `#anchor` resolves, every guide is
 * reachable from the README, and the versions the guides state are the ones pinned. Files only: no socket, no CLI.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..");
const README_MAX_LINES = 250;

/** Markdown files under `dir` (relative to `root`), generated output and dependencies left out. */
function markdownUnder(root: string, dir: string): string[] {
  const abs = path.join(root, dir);
  if (!fs.existsSync(abs)) return [];
  return (fs.readdirSync(abs, { recursive: true }) as string[])
    .map((f) => path.join(dir, f))
    .filter((f) => f.endsWith(".md") && !f.split(path.sep).some((part) => part === "node_modules" || part === "api"))
    .sort();
}

/** The documents whose links are checked. */
function documents(root: string): string[] {
  const top = ["README.md", "ARCHITECTURE.md", "CONTRIBUTING.md", "CHANGELOG.md", "emulator/README.md"];
  const examples = fs.existsSync(path.join(root, "examples"))
    ? fs.readdirSync(path.join(root, "examples")).map((e) => path.join("examples", e, "README.md"))
    : [];
  return [
    ...[...top, ...examples].filter((f) => fs.existsSync(path.join(root, f))),
    ...markdownUnder(root, "docs"),
    ...markdownUnder(root, "bench"),
  ];
}

/** The text outside fenced code blocks, with inline code spans as plain text that cannot form a link. */
function prose(markdown: string): string {
  return withoutFences(markdown).replace(/`+([^`]*)`+/g, (_, code: string) => code.replace(/[[\]()]/g, " "));
}

/** The text without fenced code blocks (indented ones in list items too). */
function withoutFences(markdown: string): string {
  return markdown.replace(/^[ \t]*(```|~~~)[^\n]*\n[\s\S]*?^[ \t]*\1[^\n]*$/gm, "");
}

/** Every link target of a document: `[text](target)` and `![alt](target)`. */
function linkTargets(markdown: string): string[] {
  const targets: string[] = [];
  const link = /\[(?:[^[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g;
  for (const m of prose(markdown).matchAll(link)) targets.push(m[1] as string);
  return targets;
}

/** The anchors GitHub gives a document's headings (github-slugger's rules, duplicates numbered). */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const m of withoutFences(markdown).matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    const text = (m[1] as string)
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
      .replace(/`([^`]*)`/g, "$1")
      .replace(/<[^>]+>/g, "");
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
      .replace(/ /g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** What is wrong with each relative link of the given documents: a missing file, or a missing heading. */
function brokenLinks(root: string, docs: readonly string[]): string[] {
  const problems: string[] = [];
  const anchorsOf = new Map<string, Set<string>>();
  const anchors = (file: string) => {
    let set = anchorsOf.get(file);
    if (!set) anchorsOf.set(file, (set = headingAnchors(fs.readFileSync(path.join(root, file), "utf8"))));
    return set;
  };
  for (const doc of docs) {
    for (const target of linkTargets(fs.readFileSync(path.join(root, doc), "utf8"))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: and the like
      const [rawFile = "", anchor] = target.split("#", 2) as [string, string | undefined];
      const file = decodeURIComponent(rawFile);
      const resolved =
        file === "" ? doc : path.normalize(file.startsWith("/") ? file.slice(1) : path.join(path.dirname(doc), file));
      if (resolved.startsWith("..") || !fs.existsSync(path.join(root, resolved))) {
        problems.push(`${doc}: (${target}) names ${resolved}, which does not exist`);
        continue;
      }
      if (anchor !== undefined && resolved.endsWith(".md") && !anchors(resolved).has(decodeURIComponent(anchor))) {
        problems.push(`${doc}: (${target}) names #${anchor}, which is no heading of ${resolved}`);
      }
    }
  }
  return problems;
}

/** The markdown files a document links to, as paths from the root. */
function linkedFiles(root: string, doc: string): Set<string> {
  const text = fs.readFileSync(path.join(root, doc), "utf8");
  return new Set(
    linkTargets(text)
      .filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t))
      .map((t) => decodeURIComponent(t.split("#")[0] as string))
      .filter((f) => f !== "")
      .map((f) => path.normalize(path.join(path.dirname(doc), f))),
  );
}

describe("documents", () => {
  test(`README.md is at most ${README_MAX_LINES} lines`, () => {
    const lines = fs.readFileSync(path.join(ROOT, "README.md"), "utf8").split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    expect(lines.length).toBeLessThanOrEqual(README_MAX_LINES);
  });

  test("every relative link and #anchor resolves", () => {
    const docs = documents(ROOT);
    expect(docs).toEqual(expect.arrayContaining(["README.md", "ARCHITECTURE.md", path.join("docs", "README.md")]));
    expect(brokenLinks(ROOT, docs)).toEqual([]);
  });

  test("every guide in docs/ is linked from README.md, directly or through docs/README.md", () => {
    const index = path.join("docs", "README.md");
    const fromReadme = linkedFiles(ROOT, "README.md");
    expect(fromReadme).toContain(index);
    const reachable = new Set([...fromReadme, ...linkedFiles(ROOT, index)]);
    const guides = markdownUnder(ROOT, "docs").filter((f) => f !== index);
    expect(guides.length).toBeGreaterThan(0);
    expect(guides.filter((g) => !reachable.has(g))).toEqual([]);
  });

  test("the Go and Pulumi CLI versions the guides state are the ones tools/pulumi-cli/go.mod pins", () => {
    const goMod = fs.readFileSync(path.join(ROOT, "tools", "pulumi-cli", "go.mod"), "utf8");
    const go = /^go (\S+)$/m.exec(goMod)?.[1];
    const cli = /github\.com\/pulumi\/pulumi\/pkg\/v3 v(\S+)/.exec(goMod)?.[1];
    expect(go).toBeDefined();
    expect(cli).toBeDefined();
    const current = ["README.md", ...markdownUnder(ROOT, "docs")];
    const stated = current.flatMap((doc) => {
      const text = fs.readFileSync(path.join(ROOT, doc), "utf8");
      return [
        ...[...text.matchAll(/\bGo (\d+\.\d+(?:\.\d+)?)/g)].map((m) => `${doc}: Go ${m[1]}`),
        ...[...text.matchAll(/Pulumi CLI v(\d+\.\d+\.\d+)/g)].map((m) => `${doc}: Pulumi CLI v${m[1]}`),
      ];
    });
    expect(stated.length).toBeGreaterThan(0);
    expect(stated.filter((s) => !s.endsWith(`Go ${go}`) && !s.endsWith(`Pulumi CLI v${cli}`))).toEqual([]);
  });
});

describe("the link check", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "docs-links-"));
    fs.mkdirSync(path.join(dir, "docs"));
    fs.writeFileSync(
      path.join(dir, "docs", "guide.md"),
      "# A guide\n\n## One device: `DeviceRegistrationReset`\n\n## Keep it, in a pipeline (today)\n\n## Keep it, in a pipeline (today)\n",
    );
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const check = (readme: string) => {
    fs.writeFileSync(path.join(dir, "README.md"), readme);
    return brokenLinks(dir, ["README.md"]);
  };

  test("accepts files, folders and GitHub's heading anchors, and ignores external links and code", () => {
    expect(
      check(
        "[g](docs/guide.md) [d](docs/) [a](docs/guide.md#one-device-deviceregistrationreset)\n" +
          "[b](docs/guide.md#keep-it-in-a-pipeline-today-1) [`code` in text](docs/guide.md#a-guide) [self](#top)\n" +
          "# Top\n[x](https://example.com/missing) `[not a link](missing.md)`\n```\n[nor this](missing.md)\n```\n",
      ),
    ).toEqual([]);
  });

  test("reports a link to a missing file and an anchor that is no heading", () => {
    expect(check("[gone](docs/gone.md) and [anchor](docs/guide.md#no-such-heading)\n")).toEqual([
      `README.md: (docs/gone.md) names ${path.join("docs", "gone.md")}, which does not exist`,
      `README.md: (docs/guide.md#no-such-heading) names #no-such-heading, which is no heading of ${path.join("docs", "guide.md")}`,
    ]);
  });
});
