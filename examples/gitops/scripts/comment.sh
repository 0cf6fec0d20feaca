#!/usr/bin/env bash
# Posts the plan (markdown file $1, from `npm run preview`) on the pull request as ONE comment that each push edits:
# reviewers read the plan of the head they review, not a trail of old ones. The comment is found again by its first
# line, a hidden marker. GitHub's REST API through `gh api` (on GitHub's runners), with GH_TOKEN the job's token
# (`pull-requests: write`), and node for the JSON.
#
#   bash scripts/comment.sh out/comment.md
set -euo pipefail
# shellcheck source=SCRIPTDIR/comment-body.sh
source "$(dirname "${BASH_SOURCE[0]}")/comment-body.sh"

# GitHub refuses a comment longer than this many characters.
readonly GITHUB_COMMENT_LIMIT=65536

plan=${1:?usage: bash scripts/comment.sh PLAN.md}
[[ -n ${GITHUB_REPOSITORY:-} && -f ${GITHUB_EVENT_PATH:-} ]] ||
  fail "not in a GitHub Actions job (no GITHUB_REPOSITORY or GITHUB_EVENT_PATH): it comments on the pull request of a pull_request workflow"
# JSON is read and written with node, which the job has set up anyway.
read -r pr head < <(node -e 'const { pull_request: pr } = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  if (pr) console.log(pr.number, pr.head.sha);' "$GITHUB_EVENT_PATH") || true
[[ -n ${pr:-} ]] ||
  fail "not in a pull request (the event is ${GITHUB_EVENT_NAME:-unknown}): the plan comment belongs on one; run it from a workflow started by pull_request"
run_url="${GITHUB_SERVER_URL:-https://github.com}/$GITHUB_REPOSITORY/actions/runs/${GITHUB_RUN_ID:-}"

plan_comment_body "$plan" "$GITHUB_COMMENT_LIMIT" "${head:0:12}" "$run_url" "in the run's \`plan\` artifact" >"$PLAN_WORK/body.md"
node -e 'const fs = require("fs"); fs.writeFileSync(process.argv[2], JSON.stringify({ body: fs.readFileSync(process.argv[1], "utf8") }));' \
  "$PLAN_WORK/body.md" "$PLAN_WORK/request.json"

# The comment this script posted before, if any: the first whose body starts with the marker (a quote of it does not).
gh api --paginate --slurp "repos/$GITHUB_REPOSITORY/issues/$pr/comments?per_page=100" >"$PLAN_WORK/comments.json"
id=$(node -e 'const [file, marker] = process.argv.slice(1);
  const comment = JSON.parse(require("fs").readFileSync(file, "utf8")).flat().find((c) => c.body.startsWith(marker));
  if (comment) console.log(comment.id);' "$PLAN_WORK/comments.json" "$PLAN_MARKER")
if [[ -n $id ]]; then
  gh api --method PATCH "repos/$GITHUB_REPOSITORY/issues/comments/$id" --input "$PLAN_WORK/request.json" >"$PLAN_WORK/answer.json"
  outcome="updated the plan comment"
else
  gh api --method POST "repos/$GITHUB_REPOSITORY/issues/$pr/comments" --input "$PLAN_WORK/request.json" >"$PLAN_WORK/answer.json"
  outcome="posted the plan comment"
fi
echo "comment.sh: $outcome on pull request #$pr: $(node -p 'require(process.argv[1]).html_url' "$PLAN_WORK/answer.json")"
