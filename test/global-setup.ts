/**
 * Jest's global setup: finds the Pulumi CLI the end-to-end tests run, or builds the pinned one, and builds the
 * pinned SeaweedFS they run as their S3 server and the pinned actionlint they check the GitOps example's workflows
 * with (each once per pin, with progress lines), before any test starts, so no test's timeout includes a build.
 */
import { ensureActionlint } from "../engine/actionlint";
import { ensurePulumiCli } from "../engine/cli";
import { ensureSeaweedfs } from "../engine/seaweedfs";

export default async function globalSetup(): Promise<void> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const cli = await ensurePulumiCli(log);
  const weed = await ensureSeaweedfs(log);
  const actionlint = await ensureActionlint(log);
  process.stderr.write(`\nEnd-to-end tests run the Pulumi CLI v${cli.version} (${cli.source}): ${cli.binary}\n`);
  process.stderr.write(`and SeaweedFS ${weed.version} as their S3 server: ${weed.binary}\n`);
  process.stderr.write(`and actionlint ${actionlint.version} on the example's workflows: ${actionlint.binary}\n`);
}
