"""docker/train.py with the real ultralytics 8.3.40 on CPU: the trainer contract as it really behaves.

No stand-ins: ultralytics, PyTorch and the ONNX export are the real ones, training a yolov8n built
from ultralytics' own yolov8n.yaml on a few dozen synthetic images at 64 px (synthetic.py; nothing
can be downloaded). Each test runs `python docker/train.py` as the run agent does
(docs/node-runtime.md), on the CPU (`YOLO_TRAIN_DEVICE=cpu`).

Run: PYTHONPATH=<ultralytics> python3 -m unittest discover -s docker/tests/real (test/docker/realTraining.test.ts
does, with the interpreter and offline environment of test/docker/realUltralytics.ts).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TRAIN_PY = HERE.parent.parent / "train.py"
sys.path.insert(0, str(HERE))

from synthetic import CLASS_NAMES, write_dataset, write_starting_checkpoint  # noqa: E402

RUN_ID = "yolov8n-shapes-0123456789"
_SHARED: dict[str, Path] = {}


def setUpModule() -> None:  # noqa: N802 - unittest's name
    root = Path(tempfile.mkdtemp(prefix="yolo-train-real-"))
    _SHARED["root"] = root
    _SHARED["mount"] = root / "data"
    _SHARED["data_yaml"] = write_dataset(_SHARED["mount"] / "shapes", train=32, val=8, size=64)
    _SHARED["start"] = write_starting_checkpoint(root / "start" / "yolov8n.pt")


def tearDownModule() -> None:  # noqa: N802
    shutil.rmtree(_SHARED["root"], ignore_errors=True)


def run_spec(**train: Any) -> dict[str, Any]:
    return {
        "schemaVersion": 1,
        "runId": RUN_ID,
        "project": "yolo-train",
        "stack": "test",
        "region": "us-east-1",
        "autoScalingGroupName": f"yolo-train-test-{RUN_ID}",
        "model": "yolov8n.pt",
        "data": {"kind": "mounted", "yamlPath": str(_SHARED["data_yaml"])},
        # SGD with its own lr0 and no warm-up, so the learning rate per epoch is the schedule alone;
        # workers 0: data loading in the training process, as 2 CPUs want; no plots, for time.
        "train": {"epochs": 3, "imgsz": 64, "batch": 8, "gpus": 1, "hyperparameters": {"optimizer": "SGD", "lr0": 0.01, "warmup_epochs": 0, "workers": 0, "plots": False}, **train},
        "tracking": {"kind": "off"},
    }


class Node:
    """One node: its scratch disk with the named weights in place, and train.py runs on it."""

    def __init__(self, test: unittest.TestCase, spec: dict[str, Any]) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="yolo-train-real-node-", dir=_SHARED["root"]))
        self.scratch = self.root / "scratch"
        self.workdir = self.scratch / "runs" / RUN_ID
        self.config = self.root / "ultralytics-config"
        self.spec_path = self.root / "run-spec.json"
        self.spec_path.write_text(json.dumps(spec), encoding="utf-8")
        # The named weights as if fetched earlier: nothing can be downloaded here.
        (self.scratch / "weights").mkdir(parents=True)
        shutil.copyfile(_SHARED["start"], self.scratch / "weights" / "yolov8n.pt")
        self.outputs: list[str] = []

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            **os.environ,
            "YOLO_CONFIG_DIR": str(self.config),
            "YOLO_TRAIN_RUN_SPEC": str(self.spec_path),
            "YOLO_TRAIN_SCRATCH": str(self.scratch),
            "YOLO_TRAIN_WORKDIR": str(self.workdir),
            "YOLO_TRAIN_DATA_MOUNT": str(_SHARED["mount"]),
            "YOLO_TRAIN_DEVICE": "cpu",
            **extra,
        }
        return env

    def train(self, **extra: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, str(TRAIN_PY)], env=self.env(**extra), capture_output=True, text=True, timeout=300, check=False)
        self.outputs.append(done.stdout + done.stderr)
        return done

    def train_until_stopped_in(self, phase: int, epoch: int, **extra: str) -> int:
        """Starts train.py and sends SIGTERM (as the agent does on a spot notice) once epoch `epoch` of `phase` is under way."""
        log = open(self.root / "interrupted.log", "w", encoding="utf-8")  # noqa: SIM115 - closed below
        process = subprocess.Popen([sys.executable, str(TRAIN_PY)], env=self.env(**extra), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 240
            while not any(line["phase"] == phase and line["epoch"] == epoch - 1 for line in self.progress()) if epoch > 1 else not self._epoch_started(phase):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"train.py ended or stalled before phase {phase} epoch {epoch}: {(self.root / 'interrupted.log').read_text()}")
                time.sleep(0.05)
            time.sleep(0.3)  # inside the epoch's batches
            os.killpg(process.pid, signal.SIGTERM)
            return process.wait(timeout=60)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            log.close()
            self.outputs.append((self.root / "interrupted.log").read_text(encoding="utf-8"))

    def _epoch_started(self, phase: int) -> bool:
        return (self.workdir / f"phase-{phase}" / "results.csv").exists() or any(line["phase"] == phase for line in self.progress())

    def progress(self) -> list[dict[str, Any]]:
        path = self.workdir / "progress.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.endswith("}")]

    def result(self) -> dict[str, Any]:
        return json.loads((self.workdir / "result.json").read_text(encoding="utf-8"))

    def learning_rates(self, phase: int) -> list[float]:
        """lr/pg0 per epoch from ultralytics' results.csv (the LR the epoch trained with)."""
        with open(self.workdir / f"phase-{phase}" / "results.csv", encoding="utf-8") as handle:
            return [float(row["lr/pg0"]) for row in csv.DictReader(handle, skipinitialspace=True)]

    def last_checkpoint(self, phase: int = 0) -> Path:
        return self.workdir / f"phase-{phase}" / "weights" / "last.pt"


def assert_ok(test: unittest.TestCase, done: subprocess.CompletedProcess[str]) -> None:
    test.assertEqual(done.returncode, 0, f"train.py failed:\n{done.stdout[-6000:]}\n{done.stderr[-6000:]}")


def linear_lr(lr0: float, lrf: float, epoch: int, epochs: int) -> float:
    """ultralytics' linear schedule (engine/trainer.py _setup_scheduler) at `epoch` of `epochs`."""
    return lr0 * (max(1 - epoch / epochs, 0) * (1 - lrf) + lrf)


class FreshRunTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.node = Node(cls, run_spec())  # type: ignore[arg-type]
        cls.done = cls.node.train()
        cls.result = cls.node.result() if cls.done.returncode == 0 else {}

    def test_trains_evaluates_once_exports_and_reports(self) -> None:
        assert_ok(self, self.done)
        result = self.result
        best = self.node.workdir / "phase-0" / "weights" / "best.pt"
        self.assertEqual((result["status"], result["best"], result["imgsz"]), ("completed", str(best), 64))
        self.assertEqual(result["classNames"], list(CLASS_NAMES))
        self.assertIn("metrics/mAP50-95(B)", result["metrics"])
        self.assertIn("fitness", result["metrics"])
        self.assertNotIn("val/box_loss", result["metrics"], "best.pt's final evaluation, not an epoch's validation")
        self.assertTrue(Path(result["onnx"]).is_file())
        output = self.node.outputs[0]
        self.assertEqual(output.count(f"Validating {best}"), 1, "ultralytics validates best.pt once")
        self.assertNotIn("train.py: evaluating", output, "and train.py does not validate it again")

    def test_writes_exactly_one_progress_line_per_epoch(self) -> None:
        assert_ok(self, self.done)
        lines = self.node.progress()
        self.assertEqual([(l["phase"], l["epoch"], l["epochs"]) for l in lines], [(0, 1, 3), (0, 2, 3), (0, 3, 3)])
        for line in lines:
            self.assertIn("val/box_loss", line["metrics"], "every line is an epoch's validation")
            self.assertGreater(line["imagesPerSecond"], 0)

    def test_the_exported_model_is_checked_against_pytorch(self) -> None:
        assert_ok(self, self.done)
        export = self.result["onnxExport"]
        self.assertEqual((export["opset"], export["inputShape"], export["nms"]), (17, [1, 3, 64, 64], False))
        check = export["check"]
        self.assertTrue(check["passed"], check.get("reason"))
        self.assertEqual(check["runtime"], "onnxruntime")
        self.assertGreater(check["images"], 0)
        self.assertLessEqual(check["maxAbsDiff"], check["tolerance"])

    def test_named_weights_are_taken_from_the_weights_folder(self) -> None:
        assert_ok(self, self.done)
        self.assertEqual(sorted(p.name for p in (self.node.scratch / "weights").iterdir()), ["yolov8n.pt"])
        self.assertNotIn("Downloading", self.node.outputs[0])

    def test_label_caches_are_on_the_scratch_disk_not_beside_the_labels(self) -> None:
        assert_ok(self, self.done)
        self.assertEqual(list(_SHARED["mount"].rglob("*.cache")), [])
        caches = sorted(p.name for p in (self.node.workdir / "label-cache").glob("*.cache"))
        self.assertEqual(len(caches), 2, caches)  # train and val
        self.assertNotIn("is not writeable", self.node.outputs[0])

    def test_tracking_off_switches_every_integration_off(self) -> None:
        assert_ok(self, self.done)
        settings = json.loads((self.node.config / "settings.json").read_text(encoding="utf-8"))
        self.assertEqual({k for k in ("mlflow", "wandb", "comet", "clearml", "dvc", "hub", "neptune", "raytune", "tensorboard", "sync") if settings.get(k)}, set())
        self.assertFalse((self.node.scratch / "weights" / "mlruns").exists())

    def test_mosaic_closes_for_runs_shorter_than_close_mosaic(self) -> None:
        assert_ok(self, self.done)
        self.assertEqual(self.node.outputs[0].count("Closing dataloader mosaic"), 1)

    def test_a_rerun_after_completion_trains_nothing(self) -> None:
        assert_ok(self, self.done)
        before = self.node.progress()
        done = self.node.train(YOLO_TRAIN_RESUME=str(self.node.last_checkpoint()), YOLO_TRAIN_RESUME_PHASE="0")
        assert_ok(self, done)
        self.assertIn("nothing to resume", done.stdout)
        self.assertEqual(self.node.result()["status"], "already-complete")
        self.assertEqual(self.node.result()["trainingSeconds"], 0)
        self.assertEqual(self.node.progress(), before)


class InterruptedRunTest(unittest.TestCase):
    def test_sigterm_mid_epoch_then_resume_trains_to_the_exact_epoch_count_the_same_way(self) -> None:
        node = Node(self, run_spec())
        status = node.train_until_stopped_in(phase=0, epoch=2)
        self.assertEqual(status, -signal.SIGTERM)
        interrupted_at = len(node.progress())
        self.assertLess(interrupted_at, 3)

        done = node.train(YOLO_TRAIN_RESUME=str(node.last_checkpoint()), YOLO_TRAIN_RESUME_PHASE="0")
        assert_ok(self, done)
        self.assertIn("Resuming training", done.stdout)
        self.assertEqual([l["epoch"] for l in node.progress()], [1, 2, 3])
        self.assertEqual(node.result()["status"], "completed")
        # Trained as an uninterrupted run would: the schedule's LR at every epoch, and mosaic closed
        # from the start of the resumed attempt too (a 3-epoch run is shorter than close_mosaic).
        lrs = node.learning_rates(0)
        self.assertEqual(len(lrs), 3)
        for epoch, lr in enumerate(lrs):
            self.assertAlmostEqual(lr, linear_lr(0.01, 0.01, epoch, 3), places=6)
        self.assertIn("Closing dataloader mosaic", done.stdout)


class ProgressiveRunTest(unittest.TestCase):
    PHASES = [{"imgsz": 64, "epochs": 2}, {"imgsz": 96, "epochs": 2}]

    def test_interrupted_in_the_second_phase_resumes_there_and_keeps_one_schedule(self) -> None:
        node = Node(self, run_spec(progressive=self.PHASES, epochs=4, imgsz=96))
        status = node.train_until_stopped_in(phase=1, epoch=2)
        self.assertEqual(status, -signal.SIGTERM)

        done = node.train(YOLO_TRAIN_RESUME=str(node.last_checkpoint(1)), YOLO_TRAIN_RESUME_PHASE="1")
        assert_ok(self, done)
        self.assertEqual([(l["phase"], l["epoch"], l["epochs"]) for l in node.progress()], [(0, 1, 2), (0, 2, 2), (1, 1, 2), (1, 2, 2)])
        result = node.result()
        self.assertEqual((result["status"], result["imgsz"]), ("completed", 96))
        self.assertEqual(result["onnxExport"]["inputShape"], [1, 3, 96, 96])
        # One linear schedule over the run's 4 epochs: phase 1 goes on from where phase 0 stopped.
        lrs = node.learning_rates(0) + node.learning_rates(1)
        for epoch, lr in enumerate(lrs):
            self.assertAlmostEqual(lr, linear_lr(0.01, 0.01, epoch, 4), places=6, msg=f"epoch {epoch + 1}: {lrs}")
        # Only the final phase's best.pt is evaluated at the end.
        output = "".join(node.outputs)
        self.assertEqual(output.count("Validating "), 1)


if __name__ == "__main__":
    unittest.main()
