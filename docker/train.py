"""Train one YOLO run as the stack's run spec describes, then export the best weights to ONNX.

The node's user data mounts the dataset at /data and passes the run spec (JSON) through
YOLO_TRAIN_RUN_SPEC. Checkpoint upload, resume after spot interruptions and teardown belong to
the run agent that supervises this script; this file only trains and exports.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

SCRATCH = Path(os.environ.get("YOLO_TRAIN_SCRATCH", "/scratch"))


def load_run_spec(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        spec = json.load(handle)
    if spec.get("schemaVersion") != 1:
        raise SystemExit(f"run spec {path}: schemaVersion {spec.get('schemaVersion')!r} is not supported (expected 1)")
    return spec


def data_argument(spec: dict) -> str:
    data = spec["data"]
    return data["yaml"] if data["kind"] == "builtin" else data["yamlPath"]


def train_arguments(spec: dict, run_dir: Path) -> dict:
    train = spec["train"]
    gpus = int(train["gpus"])
    args = dict(train.get("hyperparameters", {}))
    args.update(
        data=data_argument(spec),
        epochs=int(train["epochs"]),
        imgsz=int(train["imgsz"]),
        batch=train["batch"],
        # A list of devices makes ultralytics run DDP on one node.
        device=list(range(gpus)) if gpus > 1 else 0,
        project=str(run_dir.parent),
        name=run_dir.name,
        exist_ok=True,
    )
    return args


def main() -> int:
    spec_path = os.environ.get("YOLO_TRAIN_RUN_SPEC")
    if not spec_path:
        print("YOLO_TRAIN_RUN_SPEC is not set: pass the run spec file's path", file=sys.stderr)
        return 2
    spec = load_run_spec(spec_path)

    from ultralytics import YOLO  # imported late so a bad spec fails fast

    run_dir = SCRATCH / "runs" / spec["runId"]
    model = YOLO(spec["model"])
    model.train(**train_arguments(spec, run_dir))

    best = run_dir / "weights" / "best.pt"
    exported = YOLO(str(best)).export(format="onnx", imgsz=int(spec["train"]["imgsz"]))
    result = {"runId": spec["runId"], "best": str(best), "onnx": str(exported)}
    (run_dir / "result.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
