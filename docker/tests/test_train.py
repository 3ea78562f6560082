"""Tests of docker/train.py with stand-ins for ultralytics, torch and wandb (tests/stubs/README.md).

Whole runs go through `python train.py` in a subprocess, with the environment the run agent
gives it (docs/node-runtime.md); the stand-in ultralytics logs every call, so the tests check the
arguments train.py passes, the files it writes and its exit status. Pure helpers are tested
in-process. Run: python3 -m unittest discover -s docker/tests -v
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

HERE = Path(__file__).resolve().parent
DOCKER = HERE.parent
STUBS = HERE / "stubs"
TRAIN_PY = DOCKER / "train.py"
sys.path[:0] = [str(STUBS), str(DOCKER)]
# The stand-in ultralytics keeps its settings file in YOLO_CONFIG_DIR, like the real one; tests that
# import it in this process get a folder of their own.
_CONFIG = tempfile.TemporaryDirectory(prefix="yolo-train-test-config-")
os.environ["YOLO_CONFIG_DIR"] = _CONFIG.name

from trainer import checkpoint, data, records, schedule, spec, tracking  # noqa: E402

RUN_ID = "yolov8n-widgets-0123456789"
SECRET = "0123456789abcdef0123456789abcdef01234567"


def run_spec(**overrides: Any) -> dict[str, Any]:
    """A run spec as runspec/schema.ts describes it (the fields the trainer reads, and the rest)."""
    document: dict[str, Any] = {
        "schemaVersion": 1,
        "runId": RUN_ID,
        "project": "yolo-train",
        "stack": "dev",
        "region": "us-east-1",
        "autoScalingGroupName": f"yolo-train-dev-{RUN_ID}",
        "model": "yolov8n.pt",
        "data": {"kind": "builtin", "yaml": "coco8.yaml"},
        "train": {"epochs": 3, "imgsz": 640, "batch": 16, "gpus": 1, "hyperparameters": {"lr0": 0.01, "optimizer": "AdamW", "cos_lr": True}},
        "artifacts": {"bucket": "yolo-train-dev-artifacts", "prefix": f"runs/{RUN_ID}/"},
        "ota": {"bucket": "yolo-train-dev-ota", "prefix": "models/widgets/", "modelName": "widgets", "channel": "candidate", "signingKeyId": "alias/ota"},
        "limits": {"maxRuntimeHours": 2, "idleMinutes": 15, "idleGpuPercent": 5, "maxAttempts": 3},
        "tracking": {"kind": "off"},
        "pricing": {"capacity": "spot", "usdPerHour": 0.1578},
    }
    train = overrides.pop("train", None)
    document.update(overrides)
    if train:
        document["train"] = {**document["train"], **train}
    return document


class Node:
    """One node's view: a scratch disk, a dataset mount, the settings folder, and train.py runs."""

    def __init__(self, test: unittest.TestCase, document: dict[str, Any] | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="yolo-train-test-"))
        test.addCleanup(shutil.rmtree, self.root, True)
        self.scratch = self.root / "scratch"
        self.mount = self.root / "data"
        self.mount.mkdir(parents=True)
        self.workdir = self.scratch / "runs" / RUN_ID
        self.log = self.root / "ultralytics-calls.jsonl"
        self.spec_path = self.root / "run-spec.json"
        self.write_spec(document or run_spec())

    def write_spec(self, document: dict[str, Any]) -> None:
        self.spec_path.write_text(json.dumps(document), encoding="utf-8")

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.root),
            "PYTHONPATH": str(STUBS),
            "YOLO_CONFIG_DIR": str(self.root / "ultralytics-config"),
            "STUB_ULTRALYTICS_LOG": str(self.log),
            "YOLO_TRAIN_RUN_SPEC": str(self.spec_path),
            "YOLO_TRAIN_SCRATCH": str(self.scratch),
            "YOLO_TRAIN_WORKDIR": str(self.workdir),
            "YOLO_TRAIN_DATA_MOUNT": str(self.mount),
        }
        env.update(extra)
        return {k: v for k, v in env.items() if v is not None}

    def train(self, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(TRAIN_PY)], env=self.env(**extra), capture_output=True, text=True, timeout=120, check=False)

    def calls(self, event: str | None = None) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        lines = [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines()]
        return [line for line in lines if event is None or line["event"] == event]

    def progress(self) -> list[dict[str, Any]]:
        path = self.workdir / "progress.jsonl"
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []

    def result(self) -> dict[str, Any]:
        return json.loads((self.workdir / "result.json").read_text(encoding="utf-8"))

    def settings(self) -> dict[str, Any]:
        return json.loads((self.root / "ultralytics-config" / "settings.json").read_text(encoding="utf-8"))

    def phase(self, k: int) -> Path:
        return self.workdir / f"phase-{k}"

    def checkpoint(self, path: Path, *, epoch: int, epochs: int, phase: int = 0) -> Path:
        """A checkpoint as ultralytics saves it (the stand-in's JSON form)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        train_args = {"model": "yolov8n.pt", "data": "coco8.yaml", "epochs": epochs, "imgsz": 640, "batch": 16, "device": 0, "save_dir": str(self.phase(phase))}
        path.write_text(json.dumps({"epoch": epoch, "best_fitness": 0.3, "train_args": train_args}), encoding="utf-8")
        return path


def assert_ok(test: unittest.TestCase, done: subprocess.CompletedProcess[str]) -> None:
    test.assertEqual(done.returncode, 0, f"train.py failed:\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}")


# --- pure helpers -----------------------------------------------------------------------------


class RunSpecTest(unittest.TestCase):
    def test_one_phase_is_train_imgsz_for_train_epochs(self) -> None:
        parsed = spec.parse_run_spec(run_spec())
        self.assertEqual(parsed.phases, (spec.Phase(0, 640, 3),))
        self.assertEqual(parsed.device, 0)

    def test_progressive_phases_in_order(self) -> None:
        parsed = spec.parse_run_spec(run_spec(train={"progressive": [{"imgsz": 320, "epochs": 2}, {"imgsz": 640, "epochs": 5}]}))
        self.assertEqual([(p.index, p.imgsz, p.epochs, p.name) for p in parsed.phases], [(0, 320, 2, "phase-0"), (1, 640, 5, "phase-1")])

    def test_several_gpus_are_a_device_list(self) -> None:
        self.assertEqual(spec.parse_run_spec(run_spec(train={"gpus": 8})).device, [0, 1, 2, 3, 4, 5, 6, 7])

    def test_rejects_what_the_trainer_cannot_run(self) -> None:
        cases = [
            (run_spec(schemaVersion=2), "schemaVersion 2"),
            (run_spec(train={"gpus": 4, "batch": -1}), "AutoBatch"),
            (run_spec(data={"kind": "s3"}), "data.kind"),
            (run_spec(train={"epochs": "3"}), "epochs"),
            (run_spec(train={"gpus": True}), "gpus"),
            (run_spec(tracking={"kind": "tensorboard"}), "tracking.kind"),
            ([], "JSON object"),
        ]
        for document, words in cases:
            with self.subTest(words=words), self.assertRaisesRegex(spec.InputError, words):
                spec.parse_run_spec(document)


class DeviceTest(unittest.TestCase):
    def test_the_node_gpus_unless_the_environment_names_a_device(self) -> None:
        one, four = spec.parse_run_spec(run_spec()), spec.parse_run_spec(run_spec(train={"gpus": 4}))
        self.assertEqual(spec.training_device(one, {}), 0)
        self.assertEqual(spec.training_device(four, {}), [0, 1, 2, 3])
        self.assertEqual(spec.training_device(four, {"YOLO_TRAIN_DEVICE": "cpu"}), "cpu")
        self.assertEqual(spec.training_device(one, {"YOLO_TRAIN_DEVICE": "1"}), 1)
        self.assertEqual(spec.training_device(one, {"YOLO_TRAIN_DEVICE": "0,1"}), [0, 1])

    def test_a_device_that_is_not_cpu_or_gpu_indices_is_an_input_error(self) -> None:
        for raw in ("cuda", "0,0", "-1", "0;1", "gpu0"):
            with self.subTest(raw=raw), self.assertRaisesRegex(spec.InputError, "YOLO_TRAIN_DEVICE .*use cpu, or GPU indices"):
                spec.training_device(spec.parse_run_spec(run_spec()), {"YOLO_TRAIN_DEVICE": raw})


class ScheduleTest(unittest.TestCase):
    PHASES = (spec.Phase(0, 320, 20), spec.Phase(1, 640, 80))

    def test_one_phase_caps_close_mosaic_at_its_epochs_and_keeps_ultralytics_schedule(self) -> None:
        self.assertEqual(schedule.phase_overrides((spec.Phase(0, 640, 3),), {}, 0), {"close_mosaic": 3})
        self.assertEqual(schedule.phase_overrides((spec.Phase(0, 640, 300),), {}, 0), {"close_mosaic": 10})
        self.assertEqual(schedule.phase_overrides((spec.Phase(0, 640, 300),), {"close_mosaic": 0}, 0), {"close_mosaic": 0})
        self.assertIsNone(schedule.schedule_config((spec.Phase(0, 640, 3),), 0))

    def test_progressive_phases_close_mosaic_at_the_end_of_the_run_and_warm_up_once(self) -> None:
        self.assertEqual(schedule.phase_overrides(self.PHASES, {}, 0), {"close_mosaic": 0})
        self.assertEqual(schedule.phase_overrides(self.PHASES, {}, 1), {"close_mosaic": 10, "warmup_epochs": 0})
        self.assertEqual(schedule.schedule_config(self.PHASES, 1), {"offsetEpochs": 20, "totalEpochs": 100})

    def test_the_phases_follow_one_learning_rate_curve(self) -> None:
        for cos_lr in (False, True):
            whole = schedule.RunSchedule(0, 100).lr_factor(cos_lr=cos_lr, lrf=0.01)
            first = schedule.RunSchedule(0, 100).lr_factor(cos_lr=cos_lr, lrf=0.01)
            second = schedule.RunSchedule(20, 100).lr_factor(cos_lr=cos_lr, lrf=0.01)
            with self.subTest(cos_lr=cos_lr):
                self.assertEqual([first(x) for x in range(20)], [whole(x) for x in range(20)])
                self.assertEqual([second(x) for x in range(80)], [whole(x) for x in range(20, 100)])
                self.assertAlmostEqual(whole(100), 0.01)

    def test_auto_optimizer_sees_the_whole_run(self) -> None:
        self.assertEqual(schedule.RunSchedule(20, 100).run_iterations(phase_iterations=2 * 80, phase_epochs=80), 200)


class DataYamlTest(unittest.TestCase):
    def setUp(self) -> None:
        self.root = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.root, True)
        self.mount = self.root / "data"
        (self.mount / "widgets").mkdir(parents=True)
        self.workdir = self.root / "work"

    def yaml_file(self, body: str, name: str = "widgets/data.yaml") -> str:
        path = self.mount / name
        path.write_text(body, encoding="utf-8")
        return str(path)

    def test_builtin_dataset_is_passed_by_name(self) -> None:
        self.assertEqual(data.data_argument({"kind": "builtin", "yaml": "coco8.yaml"}, self.workdir), "coco8.yaml")

    def test_yaml_without_path_is_used_as_is(self) -> None:
        source = self.yaml_file("train: images/train\nval: images/val\nnames: {0: widget}\n")
        self.assertEqual(data.mounted_yaml(source, self.workdir, str(self.mount)), source)

    def test_relative_path_is_rewritten_to_the_yaml_folder_in_a_copy(self) -> None:
        import yaml

        source = self.yaml_file("path: .\ntrain: images/train\nval: images/val\nnames: {0: widget}\n")
        used = data.mounted_yaml(source, self.workdir, str(self.mount))
        self.assertEqual(used, str(self.workdir / "data.yaml"))
        copied = yaml.safe_load(Path(used).read_text(encoding="utf-8"))
        self.assertEqual(copied, {"path": str(self.mount / "widgets"), "train": "images/train", "val": "images/val", "names": {0: "widget"}})
        self.assertIn("path: .", Path(source).read_text(encoding="utf-8"), "the mounted yaml is left alone")

    def test_relative_path_may_climb_within_the_mount(self) -> None:
        import yaml

        used = data.mounted_yaml(self.yaml_file("path: ..\ntrain: widgets/images\n"), self.workdir, str(self.mount))
        self.assertEqual(yaml.safe_load(Path(used).read_text(encoding="utf-8"))["path"], str(self.mount))

    def test_absolute_path_on_the_mount_is_used_as_is(self) -> None:
        source = self.yaml_file(f"path: {self.mount / 'widgets'}\ntrain: images\n")
        self.assertEqual(data.mounted_yaml(source, self.workdir, str(self.mount)), source)

    def test_the_spec_names_the_node_mount_which_may_be_elsewhere_here(self) -> None:
        self.yaml_file("train: images/train\nval: images/val\nnames: {0: widget}\n")
        self.assertEqual(data.mounted_yaml("/data/widgets/data.yaml", self.workdir, str(self.mount)), str(self.mount / "widgets" / "data.yaml"))

    def test_paths_off_the_mount_are_refused(self) -> None:
        cases = [
            (self.yaml_file("path: ../..\ntrain: images\n"), "outside the dataset mount"),
            (self.yaml_file("path: /home/me/datasets/widgets\ntrain: images\n"), "outside the dataset mount"),
            (str(self.root / "elsewhere.yaml"), "not under the dataset mount"),
            (str(self.mount / "missing.yaml"), "does not exist"),
            (self.yaml_file("- just\n- a list\n", "list.yaml"), "must be a mapping"),
        ]
        for source, words in cases:
            with self.subTest(source=source), self.assertRaisesRegex(spec.InputError, words):
                data.mounted_yaml(source, self.workdir, str(self.mount))


class CheckpointTest(unittest.TestCase):
    def test_finished_runs(self) -> None:
        cases = [
            ({"epoch": -1, "train_args": {"epochs": 3}}, True),  # finalised by ultralytics
            ({"epoch": 2, "train_args": {"epochs": 3}}, True),  # last epoch saved, not yet finalised
            ({"epoch": 1, "train_args": {"epochs": 3}}, False),
            ({"epoch": 0, "train_args": {}}, False),
        ]
        for ckpt, finished in cases:
            with self.subTest(ckpt=ckpt):
                state = checkpoint.state_of(ckpt)
                self.assertIsNotNone(state)
                self.assertEqual(state.finished, finished)  # type: ignore[union-attr]

    def test_unknown_when_not_a_checkpoint(self) -> None:
        self.assertIsNone(checkpoint.state_of({"model": "x"}))
        self.assertIsNone(checkpoint.read_checkpoint("/nonexistent/last.pt"))

    def test_recognises_ultralytics_finished_error(self) -> None:
        error = AssertionError("last.pt training to 100 epochs is finished, nothing to resume.\nStart a new training without resuming")
        self.assertTrue(checkpoint.is_nothing_to_resume(error))
        self.assertFalse(checkpoint.is_nothing_to_resume(RuntimeError("CUDA out of memory")))


class RecordsTest(unittest.TestCase):
    def test_epoch_record_carries_the_contract_fields(self) -> None:
        record = records.epoch_record(
            phase=1,
            phases=2,
            epoch=4,
            epochs=10,
            metrics={"metrics/mAP50-95(B)": 0.41, "val/cls_loss": float("nan")},
            losses={"train/box_loss": 1.25},
            images=1000,
            seconds=8.0,
            now=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        )
        self.assertEqual(
            record,
            {
                "type": "epoch",
                "phase": 1,
                "phases": 2,
                "epoch": 4,
                "epochs": 10,
                "metrics": {"metrics/mAP50-95(B)": 0.41, "val/cls_loss": None},
                "losses": {"train/box_loss": 1.25},
                "imagesPerSecond": 125.0,
                "time": "2026-01-02T03:04:05Z",
            },
        )
        json.dumps(record, allow_nan=False)  # strict JSON: a diverged loss is null, not NaN

    def test_images_per_second_unknown_without_a_measurement(self) -> None:
        for images, seconds in ((None, 5.0), (100, None), (100, 0.0)):
            record = records.epoch_record(phase=0, phases=1, epoch=1, epochs=1, metrics={}, losses={}, images=images, seconds=seconds)
            self.assertIsNone(record["imagesPerSecond"])

    def test_numbers_converts_scalars_and_drops_the_rest(self) -> None:
        class Scalar:
            def __float__(self) -> float:
                return 0.5

        self.assertEqual(records.numbers({"a": Scalar(), "b": "text", "c": 2, "d": float("inf")}), {"a": 0.5, "c": 2.0, "d": None})


class ClassNamesTest(unittest.TestCase):
    def test_orders_ultralytics_names_by_class_index(self) -> None:
        self.assertEqual(records.class_names({1: "box", 0: "pallet"}), ["pallet", "box"])
        self.assertEqual(records.class_names({"0": "pallet", "1": "box"}), ["pallet", "box"])
        self.assertEqual(records.class_names(["pallet", "box"]), ["pallet", "box"])

    def test_gives_none_for_names_it_cannot_order(self) -> None:
        self.assertIsNone(records.class_names({0: "pallet", 2: "box"}))  # a gap
        self.assertIsNone(records.class_names({"a": "pallet"}))
        self.assertIsNone(records.class_names(None))


class TrackingSettingsTest(unittest.TestCase):
    class Settings(dict):
        """Like ultralytics' settings: update() rejects keys it does not know."""

        def update(self, *args: Any, **kwargs: Any) -> None:
            for key in dict(*args, **kwargs):
                if key not in self:
                    raise KeyError(key)
            super().update(*args, **kwargs)

    def test_off_switches_every_integration_and_the_analytics_off(self) -> None:
        wanted = tracking.wanted_settings("off")
        self.assertTrue(all(value is False for value in wanted.values()))
        self.assertIn("sync", wanted)
        self.assertEqual(set(tracking.INTEGRATIONS) - set(wanted), set())

    def test_a_tracker_switches_only_itself_on(self) -> None:
        for kind in ("mlflow", "wandb"):
            with self.subTest(kind=kind):
                wanted = tracking.wanted_settings(kind)
                self.assertEqual([k for k, v in wanted.items() if v], [kind])

    def test_keys_this_ultralytics_does_not_know_are_skipped(self) -> None:
        settings = self.Settings(mlflow=True, wandb=True, sync=True)
        applied = tracking.apply_settings(settings, tracking.wanted_settings("off"))
        self.assertEqual(applied, {"mlflow": False, "wandb": False, "sync": False})
        self.assertEqual(settings, {"mlflow": False, "wandb": False, "sync": False})

    def test_environment_per_tracker(self) -> None:
        mlflow = spec.parse_run_spec(run_spec(tracking={"kind": "mlflow", "uri": "https://mlflow.example.com"}))
        self.assertEqual(
            tracking.run_environment(mlflow, {}),
            {"MLFLOW_TRACKING_URI": "https://mlflow.example.com", "MLFLOW_EXPERIMENT_NAME": "yolo-train-dev", **tracking.MLFLOW_HTTP_ENV},
        )
        self.assertEqual(tracking.phase_environment(mlflow, mlflow.phases[0]), {"MLFLOW_RUN": f"{RUN_ID}-phase-0"})
        wandb = spec.parse_run_spec(run_spec(tracking={"kind": "wandb", "project": "pallets", "apiKeyParameter": "/yolo-train/dev/wandb"}))
        self.assertEqual(tracking.run_environment(wandb, {"WANDB_API_KEY": SECRET}), {"WANDB_PROJECT": "pallets"})
        with self.assertRaisesRegex(spec.InputError, "WANDB_API_KEY is not set.*'/yolo-train/dev/wandb'"):
            tracking.run_environment(wandb, {})
        self.assertEqual(tracking.run_environment(spec.parse_run_spec(run_spec()), {}), {})

    def test_redacts_the_wandb_key(self) -> None:
        self.assertEqual(tracking.redact(f"401: bad key {SECRET}", {"WANDB_API_KEY": SECRET}), "401: bad key <WANDB_API_KEY>")


# --- whole runs -------------------------------------------------------------------------------


class FreshRunTest(unittest.TestCase):
    def test_trains_with_the_spec_arguments_evaluates_exports_and_reports(self) -> None:
        node = Node(self)
        done = node.train()
        assert_ok(self, done)

        (train,) = node.calls("train")
        self.assertEqual(train["model"], str(node.scratch / "weights" / "yolov8n.pt"))
        self.assertEqual(train["trainer"], "trainer.hooks.YoloTrainDetectionTrainer")
        self.assertEqual(
            train["kwargs"],
            {
                "lr0": 0.01,
                "optimizer": "AdamW",
                "cos_lr": True,
                # ultralytics' close_mosaic (10) capped at the run's 3 epochs (schedule.phase_overrides)
                "close_mosaic": 3,
                "data": "coco8.yaml",
                "epochs": 3,
                "imgsz": 640,
                "batch": 16,
                "device": 0,
                "project": str(node.workdir),
                "name": "phase-0",
                "exist_ok": True,
            },
        )
        best = str(node.phase(0) / "weights" / "best.pt")
        # One evaluation of best.pt: ultralytics' own at the end of training, not a second one.
        self.assertEqual([c["weights"] for c in node.calls("final_eval")], [best])
        self.assertEqual(node.calls("val"), [])
        (export,) = node.calls("export")
        self.assertEqual(export["model"], best)
        self.assertEqual(
            export["kwargs"],
            {"format": "onnx", "imgsz": 640, "opset": 17, "simplify": True, "dynamic": False, "half": False, "batch": 1, "device": 0},
        )

        result = node.result()
        self.assertEqual(result["status"], "completed")
        self.assertEqual(result["best"], best)
        self.assertEqual(result["onnx"], str(node.phase(0) / "weights" / "best.onnx"))
        self.assertTrue(Path(result["onnx"]).is_file())
        # best.pt's metrics from that final evaluation (the stand-in's best epoch is the last, fitness 0.3)
        self.assertEqual(result["metrics"]["metrics/mAP50-95(B)"], 0.3)
        self.assertEqual(result["metrics"]["fitness"], 0.3)
        self.assertNotIn("val/box_loss", result["metrics"])
        self.assertGreaterEqual(result["trainingSeconds"], 0)
        self.assertEqual(result["imgsz"], 640)
        self.assertEqual(result["classNames"], ["pallet", "box"])
        # The stand-in's export is no ONNX model: the check against PyTorch fails, and says why.
        self.assertFalse(result["onnxExport"]["check"]["passed"])
        self.assertTrue(result["onnxExport"]["check"]["reason"])

    def test_named_weights_are_fetched_into_the_weights_folder_and_found_there_again(self) -> None:
        node = Node(self)
        assert_ok(self, node.train())
        weights = node.scratch / "weights" / "yolov8n.pt"
        self.assertEqual([c["file"] for c in node.calls("download")], [str(weights)])
        self.assertEqual(node.settings()["weights_dir"], str(node.scratch / "weights"))
        node.log.unlink()
        (node.workdir / "phase-0").rename(node.root / "first-attempt")
        assert_ok(self, node.train())
        self.assertEqual(node.calls("download"), [], "the second attempt finds the weights the first fetched")

    def test_label_caches_are_written_to_the_scratch_disk_not_the_dataset_mount(self) -> None:
        node = Node(self)
        (node.mount / "widgets").mkdir()
        (node.mount / "widgets" / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/val\nnames: {0: widget}\n", encoding="utf-8")
        node.write_spec(run_spec(data={"kind": "mounted", "yamlPath": str(node.mount / "widgets" / "data.yaml")}))
        assert_ok(self, node.train())
        (saved,) = node.calls("label-cache-saved")
        self.assertEqual(Path(saved["path"]).parent, node.workdir / "label-cache")
        self.assertEqual(list(node.mount.rglob("*.cache")), [])
        node.log.unlink()
        assert_ok(self, node.train())
        self.assertEqual(node.calls("label-cache-saved"), [], "the next attempt reads the cache instead of scanning again")

    def test_writes_a_progress_line_per_epoch(self) -> None:
        node = Node(self)
        assert_ok(self, node.train(STUB_IMAGES="500"))
        lines = node.progress()
        self.assertEqual([(l["type"], l["phase"], l["phases"], l["epoch"], l["epochs"]) for l in lines], [("epoch", 0, 1, e, 3) for e in (1, 2, 3)])
        for line in lines:
            self.assertEqual(line["metrics"]["metrics/mAP50-95(B)"], round(0.1 * line["epoch"], 4))
            self.assertEqual(set(line["losses"]), {"train/box_loss", "train/cls_loss", "train/dfl_loss"})
            self.assertGreater(line["imagesPerSecond"], 0)
            self.assertLess(line["imagesPerSecond"], 500 / 0.005)  # 500 images in at least the stand-in's 5 ms
            datetime.fromisoformat(line["time"].replace("Z", "+00:00"))

    def test_a_diverged_loss_is_null_in_strict_json(self) -> None:
        node = Node(self)
        assert_ok(self, node.train(STUB_NAN_LOSS="1"))
        text = (node.workdir / "progress.jsonl").read_text(encoding="utf-8")
        self.assertNotIn("NaN", text)
        self.assertIsNone(node.progress()[0]["metrics"]["val/cls_loss"])

    def test_mounted_dataset_with_relative_path_trains_on_the_rewritten_copy(self) -> None:
        node = Node(self, run_spec())
        (node.mount / "widgets").mkdir()
        (node.mount / "widgets" / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/val\nnames: {0: widget}\n", encoding="utf-8")
        node.write_spec(run_spec(data={"kind": "mounted", "yamlPath": str(node.mount / "widgets" / "data.yaml")}))
        assert_ok(self, node.train())
        (train,) = node.calls("train")
        self.assertEqual(train["kwargs"]["data"], str(node.workdir / "data.yaml"))
        self.assertIn(f"path: {node.mount / 'widgets'}", (node.workdir / "data.yaml").read_text(encoding="utf-8"))

    def test_s3_model_trains_from_the_local_copy_the_agent_made(self) -> None:
        node = Node(self)
        local = node.root / "downloads" / "best.pt"
        local.parent.mkdir()
        local.write_text("{}", encoding="utf-8")
        node.write_spec(run_spec(model="s3://models-bucket/widgets/best.pt"))
        assert_ok(self, node.train(YOLO_TRAIN_MODEL=str(local)))
        self.assertEqual(node.calls("train")[0]["model"], str(local))

    def test_leftovers_of_an_attempt_without_checkpoint_are_cleared(self) -> None:
        node = Node(self)
        stale = node.phase(0) / "weights" / "epoch-from-before.pt"
        stale.parent.mkdir(parents=True)
        stale.write_text("old", encoding="utf-8")
        assert_ok(self, node.train())
        self.assertFalse(stale.exists())


class ResumeTest(unittest.TestCase):
    def test_a_crash_exits_non_zero_and_a_resume_continues_from_last_pt(self) -> None:
        node = Node(self)
        crashed = node.train(STUB_FAIL_AT_EPOCH="2")
        self.assertEqual(crashed.returncode, 1)
        self.assertIn("CUDA error: out of memory", crashed.stderr)
        self.assertIn("training failed", crashed.stderr)
        self.assertFalse((node.workdir / "result.json").exists())
        last = node.phase(0) / "weights" / "last.pt"
        self.assertEqual(json.loads(last.read_text(encoding="utf-8"))["epoch"], 0)

        # The agent downloads the checkpoint from S3 and starts the trainer again with it.
        downloaded = node.root / "checkpoint" / "last.pt"
        downloaded.parent.mkdir()
        shutil.copy(last, downloaded)
        node.log.unlink()
        assert_ok(self, node.train(YOLO_TRAIN_RESUME=str(downloaded), YOLO_TRAIN_RESUME_PHASE="0"))

        (train,) = node.calls("train")
        self.assertEqual(train["model"], str(downloaded))
        self.assertEqual(train["kwargs"], {"resume": True, "data": "coco8.yaml", "device": 0})
        self.assertEqual([e["epoch"] for e in node.calls("epoch")], [2, 3])
        self.assertEqual([l["epoch"] for l in node.progress()], [1, 2, 3])
        self.assertEqual(node.result()["status"], "completed")
        self.assertEqual(node.result()["best"], str(node.phase(0) / "weights" / "best.pt"))

    def test_resume_without_the_checkpoint_file_is_an_input_error(self) -> None:
        node = Node(self)
        done = node.train(YOLO_TRAIN_RESUME=str(node.root / "missing" / "last.pt"))
        self.assertEqual(done.returncode, 2)
        self.assertIn("YOLO_TRAIN_RESUME", done.stderr)
        self.assertEqual(node.calls("train"), [])


class MultiGpuTest(unittest.TestCase):
    def test_trains_on_every_gpu_and_reports_progress_from_the_ddp_workers(self) -> None:
        node = Node(self, run_spec(train={"gpus": 4, "batch": 64}))
        assert_ok(self, node.train())
        (train,) = node.calls("train")
        self.assertEqual(train["kwargs"]["device"], [0, 1, 2, 3])
        self.assertEqual(train["kwargs"]["batch"], 64)
        (ddp,) = node.calls("ddp")
        self.assertEqual(ddp["world"], 4)
        workers = [t for t in node.calls("trainer") if t["rank"] >= 0]
        self.assertEqual(sorted(t["rank"] for t in workers), [0, 1, 2, 3])
        self.assertTrue(all(t["class"] == "trainer.hooks.YoloTrainDetectionTrainer" for t in workers))
        # Every rank ran the epochs; only rank 0 wrote progress, once per epoch.
        self.assertEqual(len(node.calls("epoch")), 12)
        self.assertEqual([l["epoch"] for l in node.progress()], [1, 2, 3])
        self.assertEqual(node.result()["status"], "completed")

    def test_autobatch_with_several_gpus_is_refused_before_training(self) -> None:
        node = Node(self, run_spec(train={"gpus": 4, "batch": -1}))
        done = node.train()
        self.assertEqual(done.returncode, 2)
        self.assertIn("AutoBatch", done.stderr)
        self.assertEqual(node.calls(), [])


class AlreadyCompleteTest(unittest.TestCase):
    def assert_already_complete(self, node: Node, best: Path) -> None:
        self.assertEqual(node.calls("train"), [])
        result = node.result()
        self.assertEqual(result["status"], "already-complete")
        self.assertEqual(result["best"], str(best))
        self.assertEqual(result["trainingSeconds"], 0)
        self.assertEqual(node.calls("export")[0]["model"], str(best))
        self.assertTrue(Path(result["onnx"]).is_file())

    def test_a_finalised_checkpoint_is_not_resumed_but_still_evaluated_and_exported(self) -> None:
        node = Node(self)
        ckpt = node.checkpoint(node.root / "checkpoint" / "last.pt", epoch=-1, epochs=3)
        assert_ok(self, node.train(YOLO_TRAIN_RESUME=str(ckpt)))
        self.assert_already_complete(node, ckpt)

    def test_the_best_weights_are_preferred_when_this_node_has_them(self) -> None:
        node = Node(self)
        ckpt = node.checkpoint(node.phase(0) / "weights" / "last.pt", epoch=-1, epochs=3)
        best = node.checkpoint(node.phase(0) / "weights" / "best.pt", epoch=-1, epochs=3)
        assert_ok(self, node.train(YOLO_TRAIN_RESUME=str(ckpt)))
        self.assert_already_complete(node, best)

    def test_a_checkpoint_of_the_last_epoch_is_finished_too(self) -> None:
        node = Node(self)
        ckpt = node.checkpoint(node.root / "checkpoint" / "last.pt", epoch=2, epochs=3)
        assert_ok(self, node.train(YOLO_TRAIN_RESUME=str(ckpt)))
        self.assert_already_complete(node, ckpt)

    def test_ultralytics_nothing_to_resume_error_is_reported_as_already_complete(self) -> None:
        node = Node(self)
        ckpt = node.checkpoint(node.root / "checkpoint" / "last.pt", epoch=0, epochs=3)
        done = node.train(YOLO_TRAIN_RESUME=str(ckpt), STUB_NOTHING_TO_RESUME="1")
        assert_ok(self, done)
        self.assertIn("nothing to resume", done.stdout)
        self.assertEqual(len(node.calls("train")), 1)
        self.assertEqual(node.result()["status"], "already-complete")


class ProgressiveTest(unittest.TestCase):
    PHASES = [{"imgsz": 320, "epochs": 2}, {"imgsz": 640, "epochs": 3}]

    def test_each_phase_continues_from_where_the_previous_phase_stopped(self) -> None:
        node = Node(self, run_spec(train={"progressive": self.PHASES, "epochs": 5, "imgsz": 640}))
        assert_ok(self, node.train())
        first, second = node.calls("train")
        self.assertEqual(
            (first["model"], first["kwargs"]["imgsz"], first["kwargs"]["epochs"], first["kwargs"]["name"]),
            (str(node.scratch / "weights" / "yolov8n.pt"), 320, 2, "phase-0"),
        )
        self.assertEqual(
            (second["model"], second["kwargs"]["imgsz"], second["kwargs"]["epochs"], second["kwargs"]["name"]),
            (str(node.phase(0) / "weights" / "last.pt"), 640, 3, "phase-1"),
        )
        self.assertEqual(second["kwargs"]["lr0"], 0.01, "hyperparameters apply to every phase")
        # Mosaic closes at the end of the run, not of each phase; no second warm-up.
        self.assertEqual((first["kwargs"]["close_mosaic"], second["kwargs"]["close_mosaic"]), (0, 3))
        self.assertNotIn("warmup_epochs", first["kwargs"])
        self.assertEqual(second["kwargs"]["warmup_epochs"], 0)
        # Only the final phase's best.pt is evaluated.
        self.assertEqual([c["weights"] for c in node.calls("final_eval")], [str(node.phase(1) / "weights" / "best.pt")])
        self.assertEqual(
            [(l["phase"], l["phases"], l["epoch"], l["epochs"]) for l in node.progress()],
            [(0, 2, 1, 2), (0, 2, 2, 2), (1, 2, 1, 3), (1, 2, 2, 3), (1, 2, 3, 3)],
        )
        self.assertEqual(node.calls("export")[0]["kwargs"]["imgsz"], 640)
        self.assertEqual(node.result()["best"], str(node.phase(1) / "weights" / "best.pt"))

    def test_resumes_in_phase_one_on_a_new_node(self) -> None:
        node = Node(self, run_spec(train={"progressive": self.PHASES}))
        ckpt = node.checkpoint(node.root / "checkpoint" / "last.pt", epoch=0, epochs=3, phase=1)
        assert_ok(self, node.train(YOLO_TRAIN_RESUME=str(ckpt), YOLO_TRAIN_RESUME_PHASE="1"))
        (train,) = node.calls("train")
        self.assertEqual((train["model"], train["kwargs"]["resume"]), (str(ckpt), True))
        self.assertEqual([(l["phase"], l["epoch"]) for l in node.progress()], [(1, 2), (1, 3)])
        self.assertEqual(node.result()["status"], "completed")
        self.assertEqual(node.result()["best"], str(node.phase(1) / "weights" / "best.pt"))

    def test_a_finished_phase_zero_checkpoint_moves_on_to_phase_one(self) -> None:
        node = Node(self, run_spec(train={"progressive": self.PHASES}))
        ckpt = node.checkpoint(node.root / "checkpoint" / "last.pt", epoch=-1, epochs=2, phase=0)
        assert_ok(self, node.train(YOLO_TRAIN_RESUME=str(ckpt), YOLO_TRAIN_RESUME_PHASE="0"))
        (train,) = node.calls("train")
        self.assertEqual((train["model"], train["kwargs"]["name"], train["kwargs"]["imgsz"]), (str(ckpt), "phase-1", 640))
        self.assertNotIn("resume", train["kwargs"])
        self.assertEqual(node.result()["status"], "completed")

    def test_a_resume_phase_that_does_not_exist_is_an_input_error(self) -> None:
        node = Node(self, run_spec(train={"progressive": self.PHASES}))
        ckpt = node.checkpoint(node.root / "checkpoint" / "last.pt", epoch=0, epochs=3, phase=1)
        for phase in ("2", "-1", "one"):
            with self.subTest(phase=phase):
                done = node.train(YOLO_TRAIN_RESUME=str(ckpt), YOLO_TRAIN_RESUME_PHASE=phase)
                self.assertEqual(done.returncode, 2)
                self.assertIn("YOLO_TRAIN_RESUME_PHASE", done.stderr)


class TrackingRunTest(unittest.TestCase):
    def test_off_switches_ultralytics_integrations_off(self) -> None:
        node = Node(self)
        assert_ok(self, node.train())
        settings = node.settings()
        self.assertEqual({k: settings[k] for k in (*tracking.INTEGRATIONS, "sync")}, tracking.wanted_settings("off"))
        self.assertEqual(node.calls("mlflow.start"), [])
        self.assertEqual(node.calls("train")[0]["env"], {})

    def test_mlflow_gets_its_server_experiment_and_run_name(self) -> None:
        node = Node(self, run_spec(tracking={"kind": "mlflow", "uri": "https://mlflow.example.com"}))
        assert_ok(self, node.train())
        self.assertTrue(node.settings()["mlflow"])
        self.assertFalse(node.settings()["wandb"])
        (start,) = node.calls("mlflow.start")
        self.assertEqual(
            {k: start[k] for k in ("uri", "experiment", "run", "maxRetries")},
            {"uri": "https://mlflow.example.com", "experiment": "yolo-train-dev", "run": f"{RUN_ID}-phase-0", "maxRetries": "2"},
        )
        # Each epoch, and ultralytics' final evaluation of best.pt (which the tracker logs too).
        self.assertEqual(len(node.calls("mlflow.log")), 4)

    def test_a_failing_tracking_server_does_not_fail_the_run(self) -> None:
        node = Node(self, run_spec(tracking={"kind": "mlflow", "uri": "https://mlflow.example.com"}))
        done = node.train(STUB_MLFLOW_FAIL="1")
        assert_ok(self, done)
        self.assertIn("tracking (mlflow) failed and is off", done.stderr)
        self.assertEqual(node.result()["status"], "completed")
        self.assertEqual(len(node.progress()), 3)

    def test_wandb_runs_in_the_spec_project_on_one_gpu_and_on_several(self) -> None:
        for gpus in (1, 4):
            with self.subTest(gpus=gpus):
                node = Node(self, run_spec(train={"gpus": gpus}, tracking={"kind": "wandb", "project": "pallets", "apiKeyParameter": "/yolo-train/dev/wandb"}))
                done = node.train(WANDB_API_KEY=SECRET)
                assert_ok(self, done)
                self.assertTrue(node.settings()["wandb"])
                (init,) = node.calls("wandb.init")
                self.assertEqual(
                    {k: init[k] for k in ("project", "name", "id", "resume")},
                    {"project": "pallets", "name": f"{RUN_ID}-phase-0", "id": f"{RUN_ID}-phase-0", "resume": "allow"},
                )
                self.assertEqual(init["rank"], 0 if gpus > 1 else -1)
                self.assertEqual(len(node.calls("wandb.log")), 4)  # three epochs and the final evaluation
                self.assertNotIn("failed", done.stderr)
                # The key is only ever in the trainer's environment.
                for text in (done.stdout, done.stderr, *(p.read_text(errors="replace") for p in node.root.rglob("*") if p.is_file())):
                    self.assertNotIn(SECRET, text)

    def test_wandb_without_its_key_is_an_input_error(self) -> None:
        node = Node(self, run_spec(tracking={"kind": "wandb", "project": "pallets", "apiKeyParameter": "/yolo-train/dev/wandb"}))
        done = node.train()
        self.assertEqual(done.returncode, 2)
        self.assertIn("WANDB_API_KEY is not set", done.stderr)
        self.assertIn("/yolo-train/dev/wandb", done.stderr)
        self.assertEqual(node.calls("train"), [])


class FailureTest(unittest.TestCase):
    def test_unusable_inputs_exit_2_with_a_message_and_train_nothing(self) -> None:
        cases: list[tuple[str, dict[str, str], Any, str]] = [
            ("no spec variable", {"YOLO_TRAIN_RUN_SPEC": ""}, None, "YOLO_TRAIN_RUN_SPEC is not set"),
            ("missing spec file", {"YOLO_TRAIN_RUN_SPEC": "/nonexistent/spec.json"}, None, "does not exist"),
            ("not JSON", {}, "{not json", "not readable JSON"),
            ("newer schema", {}, run_spec(schemaVersion=2), "schemaVersion 2 is not supported"),
            ("s3 model without its local copy", {}, run_spec(model="s3://bucket/w/best.pt"), "YOLO_TRAIN_MODEL"),
            ("mounted yaml missing", {}, run_spec(data={"kind": "mounted", "yamlPath": "__mount__/data.yaml"}), "does not exist"),
        ]
        for label, env, document, words in cases:
            with self.subTest(label):
                node = Node(self)
                if isinstance(document, str):
                    node.spec_path.write_text(document, encoding="utf-8")
                elif document is not None:
                    if document["data"]["kind"] == "mounted":
                        document["data"]["yamlPath"] = document["data"]["yamlPath"].replace("__mount__", str(node.mount))
                    node.write_spec(document)
                done = node.train(**env)
                self.assertEqual(done.returncode, 2, done.stderr)
                self.assertIn(words, done.stderr)
                self.assertEqual(node.calls("train"), [])

    def test_a_failed_export_exits_1_and_writes_no_result(self) -> None:
        node = Node(self)
        done = node.train(STUB_EXPORT_FAIL="1")
        self.assertEqual(done.returncode, 1)
        self.assertIn("ONNX: export failure", done.stderr)
        self.assertFalse((node.workdir / "result.json").exists())

    def test_a_previous_attempt_result_is_removed_before_anything_else(self) -> None:
        node = Node(self)
        node.workdir.mkdir(parents=True)
        (node.workdir / "result.json").write_text('{"status": "completed"}', encoding="utf-8")
        self.assertEqual(node.train(STUB_FAIL_AT_EPOCH="1").returncode, 1)
        self.assertFalse((node.workdir / "result.json").exists())


class WorkerHooksTest(unittest.TestCase):
    """The hooks in-process, with a stand-in trainer: rank gating and the tracking guard."""

    def test_hooks_do_nothing_without_their_configuration(self) -> None:
        from trainer import hooks

        trainer = SimpleNamespace(callbacks={"on_fit_epoch_end": []}, add_callback=None)
        hooks.install(trainer, None)
        self.assertEqual(trainer.callbacks, {"on_fit_epoch_end": []})

    def test_guard_switches_a_failing_tracker_off_and_leaves_others_alone(self) -> None:
        from trainer import hooks

        calls: list[str] = []

        def failing(_trainer: Any) -> None:
            calls.append("mlflow")
            raise ConnectionError("down")

        def other(_trainer: Any) -> None:
            calls.append("ours")

        failing.__module__ = "ultralytics.utils.callbacks.mlflow"
        callbacks = {"on_fit_epoch_end": [failing, other]}
        guard = hooks.TrackingGuard()
        guard.wrap_all(callbacks)
        for _ in range(3):
            for function in callbacks["on_fit_epoch_end"]:
                function(None)
        self.assertEqual(calls, ["mlflow", "ours", "ours", "ours"])
        self.assertEqual(guard.disabled, {"ultralytics.utils.callbacks.mlflow"})


if __name__ == "__main__":
    unittest.main()
