"""YOLO model stand-in: train, val and export record their arguments; weights are stand-in files."""

import json
import os
import re
from pathlib import Path
from types import SimpleNamespace

from ultralytics.utils import record
from ultralytics.utils.callbacks import get_default_callbacks

# Environment a train call records, so tests see what ultralytics and its integrations would read.
RECORDED_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN", "WANDB_PROJECT", "WANDB_NAME", "WANDB_RUN_ID")


def download_asset(path):
    """As attempt_download_asset: an official weights name missing on disk is downloaded to the path given.

    A bare name therefore lands in the working directory, a full path in its folder; anything else
    must exist.
    """
    if not re.fullmatch(r"yolo(v[58]|11)[nsmlx]u?\.pt", path.name):
        raise FileNotFoundError(f"{path} does not exist")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"epoch": -1, "best_fitness": None, "train_args": {}}), encoding="utf-8")
    record({"event": "download", "file": str(path.absolute())})


class Model:
    def __init__(self, model="yolov8n.pt", task=None, verbose=False):
        path = Path(str(model))
        if path.suffix != ".pt":
            raise ValueError(f"stub ultralytics only loads .pt weights, not {model}")
        if not path.is_file():
            download_asset(path)
        self.ckpt_path = str(model)
        self.task = task or "detect"
        self.callbacks = get_default_callbacks()
        self.trainer = None
        record({"event": "YOLO", "model": str(model)})

    def add_callback(self, event, func):
        self.callbacks[event].append(func)

    def train(self, trainer=None, **kwargs):
        from ultralytics.models.yolo.detect import DetectionTrainer

        cls = trainer or DetectionTrainer
        record(
            {
                "event": "train",
                "model": self.ckpt_path,
                "trainer": f"{cls.__module__}.{cls.__name__}",
                "kwargs": kwargs,
                "env": {k: os.environ[k] for k in RECORDED_ENV if k in os.environ},
            }
        )
        args = {**kwargs, "model": self.ckpt_path, "task": self.task, "mode": "train"}
        if kwargs.get("resume"):
            args["resume"] = self.ckpt_path
        self.trainer = cls(overrides=args, _callbacks=self.callbacks)
        self.trainer.train()
        return self.trainer.metrics

    def val(self, **kwargs):
        record({"event": "val", "model": self.ckpt_path, "kwargs": kwargs})
        return SimpleNamespace(
            results_dict={
                "metrics/precision(B)": 0.61,
                "metrics/recall(B)": 0.52,
                "metrics/mAP50(B)": 0.58,
                "metrics/mAP50-95(B)": 0.41,
                "fitness": 0.427,
            },
            # As DetMetrics after DetectionValidator.init_metrics: the model's names by class index.
            names={0: "pallet", 1: "box"},
        )

    def export(self, **kwargs):
        record({"event": "export", "model": self.ckpt_path, "kwargs": kwargs})
        if os.environ.get("STUB_EXPORT_FAIL"):
            raise RuntimeError("ONNX: export failure (stub)")
        onnx = Path(self.ckpt_path).with_suffix(".onnx")
        onnx.write_bytes(b"stub onnx model")
        return str(onnx)


class YOLO(Model):
    pass
