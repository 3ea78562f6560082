#!/usr/bin/env bash
# Prints, as a compact JSON array, the stacks a change between two commits touches:
#   changed-stacks.sh BASE HEAD [--all-on-program-change]
# A stack is touched when its Pulumi.<stack>.yaml was added or modified (a deleted stack file
# deploys nothing). With --all-on-program-change (pull requests only: plan and preview cost
# nothing), a change to the program every stack runs (see PROGRAM_PATHS) touches every stack
# that exists at HEAD, so reviewers see its effect. Pushes to main never use it: an `up` is
# real GPU money, so only stacks whose own file changed are deployed.
set -euo pipefail

if [ "$#" -lt 2 ] || [ "$#" -gt 3 ]; then
  echo "usage: $0 BASE HEAD [--all-on-program-change]" >&2
  exit 2
fi
base=$1
head=$2
all_on_program_change=false
if [ "$#" -eq 3 ]; then
  if [ "$3" != "--all-on-program-change" ]; then
    echo "unknown option: $3" >&2
    exit 2
  fi
  all_on_program_change=true
fi

# Paths the stack program is built from; config files of single stacks are not among them.
PROGRAM_PATHS='^(index\.ts|Pulumi\.yaml|package\.json|package-lock\.json|tsconfig\.json|(components|config|catalog|runspec|agent|docker|ota)/)'
# Stack names safe to pass to the shell and to a job matrix.
STACK_FILE='^Pulumi\.([A-Za-z0-9_.-]+)\.yaml$'

# A push that creates the branch has an all-zero `before`; compare with the parent instead.
if [[ "$base" =~ ^0+$ ]] || ! git cat-file -e "${base}^{commit}" 2>/dev/null; then
  if git cat-file -e "${head}^1" 2>/dev/null; then
    base="${head}^1"
  else
    base=$(git hash-object -t tree /dev/null) # the empty tree: every file is new
  fi
fi

stacks=()
program_changed=false
while IFS= read -r file; do
  if [[ "$file" =~ $STACK_FILE ]]; then
    stacks+=("${BASH_REMATCH[1]}")
  elif [[ "$file" =~ $PROGRAM_PATHS ]]; then
    program_changed=true
  fi
done < <(git diff --name-only --no-renames --diff-filter=d "$base" "$head" --)

if [ "$all_on_program_change" = true ] && [ "$program_changed" = true ]; then
  stacks=()
  while IFS= read -r file; do
    if [[ "$file" =~ $STACK_FILE ]]; then
      stacks+=("${BASH_REMATCH[1]}")
    fi
  done < <(git ls-tree --name-only "$head" --)
fi

json="["
separator=""
if [ "${#stacks[@]}" -gt 0 ]; then
  while IFS= read -r stack; do
    json+="${separator}\"${stack}\""
    separator=","
  done < <(printf '%s\n' "${stacks[@]}" | sort -u)
fi
echo "${json}]"
