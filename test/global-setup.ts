/**
 * Jest's global setup: finds the Pulumi CLI the end-to-end tests run, or builds the pinned one (once per pin,
 * with progress lines), before any test starts, so no test's timeout includes a build.
 */
import { ensurePulumiCli } from "../engine/cli";

export default async function globalSetup(): Promise<void> {
  const cli = await ensurePulumiCli((line) => process.stderr.write(`${line}\n`));
  process.stderr.write(`\nEnd-to-end tests run the Pulumi CLI v${cli.version} (${cli.source}): ${cli.binary}\n`);
}
