#!/usr/bin/env bash
# The GPU check (issue 8): real training through docker/train.py, the way the node runs it, at a
# realistic size (2,000 synthetic images at 640 px, yolov8n, batch 64, 3 epochs), interrupted with
# SIGTERM in epoch 2 and resumed to the end, evaluated and exported to ONNX; nvidia-smi sampled
# every 0.5 s. Writes a JSON summary (images/s, GPU utilisation, the interruption, the ONNX
# check, `passed`) and ends within --time-limit seconds (420, the issue's 7 minutes).
#
#   docker/tests/gpu-check.sh                      # on a GPU machine: the issue's sizes, GPU 0
#   docker/tests/gpu-check.sh --tiny               # on CPU: 24 images at 64 px, a few seconds an epoch
#   docker/tests/gpu-check.sh --help               # every option
#
# Options of this wrapper (the rest go to docker/tests/gpu_check.py):
#   --python PY    the interpreter with torch (default $YOLO_TRAIN_TEST_PYTHON, else the first of
#                  python3 and /usr/bin/python3 that has torch)
#   --vendor DIR   a copy of ultralytics 8.3.40 to put first on PYTHONPATH (default the first that
#                  exists of .vendor/ultralytics-8.3.40 and ../shared/vendor/ultralytics-8.3.40,
#                  both relative to the repository root; else the ultralytics PYTHONPATH or pip gives)
# Exit status: 0 passed, 1 failed (the summary says why), 2 bad usage or no usable Python.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
started=$(date +%s.%N)

python="${YOLO_TRAIN_TEST_PYTHON:-}"
vendor=""
out=""
limit=420
help=false
pass=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    --python) python="${2:?--python needs a path}"; shift 2 ;;
    --python=*) python="${1#*=}"; shift ;;
    --vendor) vendor="${2:?--vendor needs a folder}"; shift 2 ;;
    --vendor=*) vendor="${1#*=}"; shift ;;
    --out) out="${2:?--out needs a path}"; pass+=("$1" "$2"); shift 2 ;;
    --out=*) out="${1#*=}"; pass+=("$1"); shift ;;
    --time-limit) limit="${2:?--time-limit needs seconds}"; pass+=("$1" "$2"); shift 2 ;;
    --time-limit=*) limit="${1#*=}"; pass+=("$1"); shift ;;
    -h | --help) help=true; pass+=("$1"); shift ;;
    *) pass+=("$1"); shift ;;
  esac
done
if ! [[ "$limit" =~ ^[0-9]+$ ]] || [ "$limit" -lt 60 ]; then
  echo "gpu-check: --time-limit must be whole seconds, at least 60 (got $limit)" >&2
  exit 2
fi
if [ -z "$out" ]; then
  if [ -n "${OUT:-}" ]; then out="$OUT/gpu-check.json"; else out="gpu-check.json"; fi
fi

has_module() { # has_module PYTHON MODULE: importable without importing it (fast)
  "$1" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$2') is None)" >/dev/null 2>&1
}

if [ -z "$python" ]; then
  for candidate in python3 /usr/bin/python3; do
    if command -v "$candidate" >/dev/null 2>&1 && has_module "$candidate" torch; then
      python=$candidate
      break
    fi
  done
fi
if [ -z "$python" ] || ! command -v "$python" >/dev/null 2>&1; then
  echo "gpu-check: no Python with torch (tried ${python:-python3 and /usr/bin/python3}); pass --python" >&2
  exit 2
fi

if [ -n "$vendor" ]; then
  if [ ! -d "$vendor/ultralytics" ]; then
    echo "gpu-check: --vendor $vendor has no ultralytics/ package folder" >&2
    exit 2
  fi
else
  for candidate in "$root/.vendor/ultralytics-8.3.40" "$root/../shared/vendor/ultralytics-8.3.40"; do
    if [ -d "$candidate/ultralytics" ]; then
      vendor=$candidate
      break
    fi
  done
fi
if [ -n "$vendor" ]; then
  vendor=$(cd "$vendor" && pwd)
  export PYTHONPATH="$vendor${PYTHONPATH:+:$PYTHONPATH}"
fi
if ! "$help" && ! has_module "$python" ultralytics; then
  echo "gpu-check: $python cannot import ultralytics (PYTHONPATH=${PYTHONPATH:-}); copy ../shared/vendor/ultralytics-8.3.40 to .vendor/ or pass --vendor" >&2
  exit 2
fi

# ultralytics stays offline: nothing is downloaded (a GPU test machine may have no network at all).
export YOLO_OFFLINE=true YOLO_AUTOINSTALL=false
export http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9
export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost
export PYTHONDONTWRITEBYTECODE=1 GPU_CHECK_STARTED="$started"
config_dir=$(mktemp -d "${TMPDIR:-/tmp}/yolo-train-gpu-check-config.XXXXXX")
trap 'rm -rf "$config_dir"' EXIT
export YOLO_CONFIG_DIR="$config_dir"
echo "gpu-check: $python with ultralytics from ${vendor:-its import path}; limit ${limit} s" >&2

# The check stops itself 15 s before the limit; this backstop SIGTERMs it 3 s before (it then
# writes its summary and kills the trainer) and SIGKILLs it at the limit.
backstop=()
if command -v timeout >/dev/null 2>&1; then backstop=(timeout --kill-after=3 "$((limit - 3))"); fi
status=0
"${backstop[@]}" "$python" "$here/gpu_check.py" "${pass[@]}" || status=$?
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
  if [ ! -s "$out" ]; then
    mkdir -p "$(dirname "$out")"
    printf '{"schema":"yolo-train/gpu-check@1","passed":false,"timedOut":true,"timeLimitSeconds":%s,"failures":["killed by the backstop timeout (exit %s) before it wrote its summary"]}\n' "$limit" "$status" >"$out"
  fi
  echo "gpu-check: stopped by the ${limit} s backstop (exit $status)" >&2
  exit 1
fi
exit "$status"
