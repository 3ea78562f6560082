from ultralytics.engine.trainer import BaseTrainer


class DetectionTrainer(BaseTrainer):
    """The detection trainer; all of the stand-in behaviour is in BaseTrainer."""


__all__ = ("DetectionTrainer",)
