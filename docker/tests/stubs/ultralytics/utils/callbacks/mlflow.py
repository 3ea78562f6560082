"""MLflow callbacks as ultralytics 8.3.40 has them, recording instead of logging to a server."""

import os

from ultralytics.utils import record


def _fail_if_asked(uri):
    if os.environ.get("STUB_MLFLOW_FAIL"):
        raise ConnectionError(f"MLflow server {uri} is unreachable (stub)")


def on_pretrain_routine_end(trainer):
    uri = os.environ.get("MLFLOW_TRACKING_URI") or "runs/mlflow"
    _fail_if_asked(uri)
    record(
        {
            "event": "mlflow.start",
            "uri": uri,
            "experiment": os.environ.get("MLFLOW_EXPERIMENT_NAME") or trainer.args.project,
            "run": os.environ.get("MLFLOW_RUN") or trainer.args.name,
            "maxRetries": os.environ.get("MLFLOW_HTTP_REQUEST_MAX_RETRIES"),
        }
    )


def on_fit_epoch_end(trainer):
    _fail_if_asked(os.environ.get("MLFLOW_TRACKING_URI"))
    record({"event": "mlflow.log", "epoch": trainer.epoch})


def on_train_end(trainer):
    record({"event": "mlflow.end"})


callbacks = {
    "on_pretrain_routine_end": on_pretrain_routine_end,
    "on_fit_epoch_end": on_fit_epoch_end,
    "on_train_end": on_train_end,
}
