"""The ultralytics trainer class every phase trains with.

Why a class and not callbacks added to the model: with several GPUs ultralytics trains in DDP
workers that it starts from a generated script, and that script builds the trainer from
`<trainer class module>.<class name>` with ultralytics' default callbacks only. Callbacks added
in this process never reach the workers; a trainer class does, because the workers import it
by name (PYTHONPATH includes /app; trainer.run makes sure of it). Its configuration travels in
the YOLO_TRAIN_HOOKS environment variable, which the workers inherit.

What it adds, in the process that trains (rank 0, or the only process):
- a progress line per epoch in progress.jsonl (docs/node-runtime.md);
- for W&B, the W&B run started with the spec's project before ultralytics' callback would start
  one named after the work dir;
- a guard around ultralytics' tracking callbacks: a tracking service that fails is switched off
  for the rest of the phase instead of failing the training;
- ultralytics' final evaluation of best.pt (`final_eval`, which calls `on_fit_epoch_end` a second
  time for the last epoch) written to its own file instead of a second progress line, and skipped
  in phases before the last, whose best.pt nobody evaluates;
- one learning-rate schedule over all progressive phases, and `optimizer: auto` decided for the
  whole run (schedule.py);
- label caches on the scratch disk instead of next to the labels on the read-only dataset mount
  (label_cache.py).
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping

from ultralytics.models.yolo.detect import DetectionTrainer
from ultralytics.utils import RANK

from .label_cache import redirect_label_caches
from .records import append_line, epoch_record, numbers, class_names, write_json_atomically
from .schedule import RunSchedule
from .tracking import redact

HOOKS_ENV = "YOLO_TRAIN_HOOKS"
CALLBACK_MODULE_PREFIX = "ultralytics.utils.callbacks."
TRACKING_MODULES = frozenset(
    CALLBACK_MODULE_PREFIX + name for name in ("clearml", "comet", "dvc", "hub", "mlflow", "neptune", "raytune", "tensorboard", "wb")
)
WANDB_MODULE = CALLBACK_MODULE_PREFIX + "wb"


def hooks_config(env: Mapping[str, str] = os.environ) -> dict[str, Any] | None:
    raw = env.get(HOOKS_ENV)
    return json.loads(raw) if raw else None


def is_main_process() -> bool:
    return RANK in (-1, 0)


class YoloTrainDetectionTrainer(DetectionTrainer):
    """ultralytics' DetectionTrainer with the yolo-train hooks installed (see the module comment)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.yolo_train = hooks_config()
        self.yolo_train_schedule = RunSchedule.from_config(self.yolo_train)
        self.in_final_eval = False
        install(self, self.yolo_train)

    def build_optimizer(self, model: Any, name: str = "auto", lr: float = 0.001, momentum: float = 0.9, decay: float = 1e-5, iterations: float = 1e5) -> Any:
        # ultralytics picks AdamW or SGD from this phase's iterations; over the whole run, so every
        # phase trains with the same optimizer.
        if self.yolo_train_schedule is not None:
            iterations = self.yolo_train_schedule.run_iterations(iterations, self.epochs)
        return super().build_optimizer(model, name=name, lr=lr, momentum=momentum, decay=decay, iterations=iterations)

    def _setup_scheduler(self) -> None:
        if self.yolo_train_schedule is None or self.args.time:
            super()._setup_scheduler()
            return
        from torch import optim

        self.lf = self.yolo_train_schedule.lr_factor(cos_lr=bool(self.args.cos_lr), lrf=float(self.args.lrf))
        self.scheduler = optim.lr_scheduler.LambdaLR(self.optimizer, lr_lambda=self.lf)

    def final_eval(self) -> None:
        if self.yolo_train is not None and not self.yolo_train.get("finalEval"):
            strip_checkpoints(self.last, self.best)
            return
        self.in_final_eval = True
        try:
            super().final_eval()
        finally:
            self.in_final_eval = False


def strip_checkpoints(last: Any, best: Any) -> None:
    """ultralytics' end-of-training rewrite of last.pt and best.pt (final weights, `epoch` -1), without evaluating."""
    from ultralytics.utils.torch_utils import strip_optimizer

    ckpt = strip_optimizer(last) if last.exists() else {}
    if best.exists():
        strip_optimizer(best, updates={"train_results": ckpt["train_results"]} if "train_results" in ckpt else None)


def install(trainer: Any, config: dict[str, Any] | None) -> None:
    if config is None:
        return
    if config.get("labelCache"):
        redirect_label_caches(config["labelCache"])
    guard = TrackingGuard()
    guard.wrap_all(trainer.callbacks)
    if config.get("wandb"):
        trainer.callbacks.setdefault("on_pretrain_routine_start", []).insert(0, functools.partial(start_wandb, settings=config["wandb"], guard=guard))
    clock = EpochClock()
    trainer.add_callback("on_train_epoch_start", clock.start)
    trainer.add_callback("on_train_epoch_end", clock.stop)
    trainer.add_callback("on_fit_epoch_end", functools.partial(write_progress, config=config, clock=clock))


class EpochClock:
    """Seconds spent on the training batches of the current epoch (validation excluded)."""

    def __init__(self) -> None:
        self._started: float | None = None
        self.seconds: float | None = None

    def start(self, _trainer: Any) -> None:
        self._started = time.monotonic()
        self.seconds = None

    def stop(self, _trainer: Any) -> None:
        if self._started is not None:
            self.seconds = time.monotonic() - self._started


class TrackingGuard:
    """Runs tracking callbacks so that an exception switches that tracker off instead of failing the run."""

    def __init__(self) -> None:
        self.disabled: set[str] = set()

    def wrap_all(self, callbacks: dict[str, list[Callable[[Any], None]]]) -> None:
        for event, functions in callbacks.items():
            callbacks[event] = [self.wrap(f) if _module_of(f) in TRACKING_MODULES else f for f in functions]

    def wrap(self, function: Callable[[Any], None]) -> Callable[[Any], None]:
        if getattr(function, "_yolo_train_guarded", False):
            return function
        module = _module_of(function)

        @functools.wraps(function)
        def guarded(trainer: Any) -> None:
            if module in self.disabled:
                return
            try:
                function(trainer)
            except Exception as error:  # noqa: BLE001 - tracking never fails a training run
                self.disable(module, error)

        guarded._yolo_train_guarded = True  # type: ignore[attr-defined]
        return guarded

    def disable(self, module: str, error: BaseException) -> None:
        self.disabled.add(module)
        name = module.rsplit(".", 1)[-1]
        message = redact(f"{type(error).__name__}: {error}", os.environ)
        print(f"yolo-train: tracking ({name}) failed and is off for the rest of this phase: {message}", file=sys.stderr, flush=True)


def start_wandb(trainer: Any, settings: dict[str, str], guard: TrackingGuard) -> None:
    if not is_main_process() or WANDB_MODULE in guard.disabled:
        return
    try:
        import wandb

        if wandb.run is None:
            wandb.init(
                project=settings["project"],
                name=settings["name"],
                id=settings["id"],
                resume="allow",  # a resumed phase continues its W&B run
                config=dict(vars(trainer.args)),
                dir=str(trainer.save_dir),
            )
    except Exception as error:  # noqa: BLE001
        guard.disable(WANDB_MODULE, error)


def write_progress(trainer: Any, config: dict[str, Any], clock: EpochClock) -> None:
    if not is_main_process():
        return
    if getattr(trainer, "in_final_eval", False):
        # ultralytics' final evaluation of best.pt reports through the same callback: its metrics
        # belong to result.json, not to a second line for the last epoch.
        write_final_evaluation(trainer, config)
        return
    try:
        losses = trainer.label_loss_items(trainer.tloss, prefix="train") if trainer.tloss is not None else {}
        record = epoch_record(
            phase=config["phase"],
            phases=config["phases"],
            epoch=int(trainer.epoch) + 1,
            epochs=int(trainer.epochs),
            metrics=trainer.metrics or {},
            losses=losses if isinstance(losses, dict) else {},
            images=_dataset_size(trainer),
            seconds=clock.seconds,
        )
        append_line(config["progress"], record)
    except Exception as error:  # noqa: BLE001 - a lost progress line must not cost the run
        print(f"yolo-train: could not write the progress line: {type(error).__name__}: {error}", file=sys.stderr, flush=True)


def write_final_evaluation(trainer: Any, config: dict[str, Any]) -> None:
    """best.pt's metrics from ultralytics' own final evaluation, for run.py to report without validating again."""
    try:
        validator = getattr(trainer, "validator", None)
        metrics = dict(numbers(trainer.metrics or {}))
        fitness = getattr(getattr(validator, "metrics", None), "fitness", None)
        if fitness is not None:
            metrics.update(numbers({"fitness": fitness}))  # final_eval pops it; the contract keeps it
        best = Path(trainer.best)
        stat = best.stat()  # after final_eval's rewrite of best.pt: run.py checks it is still this file
        evaluation: dict[str, Any] = {
            "weights": str(best),
            "weightsBytes": stat.st_size,
            "weightsMtimeNs": stat.st_mtime_ns,
            "imgsz": int(trainer.args.imgsz),
            "metrics": metrics,
        }
        names = class_names(getattr(validator, "names", None))
        if names is not None:
            evaluation["classNames"] = names
        write_json_atomically(Path(config["finalEval"]), evaluation)
    except Exception as error:  # noqa: BLE001 - run.py evaluates the weights itself when this file is missing
        print(f"yolo-train: could not record the final evaluation: {type(error).__name__}: {error}", file=sys.stderr, flush=True)


def _dataset_size(trainer: Any) -> int | None:
    try:
        return len(trainer.train_loader.dataset)
    except Exception:  # noqa: BLE001
        return None


def _module_of(function: Any) -> str:
    return getattr(function, "__module__", "") or ""
