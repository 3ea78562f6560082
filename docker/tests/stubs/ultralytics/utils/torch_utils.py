"""ultralytics.utils.torch_utils stand-in: strip_optimizer of the stand-in (JSON) checkpoints."""

import json
from pathlib import Path


def strip_optimizer(f="best.pt", s="", updates=None):
    """As 8.3.40: the final weights (`epoch` -1, no optimizer), optionally with `updates`; returns the checkpoint."""
    path = Path(f)
    try:
        ckpt = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    ckpt.update({"epoch": -1, "optimizer": None, **(updates or {})})
    Path(s or f).write_text(json.dumps(ckpt), encoding="utf-8")
    return ckpt
