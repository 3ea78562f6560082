"""Records real per-epoch learning curves for `npm run bench:sweep` (issue 12): the real ultralytics
8.3.40 on CPU, training a handful of configurations that differ the way a sweep's trials would, and
writing each epoch's validation mAP50-95 and mAP50 to bench/sweep/curves/<name>.json.

What these are, honestly: tiny CPU runs of a yolov8n built from ultralytics' own yolov8n.yaml
(random initialisation: nothing can be downloaded) on a synthetic dataset of coloured shapes
(docker/tests/real/synthetic.py: three classes, plain grey backgrounds), at imgsz 64–96. Not COCO,
not a customer dataset, not a GPU. They are real learning curves of the real trainer, with its
real LR schedule, warm-up, mosaic and close_mosaic, which is what the simulator's synthetic
families only assume.

Run (from the repository root; Debian's CPU PyTorch, i.e. /usr/bin/python3, not a pyenv one, and the vendored ultralytics, offline):

    PYTHONPATH=../shared/vendor/ultralytics-8.3.40 YOLO_OFFLINE=true YOLO_AUTOINSTALL=false \
      http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 \
      nice -n 10 /usr/bin/python3 bench/sweep/recordCurves.py [--out bench/sweep/curves/shapes-yolov8n-cpu.json] [--only t00,t01]

Runs are sequential (one CPU-bound training at a time); the whole recording took ~7 CPU-minutes
on 2 shared CPUs. --only re-records some trials and keeps the others already in the output file;
it retrains the starting checkpoint and refuses to mix when that comes out different, which on
CPU it can despite deterministic=True and a fixed seed (seen: final mAP50-95 0.5916, then 0.5786):
then re-record every trial. Each trial's exact ultralytics arguments are written next
to its curve, with the versions, the dataset and the seed, so anyone can re-record them.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docker" / "tests" / "real"))

from synthetic import CLASS_NAMES, write_dataset, write_starting_checkpoint  # noqa: E402

DATASET = {"train": 64, "val": 48, "size": 96, "seed": 7}
EPOCHS = 27
SEED = 0

# Sweeps fine-tune pretrained weights, and a yolov8n trained from random weights on 64 images
# scores ~0 mAP for its first ~20 epochs. So a starting checkpoint is trained first, once, on
# another draw of the same kind of images (a "related dataset", never the sweep's own), and every
# trial starts from it. Its arguments and final mAP go into the file too.
PRETRAIN_DATASET = {"train": 96, "val": 16, "size": 96, "seed": 99}
PRETRAIN_ARGS: dict[str, Any] = {"epochs": 60, "optimizer": "AdamW", "lr0": 0.002, "imgsz": 64, "batch": 16, "mosaic": 1.0, "close_mosaic": 5}

# What every trial shares: CPU, no workers (2 shared CPUs), no plots, deterministic, the dataset's
# own seed. close_mosaic 3 (of 27 epochs; ultralytics' default is 10 of typically 100+).
COMMON: dict[str, Any] = {
    "epochs": EPOCHS,
    "device": "cpu",
    "workers": 0,
    "plots": False,
    "amp": False,
    "deterministic": True,
    "close_mosaic": 3,
    "patience": 0,
    "val": True,
    "verbose": False,
}

# The trials: what a sweep over lr0, imgsz, batch, optimizer and augmentation would try.
# "-rerun" trials repeat t00 with another seed, to measure how much a rerun of one configuration differs.
TRIALS: list[dict[str, Any]] = [
    {"id": "t00", "args": {"optimizer": "SGD", "lr0": 0.01, "imgsz": 64, "batch": 8, "mosaic": 1.0}},
    {"id": "t01", "args": {"optimizer": "SGD", "lr0": 0.002, "imgsz": 64, "batch": 8, "mosaic": 1.0}},
    {"id": "t02", "args": {"optimizer": "SGD", "lr0": 0.04, "imgsz": 64, "batch": 8, "mosaic": 1.0}},
    {"id": "t03", "args": {"optimizer": "AdamW", "lr0": 0.001, "imgsz": 64, "batch": 8, "mosaic": 1.0}},
    {"id": "t04", "args": {"optimizer": "AdamW", "lr0": 0.003, "imgsz": 64, "batch": 16, "mosaic": 0.0}},
    {"id": "t05", "args": {"optimizer": "SGD", "lr0": 0.01, "imgsz": 96, "batch": 16, "mosaic": 1.0}},
    {"id": "t06", "args": {"optimizer": "SGD", "lr0": 0.01, "imgsz": 64, "batch": 16, "mosaic": 0.0}},
    {"id": "t07", "args": {"optimizer": "SGD", "lr0": 0.02, "imgsz": 64, "batch": 4, "mosaic": 1.0, "warmup_epochs": 0}},
    {"id": "t00-rerun1", "rerunOf": "t00", "args": {"optimizer": "SGD", "lr0": 0.01, "imgsz": 64, "batch": 8, "mosaic": 1.0, "seed": 1}},
    {"id": "t00-rerun2", "rerunOf": "t00", "args": {"optimizer": "SGD", "lr0": 0.01, "imgsz": 64, "batch": 8, "mosaic": 1.0, "seed": 2}},
]


def read_results(path: Path) -> list[dict[str, float]]:
    with open(path, encoding="utf-8") as handle:
        return [{k.strip(): float(v) for k, v in row.items()} for row in csv.DictReader(handle, skipinitialspace=True)]


def train_one(trial: dict[str, Any], data_yaml: Path, start: Path, work: Path) -> dict[str, Any]:
    from ultralytics import YOLO

    args = {**COMMON, "seed": SEED, **trial["args"], "data": str(data_yaml), "project": str(work), "name": trial["id"], "exist_ok": True}
    began = time.monotonic()
    YOLO(str(start)).train(**args)
    seconds = time.monotonic() - began
    rows = read_results(work / trial["id"] / "results.csv")
    recorded_args = {k: v for k, v in args.items() if k not in ("data", "project", "name", "exist_ok")}
    return {
        "id": trial["id"],
        **({"rerunOf": trial["rerunOf"]} if "rerunOf" in trial else {}),
        "args": recorded_args,
        "epochs": len(rows),
        "mAP50-95": [round(r["metrics/mAP50-95(B)"], 6) for r in rows],
        "mAP50": [round(r["metrics/mAP50(B)"], 6) for r in rows],
        "cpuSeconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "bench" / "sweep" / "curves" / "shapes-yolov8n-cpu.json"))
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=f"epochs per trial ({EPOCHS})")
    parser.add_argument("--only", default="", help="comma-separated trial ids to (re-)record; the others are kept from --out")
    options = parser.parse_args()
    only = {t for t in options.only.split(",") if t}
    COMMON["epochs"] = options.epochs

    work = Path(tempfile.mkdtemp(prefix="yolo-train-curves-"))
    # Before ultralytics is imported: its settings (datasets_dir, …) go to a throw-away folder.
    os.environ["YOLO_CONFIG_DIR"] = str(work / "config")
    import torch
    import ultralytics

    out = Path(options.out)
    previous: dict[str, Any] = {}
    previous_pretrain = None
    if out.exists() and only:
        kept = json.loads(out.read_text(encoding="utf-8"))
        previous = {t["id"]: t for t in kept["trials"]}
        previous_pretrain = kept["startingCheckpoint"]["pretrain"]["mAP50-95"]

    try:
        data_yaml = write_dataset(work / "shapes", train=DATASET["train"], val=DATASET["val"], size=DATASET["size"], seed=DATASET["seed"])
        # synthetic.py writes "path: ." (train.py resolves it against the mount); here it is made absolute.
        data_yaml.write_text(data_yaml.read_text(encoding="utf-8").replace("path: .", f"path: {data_yaml.parent}"), encoding="utf-8")
        scratch = write_starting_checkpoint(work / "start" / "yolov8n.pt")
        pre_yaml = write_dataset(work / "pretrain", train=PRETRAIN_DATASET["train"], val=PRETRAIN_DATASET["val"], size=PRETRAIN_DATASET["size"], seed=PRETRAIN_DATASET["seed"])
        pre_yaml.write_text(pre_yaml.read_text(encoding="utf-8").replace("path: .", f"path: {pre_yaml.parent}"), encoding="utf-8")
        print(f"pretraining the starting checkpoint {PRETRAIN_ARGS}", file=sys.stderr, flush=True)
        pretrain = train_one({"id": "pretrain", "args": {**PRETRAIN_ARGS}}, pre_yaml, scratch, work / "runs")
        print(f"  {pretrain['cpuSeconds']} s, final mAP50-95 {pretrain['mAP50-95'][-1]}", file=sys.stderr, flush=True)
        start = work / "runs" / "pretrain" / "weights" / "last.pt"
        if previous_pretrain is not None and previous_pretrain != pretrain["mAP50-95"]:
            # The kept trials started from the earlier checkpoint: mixing them would compare runs from two starts.
            raise SystemExit(f"the starting checkpoint came out different from the one in {out} (mAP50-95 per epoch differs): re-record every trial (no --only)")
        trials = []
        for trial in TRIALS:
            if only and trial["id"] not in only:
                if trial["id"] in previous:
                    trials.append(previous[trial["id"]])
                continue
            print(f"recording {trial['id']} {trial['args']}", file=sys.stderr, flush=True)
            record = train_one(trial, data_yaml, start, work / "runs")
            print(f"  {record['cpuSeconds']} s, final mAP50-95 {record['mAP50-95'][-1]}", file=sys.stderr, flush=True)
            trials.append(record)
            # Write after every trial, so an interrupted recording keeps what it has.
            document = {
                "schemaVersion": 1,
                "name": out.stem,
                "metric": "metrics/mAP50-95(B)",
                "note": (
                    "Tiny CPU runs on a synthetic dataset of coloured shapes (not COCO, not a real dataset, not a GPU): "
                    "yolov8n from ultralytics' yolov8n.yaml, randomly initialised, trained by the real ultralytics; "
                    "recorded by bench/sweep/recordCurves.py."
                ),
                "ultralytics": ultralytics.__version__,
                "torch": torch.__version__,
                "python": platform.python_version(),
                "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, device cpu",
                "recordedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "dataset": {
                    "description": "docker/tests/real/synthetic.py write_dataset: grey backgrounds with 1-3 filled shapes, one class per colour",
                    "classes": list(CLASS_NAMES),
                    **DATASET,
                },
                "startingCheckpoint": {
                    "description": (
                        "yolov8n from write_starting_checkpoint('yolov8n.yaml') (untrained), then trained once with `pretrain.args` "
                        "on `pretrain.dataset` (another draw of the same kind of images); every trial starts from its last.pt"
                    ),
                    "pretrain": {"dataset": PRETRAIN_DATASET, "args": pretrain["args"], "mAP50-95": pretrain["mAP50-95"], "cpuSeconds": pretrain["cpuSeconds"]},
                },
                "seed": SEED,
                "trials": trials,
            }
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
