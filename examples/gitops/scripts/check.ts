/**
 * The pull request's check (`npm run check`, after `npm run preview`): the committed `reset-review.json` must name
 * exactly what the preview selects, or the merge would be refused before anything is sent. Exits 1 on a stale review,
 * naming each difference.
 */
import * as path from "path";
import { readReview, staleReview } from "pulumi-alicloud-iot-reset";
import { reviewFile } from "../program";
import { OUT, run, STACK } from "./stack";

const REVIEW_FILE = reviewFile(STACK);

run(async () => {
  const committed = readReview(REVIEW_FILE);
  const computed = readReview(path.join(OUT, "reset-review.json"));
  const stale = staleReview(committed, computed);
  if (stale.length > 0) {
    console.error(
      `${REVIEW_FILE} is stale: it does not name what this change selects.\n  ${stale.join("\n  ")}\n` +
        `Run \`npm run review\`, read the diff of ${REVIEW_FILE}, and commit it.`,
    );
    return 1;
  }
  for (const [name, c] of Object.entries(computed.cohorts)) {
    console.log(
      `${REVIEW_FILE} is current: cohort "${name}", campaign "${c.campaign}", stage ${c.stage}, ${c.selected} device(s), ${c.digest}`,
    );
  }
});
