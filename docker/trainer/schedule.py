"""One learning-rate schedule over every progressive phase, as if the run were one training.

ultralytics trains each phase as a run of its own: its LR falls from lr0 to lr0·lrf over the
phase's epochs, and `optimizer: auto` picks AdamW or SGD from the phase's iteration count. A run
of [{imgsz: 320, epochs: 20}, {imgsz: 640, epochs: 80}] would then decay the LR to its floor at
epoch 20, jump back to lr0 and perhaps change optimizer. Here phase k's epoch x is epoch
`offset + x` of one schedule over all `total` epochs (ultralytics' own linear or cosine formula),
and `auto` is decided from the whole run's iterations, so every phase uses the same optimizer.

Resuming is unaffected: ultralytics restores the optimizer and sets the scheduler's last epoch, and
this factor depends only on the epoch and the phase's fixed offset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence


@dataclass(frozen=True)
class RunSchedule:
    offset_epochs: int
    """Epochs of the phases before this one."""
    total_epochs: int
    """Epochs of every phase together."""

    @staticmethod
    def from_config(config: Mapping[str, Any] | None) -> RunSchedule | None:
        """The schedule in the hooks configuration; None for a run of one phase (ultralytics' own then)."""
        schedule = (config or {}).get("schedule")
        if not isinstance(schedule, Mapping):
            return None
        return RunSchedule(offset_epochs=int(schedule["offsetEpochs"]), total_epochs=int(schedule["totalEpochs"]))

    def run_iterations(self, phase_iterations: float, phase_epochs: int) -> float:
        """ultralytics' iteration count (batches per epoch × epochs) for the whole run instead of this phase."""
        return phase_iterations / max(phase_epochs, 1) * self.total_epochs

    def lr_factor(self, *, cos_lr: bool, lrf: float) -> Callable[[float], float]:
        """The LambdaLR factor for this phase's epoch x: ultralytics' formula at epoch offset + x of the run."""
        total, offset = self.total_epochs, self.offset_epochs
        if cos_lr:
            # ultralytics.utils.ops.one_cycle(1, lrf, total)
            return lambda x: ((1 - math.cos((x + offset) * math.pi / total)) / 2) * (lrf - 1) + 1
        return lambda x: max(1 - (x + offset) / total, 0) * (1.0 - lrf) + lrf


# ultralytics' default: mosaic augmentation off for the last 10 epochs of a training.
ULTRALYTICS_CLOSE_MOSAIC = 10


def phase_overrides(phases: Sequence[Any], hyperparameters: Mapping[str, Any], index: int) -> dict[str, Any]:
    """Train arguments that make phase `index` continue the run rather than start a training of its own.

    - close_mosaic: mosaic closes in the last epochs of the run, not of every phase; and never more
      epochs than the phase has. ultralytics keeps mosaic on for a whole run shorter than
      close_mosaic, but closes it at once when such a run is resumed (resume_training's
      `start_epoch > epochs - close_mosaic`): capped, both close it from the first epoch.
    - warmup_epochs: 0 after the first phase; the weights are past warm-up, and a second warm-up
      (bias LR 0.1) would knock them back.
    """
    close = int(hyperparameters.get("close_mosaic", ULTRALYTICS_CLOSE_MOSAIC))
    final = index == len(phases) - 1
    overrides: dict[str, Any] = {"close_mosaic": min(close, int(phases[index].epochs)) if final else 0}
    if index > 0:
        overrides["warmup_epochs"] = 0
    return overrides


def schedule_config(phases: Sequence[Any], index: int) -> dict[str, int] | None:
    """The hooks' `schedule` for phase `index`: its offset in the run and the run's epochs; None for one phase."""
    if len(phases) < 2:
        return None
    return {"offsetEpochs": sum(int(p.epochs) for p in phases[:index]), "totalEpochs": sum(int(p.epochs) for p in phases)}
