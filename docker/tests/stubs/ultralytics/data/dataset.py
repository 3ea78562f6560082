"""ultralytics.data.dataset stand-in: the label cache functions, called by their module names as in 8.3.40."""

import json
from pathlib import Path

from ultralytics.utils import record

DATASET_CACHE_VERSION = "1.0.3"


def load_dataset_cache_file(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))  # FileNotFoundError when there is none, as np.load


def save_dataset_cache_file(prefix, path, x, version):
    path = Path(path)
    x["version"] = version
    path.write_text(json.dumps(x), encoding="utf-8")
    record({"event": "label-cache-saved", "path": str(path)})


def scan_labels(data):
    """What YOLODataset.get_labels does with its cache: load `<labels>.cache`, else scan and save it."""
    cache = Path(str(data)).parent / "labels" / "train.cache"
    try:
        return load_dataset_cache_file(cache), True
    except FileNotFoundError:
        x = {"labels": [], "hash": "stub"}
        save_dataset_cache_file("train: ", cache, x, DATASET_CACHE_VERSION)
        return x, False
