"""Dataset label caches on the scratch disk instead of next to the labels.

ultralytics scans every label file before training and saves the result as
`<labels folder>.cache` beside the labels, reusing it when the files' hash matches. On the node the
dataset is a read-only mount, so it cannot save it ("Cache directory ... is not writeable") and a
large dataset is rescanned at every launch. Redirected here, the caches live in
`<workdir>/label-cache/`, which later attempts of the run find (on this node, and on other nodes
through the agent's run cache). A stale cache is still detected by ultralytics' own hash check.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

_REDIRECTED = "_yolo_train_label_cache"


def cache_file_name(original: Path) -> str:
    """A flat, unique file name for the cache ultralytics would keep at `original` (e.g. /data/labels/train.cache)."""
    digest = hashlib.sha256(str(original.absolute()).encode("utf-8")).hexdigest()[:12]
    readable = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{original.parent.name}-{original.stem}").strip("-.")[:80] or "labels"
    return f"{readable}-{digest}.cache"


def redirect_label_caches(cache_dir: str | Path) -> None:
    """Makes ultralytics' datasets (in this process) load and save label caches in cache_dir."""
    from ultralytics.data import dataset

    if getattr(dataset.load_dataset_cache_file, _REDIRECTED, None) == str(cache_dir):
        return
    folder = Path(cache_dir)
    load = getattr(dataset.load_dataset_cache_file, "__wrapped__", dataset.load_dataset_cache_file)
    save = getattr(dataset.save_dataset_cache_file, "__wrapped__", dataset.save_dataset_cache_file)

    def load_from_scratch(path: Any) -> Any:
        return load(folder / cache_file_name(Path(path)))

    def save_to_scratch(prefix: str, path: Any, x: Any, version: Any) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        save(prefix, folder / cache_file_name(Path(path)), x, version)

    for function, original in ((load_from_scratch, load), (save_to_scratch, save)):
        function.__wrapped__ = original  # type: ignore[attr-defined]
        setattr(function, _REDIRECTED, str(cache_dir))
    # dataset.py calls these by their module-level names (ultralytics 8.3.40 data/dataset.py).
    dataset.load_dataset_cache_file = load_from_scratch
    dataset.save_dataset_cache_file = save_to_scratch
