"""W&B callbacks as ultralytics 8.3.40 has them: the W&B project is the `project` train argument."""

import wandb as wb


def on_pretrain_routine_start(trainer):
    wb.run or wb.init(project=trainer.args.project or "YOLOv8", name=trainer.args.name, config=vars(trainer.args))


def on_fit_epoch_end(trainer):
    wb.run.log(trainer.metrics, step=trainer.epoch + 1)


def on_train_end(trainer):
    wb.run.finish()


callbacks = {
    "on_pretrain_routine_start": on_pretrain_routine_start,
    "on_fit_epoch_end": on_fit_epoch_end,
    "on_train_end": on_train_end,
}
