"""What an ultralytics checkpoint says about its run.

ultralytics saves `epoch` (0-based, the last epoch completed) and `train_args` (with `epochs`
and `save_dir`) in last.pt after every epoch. When a run finishes, it strips last.pt and best.pt
to the final weights and sets `epoch` to -1; `YOLO(last.pt).train(resume=True)` then fails with
"... training to N epochs is finished, nothing to resume". A checkpoint whose epoch is the last
one, saved before that final step, is finished too: resuming it would train an extra epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NOTHING_TO_RESUME = "nothing to resume"


@dataclass(frozen=True)
class CheckpointState:
    epoch: int
    """0-based index of the last completed epoch; -1 once ultralytics has finalised the run."""
    epochs: int | None
    save_dir: str | None

    @property
    def finished(self) -> bool:
        return self.epoch < 0 or (self.epochs is not None and self.epoch + 1 >= self.epochs)


def state_of(checkpoint: Any) -> CheckpointState | None:
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("epoch"), int):
        return None
    args = checkpoint.get("train_args") if isinstance(checkpoint.get("train_args"), dict) else {}
    epochs = args.get("epochs")
    save_dir = args.get("save_dir")
    return CheckpointState(
        epoch=checkpoint["epoch"],
        epochs=epochs if isinstance(epochs, int) and not isinstance(epochs, bool) else None,
        save_dir=str(save_dir) if save_dir else None,
    )


def read_checkpoint(path: str) -> CheckpointState | None:
    """The checkpoint's state, or None when it cannot be read here (ultralytics then has its say)."""
    try:
        import torch

        # ultralytics checkpoints pickle model classes, so weights_only=True cannot load them.
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception:  # noqa: BLE001 - any failure means "unknown", never a crash here
        return None
    return state_of(checkpoint)


def is_nothing_to_resume(error: BaseException) -> bool:
    return NOTHING_TO_RESUME in str(error)
