"""The two files the agent reads: progress.jsonl (a line per epoch) and result.json (at the end).

Both are strict JSON: numbers are plain floats, and NaN or infinities (a diverged loss) become
null, which Python's json would otherwise write as the invalid token NaN.
"""

from __future__ import annotations

import json
import math
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping


def epoch_record(
    *,
    phase: int,
    phases: int,
    epoch: int,
    epochs: int,
    metrics: Mapping[str, Any],
    losses: Mapping[str, Any],
    images: int | None,
    seconds: float | None,
    now: datetime | None = None,
) -> dict[str, Any]:
    per_second = images / seconds if images and seconds and seconds > 0 else None
    return {
        "type": "epoch",
        "phase": phase,
        "phases": phases,
        "epoch": epoch,
        "epochs": epochs,
        "metrics": numbers(metrics),
        "losses": numbers(losses),
        "imagesPerSecond": round(per_second, 1) if per_second is not None else None,
        "time": (now or datetime.now(timezone.utc)).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }


def numbers(values: Mapping[str, Any]) -> dict[str, float | None]:
    """Plain floats (tensors and numpy scalars converted); NaN and infinities become null, which JSON can carry."""
    out: dict[str, float | None] = {}
    for key, value in values.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        out[str(key)] = round(number, 6) if math.isfinite(number) else None
    return out


def class_names(names: Any) -> list[str] | None:
    """Class names in class-index order from ultralytics' `names` ({0: "person", ...} or a list); None when unusable."""
    if isinstance(names, Mapping):
        try:
            indexed = {int(k): str(v) for k, v in names.items()}
        except (TypeError, ValueError):
            return None
        if sorted(indexed) != list(range(len(indexed))):
            return None
        return [indexed[i] for i in range(len(indexed))]
    if isinstance(names, (list, tuple)):
        return [str(n) for n in names]
    return None


def append_line(path: str, record: dict[str, Any]) -> None:
    line = json.dumps(record, allow_nan=False, separators=(",", ":")) + "\n"
    with open(path, "a", encoding="utf-8") as handle:
        # One append per line; a reader polling the file may still catch the last line half written,
        # so it should only take lines that end with a newline.
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())


def write_json_atomically(path: Path, value: Any) -> None:
    """Writes a temporary file and renames it, so a reader sees the old file or the whole new one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
