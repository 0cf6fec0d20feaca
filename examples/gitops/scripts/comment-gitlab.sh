#!/usr/bin/env bash
# Posts the plan (markdown file $1, from `npm run preview`) on the merge request as ONE note that each push edits:
# reviewers read the plan of the head they review, not a trail of old ones. The note is found again by its first line,
# a hidden marker. GitLab's notes API with curl, and node (which the job runs on) to read its JSON; GITLAB_TOKEN is a
# project access token with the `api` scope, kept as a masked CI/CD variable (the job token may not write notes).
#
#   bash scripts/comment-gitlab.sh out/comment.md
set -euo pipefail
# shellcheck source=SCRIPTDIR/comment-body.sh
source "$(dirname "${BASH_SOURCE[0]}")/comment-body.sh"

# GitLab refuses a note longer than this many characters.
readonly GITLAB_NOTE_LIMIT=1000000

plan=${1:?usage: bash scripts/comment-gitlab.sh PLAN.md}
[[ -n ${CI_MERGE_REQUEST_IID:-} ]] ||
  fail "not in a merge request pipeline (no CI_MERGE_REQUEST_IID): the plan note belongs on a merge request; run it in a job whose rules take merge_request_event"
[[ -n ${GITLAB_TOKEN:-} ]] ||
  fail "GITLAB_TOKEN is not set: give the job a project access token with the api scope, as a masked CI/CD variable"
notes="$CI_API_V4_URL/projects/$CI_PROJECT_ID/merge_requests/$CI_MERGE_REQUEST_IID/notes"

plan_comment_body "$plan" "$GITLAB_NOTE_LIMIT" "$CI_COMMIT_SHORT_SHA" "$CI_JOB_URL" "in the job's artifacts (out/)" >"$PLAN_WORK/body.md"

# One call of the notes API, its answer in $PLAN_WORK/answer; an error answer is printed and ends the script.
api() {
  curl -sS --fail-with-body -H "PRIVATE-TOKEN: $GITLAB_TOKEN" -o "$PLAN_WORK/answer" "$@" ||
    fail "GitLab answered: $(cat "$PLAN_WORK/answer" 2>/dev/null)"
}

# The note this script posted before, if any: the first whose body starts with the marker (a quote of it does not).
# A merge request's notes include a system note per push, so they are read page by page.
id="" page=1
while [[ -z $id && -n $page ]]; do
  api --retry 3 -D "$PLAN_WORK/headers" "$notes?per_page=100&page=$page&sort=asc&order_by=created_at"
  id=$(node -e 'const [file, marker] = process.argv.slice(1);
    const note = JSON.parse(require("fs").readFileSync(file, "utf8")).find((n) => n.body.startsWith(marker));
    if (note) console.log(note.id);' "$PLAN_WORK/answer" "$PLAN_MARKER")
  page=$(tr -d '\r' <"$PLAN_WORK/headers" | sed -n 's/^x-next-page: *//Ip')
done
if [[ -n $id ]]; then
  api --retry 3 -X PUT --data-urlencode "body@$PLAN_WORK/body.md" "$notes/$id"
  echo "comment-gitlab.sh: updated the plan note $id on merge request !$CI_MERGE_REQUEST_IID"
else
  # Not retried: a POST whose answer was lost may have made the note, and a second would be a duplicate.
  api -X POST --data-urlencode "body@$PLAN_WORK/body.md" "$notes"
  echo "comment-gitlab.sh: posted the plan note on merge request !$CI_MERGE_REQUEST_IID"
fi
