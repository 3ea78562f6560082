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
      nice -n 10 /usr/bin/python3 bench/sweep/recordCurves.py [--recording shapes-finetune-yolov8n-cpu] [--out FILE] [--only f00,f01]

--recording picks the set of trials (RECORDINGS below; docs/sweeps.md describes each):
shapes-yolov8n-cpu (8 trials, 27 epochs, a start that already knows the classes; ~7 CPU-minutes),
shapes-finetune-yolov8n-cpu (27 random trials over optimizer, lr0, imgsz, batch and mosaic, 54
epochs, a new classification layer, reruns of three; ~47 minutes on 2 CPUs) and
shapes-fixedlr-yolov8n-cpu (the same with the learning rate fixed, over imgsz and augmentation;
~45 minutes). Runs are sequential (one CPU-bound training at a time). --only re-records some trials and keeps the others already in the output file;
it retrains the starting checkpoint and refuses to mix when that comes out different, which on
CPU it can despite deterministic=True and a fixed seed (seen: final mAP50-95 0.5916, then 0.5786):
then re-record every trial. Each trial's exact ultralytics arguments are written next
to its curve, with the versions, the dataset and the seed, so anyone can re-record them.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import random
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



# The second recording ("shapes-finetune-yolov8n-cpu"): a sweep the size users run (27 trials
# drawn at random from a space, as `method: random` does), 54 epochs each, and reruns of three
# configurations. Its starting checkpoint is pre-trained on the same kind of images with every
# shape labelled one class ("object"): fine-tuning to the three colour classes then starts with a
# new classification layer (ultralytics keeps only the weights whose shapes match), as fine-tuning
# COCO weights to a customer's classes does; the first recording's checkpoint already knew the
# three classes, so its trials started at their final level.
FINETUNE_EPOCHS = 54
FINETUNE_SPACE_SEED = 12


def with_reruns(trials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The trials, then two reruns (seeds 1 and 2) of each of the first three: the spread the replay's noise comes from."""
    reruns = [
        {"id": f"{base['id']}-rerun{seed}", "rerunOf": base["id"], "args": {**base["args"], "seed": seed}}
        for base in trials[:3]
        for seed in (1, 2)
    ]
    return trials + reruns


def finetune_trials() -> list[dict[str, Any]]:
    rng = random.Random(FINETUNE_SPACE_SEED)
    trials: list[dict[str, Any]] = []
    for i in range(27):
        optimizer = rng.choice(("SGD", "AdamW"))
        low, high = (0.002, 0.05) if optimizer == "SGD" else (0.0003, 0.005)
        lr0 = round(math.exp(rng.uniform(math.log(low), math.log(high))), 5)
        args = {
            "optimizer": optimizer,
            "lr0": lr0,
            "imgsz": rng.choice((64, 96)),
            "batch": rng.choice((4, 8, 16)),
            "mosaic": rng.choice((0.0, 0.5, 1.0)),
        }
        trials.append({"id": f"f{i:02d}", "args": args})
    return with_reruns(trials)


# The third ("shapes-fixedlr-yolov8n-cpu"): the same data, start and length, but a sweep that leaves
# the learning-rate schedule alone (docs/sweeps.md: ASHA loses the best trial when the space varies
# it; the plan advises fixing it and sweeping the rest). SGD at ultralytics' default lr0 0.01 and
# batch 8 for every trial: on 96 images the warm-up lasts max(3 epochs, 100 iterations), so batch
# would change the schedule too. The space: image size and augmentation.
FIXED_LR_SPACE_SEED = 13


def fixed_lr_trials() -> list[dict[str, Any]]:
    # 27 distinct configurations of the 72 the space holds (a draw with replacement repeats some).
    space = [
        {"imgsz": imgsz, "mosaic": mosaic, "scale": scale, "fliplr": fliplr, "mixup": mixup}
        for imgsz in (64, 96)
        for mosaic in (0.0, 0.5, 1.0)
        for scale in (0.2, 0.5, 0.8)
        for fliplr in (0.0, 0.5)
        for mixup in (0.0, 0.2)
    ]
    drawn = random.Random(FIXED_LR_SPACE_SEED).sample(space, 27)
    trials: list[dict[str, Any]] = [
        {"id": f"a{i:02d}", "args": {"optimizer": "SGD", "lr0": 0.01, "batch": 8, **params}} for i, params in enumerate(drawn)
    ]
    return with_reruns(trials)


# What the two fine-tuning recordings share: data, start (a new classification layer) and length.
FINETUNE_RECORDING: dict[str, Any] = {
    "epochs": FINETUNE_EPOCHS,
    # ultralytics' default close_mosaic is 10 of typically 100 epochs.
    "close_mosaic": 5,
    "dataset": {"train": 96, "val": 64, "size": 96, "seed": 7},
    "pretrain_dataset": PRETRAIN_DATASET,
    "pretrain_single_class": True,
}

RECORDINGS: dict[str, dict[str, Any]] = {
    "shapes-yolov8n-cpu": {
        "epochs": EPOCHS,
        "close_mosaic": 3,
        "dataset": DATASET,
        "pretrain_dataset": PRETRAIN_DATASET,
        "pretrain_single_class": False,
        "trials": TRIALS,
    },
    "shapes-finetune-yolov8n-cpu": {
        **FINETUNE_RECORDING,
        "trials": finetune_trials(),
    },
    "shapes-fixedlr-yolov8n-cpu": {
        **FINETUNE_RECORDING,
        "trials": fixed_lr_trials(),
    },
}


def relabel_single_class(data_yaml: Path) -> None:
    """Every box becomes class 0 ("object"): a pre-training task with other classes than the sweep's."""
    root = data_yaml.parent
    for label in (root / "labels").rglob("*.txt"):
        lines = [line.split(" ", 1) for line in label.read_text(encoding="utf-8").splitlines() if line.strip()]
        label.write_text("".join(f"0 {rest}\n" for _, rest in lines), encoding="utf-8")
    text = data_yaml.read_text(encoding="utf-8")
    data_yaml.write_text(text[: text.index("names:")] + "names:\n  0: object\n", encoding="utf-8")


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
    parser.add_argument("--recording", default="shapes-yolov8n-cpu", choices=sorted(RECORDINGS), help="which set of trials (default shapes-yolov8n-cpu)")
    parser.add_argument("--out", default="", help="default bench/sweep/curves/<recording>.json")
    parser.add_argument("--epochs", type=int, default=0, help="epochs per trial (default: the recording's)")
    parser.add_argument("--only", default="", help="comma-separated trial ids to (re-)record; the others are kept from --out")
    options = parser.parse_args()
    recording = RECORDINGS[options.recording]
    only = {t for t in options.only.split(",") if t}
    unknown = sorted(only - {t["id"] for t in recording["trials"]})
    if unknown:
        raise SystemExit(f"--only: no trial {', '.join(unknown)} in the recording {options.recording}")
    COMMON["epochs"] = options.epochs or recording["epochs"]
    COMMON["close_mosaic"] = recording["close_mosaic"]
    dataset = recording["dataset"]
    pretrain_dataset = recording["pretrain_dataset"]

    work = Path(tempfile.mkdtemp(prefix="yolo-train-curves-"))
    # Before ultralytics is imported: its settings (datasets_dir, …) go to a throw-away folder.
    os.environ["YOLO_CONFIG_DIR"] = str(work / "config")
    import torch
    import ultralytics

    out = Path(options.out or ROOT / "bench" / "sweep" / "curves" / f"{options.recording}.json")
    previous: dict[str, Any] = {}
    previous_pretrain = None
    if out.exists() and only:
        kept = json.loads(out.read_text(encoding="utf-8"))
        previous = {t["id"]: t for t in kept["trials"]}
        previous_pretrain = kept["startingCheckpoint"]["pretrain"]["mAP50-95"]

    try:
        data_yaml = write_dataset(work / "shapes", train=dataset["train"], val=dataset["val"], size=dataset["size"], seed=dataset["seed"])
        # synthetic.py writes "path: ." (train.py resolves it against the mount); here it is made absolute.
        data_yaml.write_text(data_yaml.read_text(encoding="utf-8").replace("path: .", f"path: {data_yaml.parent}"), encoding="utf-8")
        scratch = write_starting_checkpoint(work / "start" / "yolov8n.pt")
        pre_yaml = write_dataset(work / "pretrain", train=pretrain_dataset["train"], val=pretrain_dataset["val"], size=pretrain_dataset["size"], seed=pretrain_dataset["seed"])
        pre_yaml.write_text(pre_yaml.read_text(encoding="utf-8").replace("path: .", f"path: {pre_yaml.parent}"), encoding="utf-8")
        if recording["pretrain_single_class"]:
            relabel_single_class(pre_yaml)
        print(f"pretraining the starting checkpoint {PRETRAIN_ARGS}", file=sys.stderr, flush=True)
        pretrain = train_one({"id": "pretrain", "args": {**PRETRAIN_ARGS}}, pre_yaml, scratch, work / "runs")
        print(f"  {pretrain['cpuSeconds']} s, final mAP50-95 {pretrain['mAP50-95'][-1]}", file=sys.stderr, flush=True)
        start = work / "runs" / "pretrain" / "weights" / "last.pt"
        if previous_pretrain is not None and previous_pretrain != pretrain["mAP50-95"]:
            # The kept trials started from the earlier checkpoint: mixing them would compare runs from two starts.
            raise SystemExit(f"the starting checkpoint came out different from the one in {out} (mAP50-95 per epoch differs): re-record every trial (no --only)")
        trials = []
        for trial in recording["trials"]:
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
                    **dataset,
                },
                "startingCheckpoint": {
                    "description": (
                        "yolov8n from write_starting_checkpoint('yolov8n.yaml') (untrained), then trained once with `pretrain.args` "
                        "on `pretrain.dataset` (another draw of the same kind of images"
                        + (", every shape labelled one class 'object': the trials start with a new classification layer" if recording["pretrain_single_class"] else "")
                        + "); every trial starts from its last.pt"
                    ),
                    "pretrain": {"dataset": {**pretrain_dataset, "singleClass": recording["pretrain_single_class"]}, "args": pretrain["args"], "mAP50-95": pretrain["mAP50-95"], "cpuSeconds": pretrain["cpuSeconds"]},
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
