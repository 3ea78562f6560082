"""Stand-in for wandb: init records its arguments and rejects what W&B rejects."""

import os

from ultralytics.utils import record

__version__ = "0.18.7"

run = None


class _Run:
    def __init__(self, project, name, run_id):
        self.project, self.name, self.id = project, name, run_id

    def log(self, data, step=None):
        record({"event": "wandb.log", "project": self.project, "step": step})

    def finish(self):
        global run
        record({"event": "wandb.finish", "project": self.project})
        run = None


def init(project=None, name=None, id=None, config=None, resume=None, dir=None, **_):  # noqa: A002 - wandb's names
    global run
    if any(c in str(project) for c in "/\\#?%:"):
        raise ValueError(f"Invalid project name {project!r}: cannot contain characters '/,\\\\,#,?,%,:'")
    if not os.environ.get("WANDB_API_KEY"):
        raise RuntimeError("api_key not configured (no-tty)")
    record({"event": "wandb.init", "project": project, "name": name, "id": id, "resume": resume, "dir": dir, "has_config": bool(config)})
    run = _Run(project, name, id)
    return run
