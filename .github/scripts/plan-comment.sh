#!/usr/bin/env bash
# Runs the offline plan (`npm run plan -- --stack S`) for each stack given and prints one
# Markdown PR comment holding every plan. Exits 1 when any plan failed (an invalid stack
# config prints its problems in the comment); the comment is complete either way.
#   plan-comment.sh STACK...
set -uo pipefail

# The comment is found again by this marker and edited, so a PR has one plan comment.
readonly MARKER='<!-- yolo-train-plan -->'
# GitHub refuses comments over 65536 characters; keep room for several stacks.
readonly MAX_LINES_PER_STACK=400

echo "$MARKER"
echo "## yolo-train plan"
echo
if [ "$#" -eq 0 ]; then
  echo "No \`Pulumi.<stack>.yaml\` changed: nothing to plan."
  exit 0
fi
echo "Offline plan (\`npm run plan -- --stack NAME\`) of the stacks this pull request touches, at ${GITHUB_SHA:-HEAD}."

failed=0
for stack in "$@"; do
  if output=$(npm run --silent plan -- --stack "$stack" 2>&1); then
    summary="✅ \`${stack}\`"
  else
    summary="❌ \`${stack}\`: the plan failed"
    failed=1
  fi
  lines=$(printf '%s\n' "$output" | wc -l)
  echo
  echo "<details open><summary>${summary}</summary>"
  echo
  echo '```text'
  printf '%s\n' "$output" | head -n "$MAX_LINES_PER_STACK"
  if [ "$lines" -gt "$MAX_LINES_PER_STACK" ]; then
    echo "… $((lines - MAX_LINES_PER_STACK)) more lines: run \`npm run plan -- --stack ${stack}\`"
  fi
  echo '```'
  echo
  echo "</details>"
done
exit "$failed"
