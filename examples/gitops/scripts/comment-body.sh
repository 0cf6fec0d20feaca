# shellcheck shell=bash
# What comment.sh (GitHub) and comment-gitlab.sh (GitLab) share, sourced by both: the plan comment's body, so that the
# two platforms show the same comment, a work folder, and how they fail.

# The first line of the plan comment: hidden in the rendered comment, and how the scripts find it again.
readonly PLAN_MARKER='<!-- iot-reset-plan -->'

# A folder for the script's request and answer files, gone when it ends.
PLAN_WORK=$(mktemp -d)
readonly PLAN_WORK
trap 'rm -rf "$PLAN_WORK"' EXIT

# Ends the script with a message that names it.
fail() {
  echo "$(basename "$0"): $*" >&2
  exit 1
}

# Prints the comment for the plan in markdown file $1, at most $2 characters, with a last line naming the commit ($3)
# and the run ($4). The plan tool keeps a plan far below any limit; a longer one is cut at a line's end, saying so and
# where the whole plan is ($5). A missing or empty file (the preview did not finish) gives a note in the plan's place,
# so that the plan of an earlier push is not taken for this one's.
plan_comment_body() {
  local file=$1 limit=$2 commit=$3 run_url=$4 whole=$5
  # Lengths and cuts in characters, as the limits count them, not in bytes.
  local LC_ALL=C.UTF-8
  local footer=$'\n\n'"_Plan of ${commit} ([run](${run_url}))._"
  local plan=""
  [[ -f $file ]] && plan=$(<"$file")
  if [[ -z $plan ]]; then
    plan="**No plan for this push:** the preview of ${commit} did not finish, so no plan could be made; see the run."
    plan+=" A plan posted for an earlier push no longer applies."
  fi
  local room=$((limit - ${#PLAN_MARKER} - 1 - ${#footer}))
  if ((${#plan} > room)); then
    local note=$'\n\n'"**The plan is cut here:** it has ${#plan} characters, and a comment holds at most ${limit}."
    note+=" The whole plan is ${whole}."
    plan=${plan:0:$((room - ${#note}))}
    plan=${plan%$'\n'*}$note
  fi
  printf '%s\n%s%s\n' "$PLAN_MARKER" "$plan" "$footer"
}
