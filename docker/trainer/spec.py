"""The parts of the run spec (runspec/schema.ts) that the trainer reads.

The agent has already validated the whole spec with the schema; these checks only make sure the
trainer never guesses: a field it needs that is missing or of the wrong type is an InputError.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

SCHEMA_VERSION = 1


class InputError(Exception):
    """The run's inputs are unusable (spec, data, model, credentials): retrying will not help."""


@dataclass(frozen=True)
class Phase:
    """One training phase: `index` is 0-based; ultralytics writes it to `<workdir>/phase-<index>`."""

    index: int
    imgsz: int
    epochs: int

    @property
    def name(self) -> str:
        return f"phase-{self.index}"


@dataclass(frozen=True)
class RunSpec:
    run_id: str
    project: str
    stack: str
    model: str
    data: dict[str, Any]
    batch: int
    gpus: int
    hyperparameters: dict[str, Any]
    phases: tuple[Phase, ...]
    tracking: dict[str, Any] = field(default_factory=lambda: {"kind": "off"})

    @property
    def final_phase(self) -> Phase:
        return self.phases[-1]

    @property
    def device(self) -> int | list[int]:
        """GPU 0 alone, or every GPU of the node: a list makes ultralytics run DDP."""
        return list(range(self.gpus)) if self.gpus > 1 else 0


DEVICE_ENV = "YOLO_TRAIN_DEVICE"


def training_device(spec: RunSpec, env: Mapping[str, str]) -> str | int | list[int]:
    """The ultralytics `device` every step of the run uses (training, evaluation, export check).

    The node's GPUs by default (the spec's `train.gpus`). `YOLO_TRAIN_DEVICE` overrides it for
    a node or test without them: `cpu`, or GPU indices like `0` or `0,1` (several = DDP).
    """
    raw = (env.get(DEVICE_ENV) or "").strip()
    if not raw:
        return spec.device
    if raw == "cpu":
        return "cpu"
    parts = [p.strip() for p in raw.split(",")]
    if not all(p.isdigit() for p in parts) or len(set(parts)) != len(parts):
        raise InputError(f"{DEVICE_ENV} {raw!r} is not a device: use cpu, or GPU indices such as 0 or 0,1,2,3")
    indices = [int(p) for p in parts]
    return indices if len(indices) > 1 else indices[0]


def load_run_spec(path: str) -> RunSpec:
    try:
        with open(path, encoding="utf-8") as handle:
            raw = json.load(handle)
    except FileNotFoundError as error:
        raise InputError(f"run spec {path} does not exist") from error
    except (OSError, ValueError) as error:
        raise InputError(f"run spec {path} is not readable JSON: {error}") from error
    return parse_run_spec(raw, path)


def parse_run_spec(raw: Any, where: str = "run spec") -> RunSpec:
    if not isinstance(raw, dict):
        raise InputError(f"{where}: must be a JSON object")
    version = raw.get("schemaVersion")
    if version != SCHEMA_VERSION:
        raise InputError(f"{where}: schemaVersion {version!r} is not supported by this trainer (expected {SCHEMA_VERSION})")

    train = _field(raw, "train", dict, where)
    data = _field(raw, "data", dict, where)
    if data.get("kind") == "builtin":
        _field(data, "yaml", str, f"{where}: data")
    elif data.get("kind") == "mounted":
        _field(data, "yamlPath", str, f"{where}: data")
    else:
        raise InputError(f"{where}: data.kind must be \"builtin\" or \"mounted\", not {data.get('kind')!r}")

    gpus = _field(train, "gpus", int, f"{where}: train")
    batch = _field(train, "batch", int, f"{where}: train")
    if gpus < 1:
        raise InputError(f"{where}: train.gpus must be at least 1")
    if gpus > 1 and batch < 1:
        # ultralytics refuses AutoBatch under DDP; say so before a GPU node spends minutes starting up.
        raise InputError(f"{where}: train.batch -1 (AutoBatch) does not work with {gpus} GPUs; set a batch, e.g. {gpus * 16}")

    tracking = raw.get("tracking", {"kind": "off"})
    if not isinstance(tracking, dict) or tracking.get("kind") not in ("off", "mlflow", "wandb"):
        raise InputError(f"{where}: tracking.kind must be \"off\", \"mlflow\" or \"wandb\"")

    hyperparameters = train.get("hyperparameters", {})
    if not isinstance(hyperparameters, dict):
        raise InputError(f"{where}: train.hyperparameters must be an object")

    return RunSpec(
        run_id=_field(raw, "runId", str, where),
        project=_field(raw, "project", str, where),
        stack=_field(raw, "stack", str, where),
        model=_field(raw, "model", str, where),
        data=data,
        batch=batch,
        gpus=gpus,
        hyperparameters=dict(hyperparameters),
        phases=phases_of(train, where),
        tracking=tracking,
    )


def phases_of(train: dict[str, Any], where: str = "run spec") -> tuple[Phase, ...]:
    """`train.progressive` phases in order, or the one phase `train.imgsz` × `train.epochs`."""
    progressive = train.get("progressive")
    if progressive is None:
        return (Phase(0, _field(train, "imgsz", int, f"{where}: train"), _field(train, "epochs", int, f"{where}: train")),)
    if not isinstance(progressive, list) or not progressive:
        raise InputError(f"{where}: train.progressive must be a non-empty list of {{imgsz, epochs}}")
    return tuple(
        Phase(i, _field(p, "imgsz", int, f"{where}: train.progressive[{i}]"), _field(p, "epochs", int, f"{where}: train.progressive[{i}]"))
        for i, p in enumerate(progressive)
    )


def _field(obj: Any, key: str, kind: type, where: str) -> Any:
    if not isinstance(obj, dict):
        raise InputError(f"{where} must be an object")
    value = obj.get(key)
    # bool is an int in Python; a spec's true is never a count.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InputError(f"{where}.{key} must be a {kind.__name__}, not {value!r}")
    return value
