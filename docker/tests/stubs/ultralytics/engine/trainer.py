"""BaseTrainer stand-in: arguments, resume, DDP launch and the epoch loop of ultralytics 8.3.40.

Checkpoints are JSON (the stand-in torch.load reads them) with the fields ultralytics saves that
train.py depends on: `epoch` (0-based, -1 once the run is finalised), `best_fitness` and
`train_args` (including `epochs` and `save_dir`).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from ultralytics.data.dataset import scan_labels
from ultralytics.utils import RANK, USER_CONFIG_DIR, record
from ultralytics.utils.torch_utils import strip_optimizer
from ultralytics.utils.callbacks import add_integration_callbacks, get_default_callbacks

# The train arguments this stand-in knows; like ultralytics' get_cfg, anything else is rejected.
DEFAULTS = {
    "task": "detect",
    "mode": "train",
    "model": None,
    "data": None,
    "epochs": 100,
    "imgsz": 640,
    "batch": 16,
    "device": None,
    "project": None,
    "name": None,
    "exist_ok": False,
    "resume": False,
    "workers": 8,
    "patience": 100,
    "optimizer": "auto",
    "cos_lr": False,
    "warmup_epochs": 3.0,
    "lr0": 0.01,
    "lrf": 0.01,
    "momentum": 0.937,
    "weight_decay": 0.0005,
    "mosaic": 1.0,
    "close_mosaic": 10,
    "seed": 0,
    "plots": True,
}


class BaseTrainer:
    def __init__(self, cfg=None, overrides=None, _callbacks=None):
        args = dict(DEFAULTS)
        args.update(cfg or {})
        overrides = dict(overrides or {})
        if "save_dir" not in args:
            overrides.pop("save_dir", None)  # as get_cfg: only the DDP script's cfg carries save_dir
        unknown = sorted(set(overrides) - set(args))
        if unknown:
            raise SyntaxError(f"'{unknown[0]}' is not a valid YOLO argument.")
        args.update(overrides)
        self.args = SimpleNamespace(**args)
        self.check_resume(overrides)

        if getattr(self.args, "save_dir", None):
            self.save_dir = Path(self.args.save_dir)
        else:
            self.save_dir = Path(self.args.project or "runs/detect") / (self.args.name or "train")
        self.wdir = self.save_dir / "weights"
        if RANK in (-1, 0):
            self.wdir.mkdir(parents=True, exist_ok=True)
            self.args.save_dir = str(self.save_dir)
        self.last, self.best = self.wdir / "last.pt", self.wdir / "best.pt"
        self.csv = self.save_dir / "results.csv"
        self.epochs = self.args.epochs
        self.epoch = 0
        self.metrics = None
        self.tloss = None
        self.callbacks = _callbacks or get_default_callbacks()
        if RANK in (-1, 0):
            add_integration_callbacks(self)
        record({"event": "trainer", "class": f"{type(self).__module__}.{type(self).__name__}", "saveDir": str(self.save_dir), "resume": self.resume})

    def check_resume(self, overrides):
        self.resume = bool(self.args.resume)
        if not self.resume:
            return
        last = Path(str(self.args.resume))
        if not last.is_file():
            raise FileNotFoundError("Resume checkpoint not found. Please pass a valid checkpoint to resume from")
        ckpt_args = json.loads(last.read_text(encoding="utf-8"))["train_args"]
        if not Path(str(ckpt_args["data"])).exists():
            ckpt_args["data"] = self.args.data
        self.args = SimpleNamespace(**{**DEFAULTS, **ckpt_args})
        self.args.model = self.args.resume = str(last)
        for key in ("imgsz", "batch", "device"):
            if key in overrides:
                setattr(self.args, key, overrides[key])

    def add_callback(self, event, callback):
        self.callbacks[event].append(callback)

    def run_callbacks(self, event):
        for callback in self.callbacks.get(event, []):
            callback(self)

    def label_loss_items(self, loss_items=None, prefix="train"):
        keys = [f"{prefix}/{name}" for name in ("box_loss", "cls_loss", "dfl_loss")]
        return dict(zip(keys, [round(float(x), 5) for x in loss_items])) if loss_items is not None else keys

    def train(self):
        device = self.args.device
        world = len(device) if isinstance(device, (list, tuple)) else len(str(device).split(",")) if "," in str(device) else 1
        if world > 1 and "LOCAL_RANK" not in os.environ:
            self._launch_ddp(world)
        else:
            self._do_train()

    def _launch_ddp(self, world):
        """As ultralytics.utils.dist: a script that imports this trainer's class by name, run per rank."""
        if not self.resume:
            shutil.rmtree(self.save_dir, ignore_errors=True)
        module, name = f"{type(self).__module__}.{type(self).__name__}".rsplit(".", 1)
        script = (
            f"overrides = {vars(self.args)!r}\n\n"
            'if __name__ == "__main__":\n'
            f"    from {module} import {name}\n"
            "    cfg = {'save_dir': ''}\n"
            f"    trainer = {name}(cfg=cfg, overrides=overrides)\n"
            "    trainer.train()\n"
        )
        (USER_CONFIG_DIR / "DDP").mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", suffix=".py", prefix="_temp_", dir=USER_CONFIG_DIR / "DDP", delete=False) as handle:
            handle.write(script)
        record({"event": "ddp", "world": world, "script": handle.name})
        try:
            # Ranks other than 0 first: a hook that forgets to check the rank shows up in the output.
            for rank in reversed(range(world)):
                env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world)}
                subprocess.run([sys.executable, handle.name], env=env, check=True)
        finally:
            os.remove(handle.name)

    def _do_train(self):
        main = RANK in (-1, 0)
        self.run_callbacks("on_pretrain_routine_start")
        start, best_fitness = 0, None
        if self.resume:
            ckpt = json.loads(Path(self.args.resume).read_text(encoding="utf-8"))
            if os.environ.get("STUB_NOTHING_TO_RESUME"):
                ckpt["epoch"] = -1
            start, best_fitness = ckpt["epoch"] + 1, ckpt.get("best_fitness")
            assert start > 0, (
                f"{self.args.model} training to {self.epochs} epochs is finished, nothing to resume.\n"
                f"Start a new training without resuming, i.e. 'yolo train model={self.args.model}'"
            )
        scan_labels(self.args.data)
        self.train_loader = SimpleNamespace(dataset=list(range(int(os.environ.get("STUB_IMAGES", "128")))))
        self.run_callbacks("on_pretrain_routine_end")
        self.run_callbacks("on_train_start")
        fail_at = int(os.environ.get("STUB_FAIL_AT_EPOCH") or 0)
        for epoch in range(start, self.epochs):
            self.epoch = epoch
            self.run_callbacks("on_train_epoch_start")
            if fail_at == epoch + 1:
                raise RuntimeError("CUDA error: out of memory (stub)")
            time.sleep(0.005)
            self.tloss = [1.5 / (epoch + 1), 1.0 / (epoch + 1), 0.9 / (epoch + 1)]
            self.run_callbacks("on_train_epoch_end")
            if main:
                fitness = round(0.1 * (epoch + 1), 4)
                self.metrics = {
                    "metrics/precision(B)": 0.5,
                    "metrics/recall(B)": 0.4,
                    "metrics/mAP50(B)": round(fitness + 0.2, 4),
                    "metrics/mAP50-95(B)": fitness,
                    "val/box_loss": 1.2,
                    "val/cls_loss": float("nan") if os.environ.get("STUB_NAN_LOSS") else 0.8,
                    "val/dfl_loss": 1.0,
                }
                self._save_metrics()
                improved = best_fitness is None or fitness >= best_fitness
                best_fitness = max(fitness, best_fitness or fitness)
                self._save_model(epoch, best_fitness, improved)
            record({"event": "epoch", "epoch": epoch + 1, "of": self.epochs, "saveDir": str(self.save_dir)})
            self.run_callbacks("on_fit_epoch_end")
        if main:
            self.final_eval()
            self.run_callbacks("on_train_end")
        self.run_callbacks("teardown")

    def final_eval(self):
        """As 8.3.40: strip last.pt and best.pt, validate best.pt and report it through on_fit_epoch_end again.

        That second call is for the epoch already reported, with best.pt's metrics and no val/* losses.
        """
        ckpt = {}
        for weights in (self.last, self.best):
            if not weights.exists():
                continue
            if weights is self.last:
                ckpt = strip_optimizer(weights)
            else:
                strip_optimizer(weights, updates={"train_results": ckpt["train_results"]} if "train_results" in ckpt else None)
                record({"event": "final_eval", "weights": str(weights)})
                fitness = json.loads(weights.read_text(encoding="utf-8")).get("best_fitness") or 0.0
                self.validator = SimpleNamespace(metrics=SimpleNamespace(fitness=fitness), names={0: "pallet", 1: "box"})
                self.metrics = {"metrics/precision(B)": 0.55, "metrics/recall(B)": 0.45, "metrics/mAP50(B)": round(fitness + 0.2, 4), "metrics/mAP50-95(B)": fitness}
                self.run_callbacks("on_fit_epoch_end")

    def _save_metrics(self):
        keys = ["epoch", "time", *self.metrics]
        header = "" if self.csv.exists() else ",".join(keys) + "\n"
        with open(self.csv, "a", encoding="utf-8") as handle:
            handle.write(header + ",".join(str(v) for v in [self.epoch + 1, 0.0, *self.metrics.values()]) + "\n")

    def _save_model(self, epoch, best_fitness, improved):
        ckpt = {"epoch": epoch, "best_fitness": best_fitness, "optimizer": {"state": "stub"}, "train_args": vars(self.args)}
        self.last.write_text(json.dumps(ckpt), encoding="utf-8")
        if improved:
            self.best.write_text(json.dumps(ckpt), encoding="utf-8")
