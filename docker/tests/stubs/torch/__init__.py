"""Stand-in for torch: only torch.load, of the stand-in ultralytics checkpoints (JSON)."""

import json

__version__ = "2.5.1"


def load(f, map_location=None, weights_only=None):  # noqa: ARG001 - same signature as torch.load
    with open(f, encoding="utf-8") as handle:
        return json.load(handle)
