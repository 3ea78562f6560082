"""ultralytics.utils stand-in: ranks, the settings file, and the call log the tests read."""

import json
import os
import tempfile
from pathlib import Path

RANK = int(os.getenv("RANK", -1))
LOCAL_RANK = int(os.getenv("LOCAL_RANK", -1))
USER_CONFIG_DIR = Path(os.getenv("YOLO_CONFIG_DIR") or Path(tempfile.gettempdir()) / "Ultralytics")


def record(event):
    """Appends one event to $STUB_ULTRALYTICS_LOG (the tests' view of what the trainer asked for)."""
    path = os.environ.get("STUB_ULTRALYTICS_LOG")
    if not path:
        return
    line = json.dumps({**event, "pid": os.getpid(), "rank": RANK}, default=str)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


class SettingsManager(dict):
    """Like ultralytics' settings: a JSON file in YOLO_CONFIG_DIR; update() rejects unknown keys and wrong types."""

    def __init__(self, file):
        self.file = Path(file)
        self.defaults = {
            "settings_version": "0.0.6",
            "datasets_dir": "datasets",
            "weights_dir": "weights",
            "runs_dir": "runs",
            "uuid": "stub",
            "sync": True,
            "api_key": "",
            "openai_api_key": "",
            "clearml": True,
            "comet": True,
            "dvc": True,
            "hub": True,
            "mlflow": True,
            "neptune": True,
            "raytune": True,
            "tensorboard": False,
            "wandb": False,
            "vscode_msg": True,
        }
        super().__init__(self.defaults)
        if self.file.exists():
            super().update(json.loads(self.file.read_text(encoding="utf-8")))
        else:
            self._save()

    def update(self, *args, **kwargs):
        for arg in args:
            kwargs.update(arg)
        for key, value in kwargs.items():
            if key not in self.defaults:
                raise KeyError(f"No Ultralytics setting '{key}'.")
            if not isinstance(value, type(self.defaults[key])):
                raise TypeError(f"Ultralytics setting '{key}' must be of type '{type(self.defaults[key])}', not '{type(value)}'.")
        super().update(kwargs)
        self._save()

    def _save(self):
        self.file.parent.mkdir(parents=True, exist_ok=True)
        self.file.write_text(json.dumps(dict(self), indent=2), encoding="utf-8")


SETTINGS = SettingsManager(USER_CONFIG_DIR / "settings.json")
