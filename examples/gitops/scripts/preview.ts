/**
 * The pull request's step (`npm run preview`): previews the update, then writes what the next steps read:
 *   out/preview.json        the plan, as `pulumi preview --json` prints it
 *   out/reset-review.json   the review of what the program selects (each cohort given `reviewed`)
 *   out/comment.md          the pull request's comment: `iot-reset-plan --markdown`, with the review and whether the
 *                           committed one matches
 * `npm run review` (`--write-review`) also copies the review over `reset-review.json`, for the author to commit.
 * Nothing is sent to IoT Platform: a preview never resets.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { REVIEW_OUT_ENV } from "pulumi-alicloud-iot-reset";
import { reviewFile } from "../program";
import { OUT, openStack, previewPlan, run, STACK, writeOut } from "./stack";

const REVIEW_FILE = reviewFile(STACK);

/** The plan tool of the installed package. */
function planTool(): string {
  const manifest = require.resolve("pulumi-alicloud-iot-reset/package.json");
  const bin = (JSON.parse(fs.readFileSync(manifest, "utf8")) as { bin: Record<string, string> }).bin;
  return path.join(path.dirname(manifest), bin["iot-reset-plan"] as string);
}

run(async () => {
  const review = path.join(OUT, "reset-review.json");
  fs.rmSync(review, { force: true });
  // The cohorts write their review here instead of comparing with the committed one (a preview only).
  process.env[REVIEW_OUT_ENV] = review;
  const plan = previewPlan(await openStack());
  const planFile = writeOut("preview.json", `${JSON.stringify(await plan)}\n`);
  if (!fs.existsSync(review))
    throw new Error(`The preview wrote no review: no cohort of the program is given \`reviewed\`.`);
  const args = [planTool(), planFile, "--markdown", "--review", review];
  if (fs.existsSync(REVIEW_FILE)) args.push("--reviewed", REVIEW_FILE);
  const comment = spawnSync(process.execPath, args, { encoding: "utf8" });
  if (comment.status !== 0) throw new Error(`iot-reset-plan failed: ${comment.stderr}`);
  const file = writeOut("comment.md", comment.stdout);
  console.log(`Wrote ${planFile}, ${review} and ${file}.`);
  if (process.argv.includes("--write-review")) {
    fs.copyFileSync(review, REVIEW_FILE);
    console.log(`Wrote ${REVIEW_FILE}: commit it with the change, and read its diff in the pull request.`);
  }
});
