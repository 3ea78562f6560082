"""Callbacks: the events ultralytics runs, and the integrations that settings switch on."""

from collections import defaultdict

EVENTS = (
    "on_pretrain_routine_start",
    "on_pretrain_routine_end",
    "on_train_start",
    "on_train_epoch_start",
    "on_train_batch_start",
    "on_train_batch_end",
    "on_train_epoch_end",
    "on_fit_epoch_end",
    "on_model_save",
    "on_train_end",
    "teardown",
)


def get_default_callbacks():
    return defaultdict(list, {event: [] for event in EVENTS})


def add_integration_callbacks(trainer):
    from ultralytics.utils import SETTINGS

    integrations = []
    if SETTINGS["mlflow"]:
        from .mlflow import callbacks as mlflow_callbacks

        integrations.append(mlflow_callbacks)
    if SETTINGS["wandb"]:
        from .wb import callbacks as wb_callbacks

        integrations.append(wb_callbacks)
    for callbacks in integrations:
        for event, function in callbacks.items():
            if function not in trainer.callbacks[event]:
                trainer.callbacks[event].append(function)
