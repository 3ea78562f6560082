"""Experiment tracking through ultralytics' own integrations, or none at all.

ultralytics turns its integrations on and off with settings (persisted in YOLO_CONFIG_DIR, so
DDP workers read the same file) and reads MLflow's target from the environment, which DDP
workers inherit. Anything not asked for is switched off, and so is the analytics `sync`, so a
run never waits on a service it does not use.

W&B: the API key comes in WANDB_API_KEY (the agent reads it from the SSM parameter named in the
spec); it is never printed, and only its presence is checked here. ultralytics' W&B callback
names the W&B project after the `project` train argument, which is the run's work dir here, so
trainer.hooks starts the W&B run itself with the spec's project before that callback runs.
"""

from __future__ import annotations

from typing import Any, Mapping

from .spec import InputError, Phase, RunSpec

# ultralytics' integration switches (SettingsManager defaults, 8.3.x). Keys a given ultralytics
# version does not know are skipped, as its settings.update rejects unknown keys.
INTEGRATIONS = ("clearml", "comet", "dvc", "hub", "mlflow", "neptune", "raytune", "tensorboard", "wandb")

# Bounded waits on a slow or dead MLflow server (MLflow's own defaults retry for minutes).
MLFLOW_HTTP_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}


def wanted_settings(kind: str) -> dict[str, bool]:
    settings = {name: False for name in INTEGRATIONS}
    settings["sync"] = False
    if kind in ("mlflow", "wandb"):
        settings[kind] = True
    return settings


def apply_settings(settings: Any, wanted: Mapping[str, Any]) -> dict[str, Any]:
    """Updates the ultralytics settings object with the keys it knows; returns what was applied."""
    applied = {key: value for key, value in wanted.items() if key in settings}
    settings.update(applied)
    return applied


def run_environment(spec: RunSpec, env: Mapping[str, str]) -> dict[str, str]:
    """Environment for the whole run; raises InputError when tracking cannot work as configured."""
    kind = spec.tracking.get("kind", "off")
    if kind == "mlflow":
        return {
            "MLFLOW_TRACKING_URI": str(spec.tracking["uri"]),
            "MLFLOW_EXPERIMENT_NAME": f"{spec.project}-{spec.stack}",
            **{k: v for k, v in MLFLOW_HTTP_ENV.items() if k not in env},
        }
    if kind == "wandb":
        if not env.get("WANDB_API_KEY"):
            raise InputError(
                "tracking is W&B but WANDB_API_KEY is not set: the agent passes the key it reads from the SSM "
                f"parameter {spec.tracking.get('apiKeyParameter')!r}"
            )
        return {"WANDB_PROJECT": str(spec.tracking["project"])}
    return {}


def phase_environment(spec: RunSpec, phase: Phase) -> dict[str, str]:
    """Per-phase names: one tracked run per phase, named after the run id."""
    kind = spec.tracking.get("kind", "off")
    name = f"{spec.run_id}-{phase.name}"
    if kind == "mlflow":
        return {"MLFLOW_RUN": name}
    if kind == "wandb":
        return {"WANDB_NAME": name, "WANDB_RUN_ID": name}
    return {}


def redact(text: str, env: Mapping[str, str]) -> str:
    """Text with any secret from the environment replaced, for messages that quote other errors."""
    for key in ("WANDB_API_KEY",):
        secret = env.get(key)
        if secret:
            text = text.replace(secret, f"<{key}>")
    return text
