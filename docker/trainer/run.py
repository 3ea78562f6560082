"""One training run as the run spec describes it, per docs/node-runtime.md.

Phase by phase (one phase without `progressive`): phase k starts from the spec's model (k = 0)
or from where phase k-1 stopped (its last.pt; schedule.py keeps one LR schedule over all
phases), or resumes from YOLO_TRAIN_RESUME when the agent names a checkpoint of phase k. A
checkpoint of a finished phase is not resumed (ultralytics cannot); the run goes on with the next
phase, or, after the last one, reports "already-complete". Then the final phase's best.pt is
evaluated (once: ultralytics' own final evaluation when this process trained it), exported to
ONNX and checked against PyTorch (onnx_check.py), and result.json is written last.

Exit status: 0 done; 2 the inputs are unusable (spec, model, data, tracking credentials), so a
retry would fail the same way; 1 training, evaluation or export failed.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Mapping

from . import tracking
from .checkpoint import is_nothing_to_resume, read_checkpoint
from .data import DEFAULT_MOUNT, data_argument
from .records import class_names, numbers, write_json_atomically
from .schedule import phase_overrides, schedule_config
from .spec import InputError, Phase, RunSpec, load_run_spec, training_device

# ONNX opset of the exported model: 17 is read by every ONNX Runtime since 1.12 and TensorRT 8.6,
# so the edge boxes' runtime does not have to follow the training image's torch.
ONNX_OPSET = 17

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def main() -> int:
    try:
        return run(os.environ)
    except InputError as error:
        print(f"train.py: {tracking.redact(str(error), os.environ)}", file=sys.stderr, flush=True)
        return EXIT_BAD_INPUT
    except Exception:  # noqa: BLE001 - report, exit non-zero, let the agent decide on a retry
        print(tracking.redact(traceback.format_exc(), os.environ), file=sys.stderr, flush=True)
        print("train.py: training failed (see above)", file=sys.stderr, flush=True)
        return EXIT_FAILED


def run(env: os._Environ[str] | dict[str, str]) -> int:
    spec_path = env.get("YOLO_TRAIN_RUN_SPEC")
    if not spec_path:
        raise InputError("YOLO_TRAIN_RUN_SPEC is not set: it must name the run spec JSON file")
    spec = load_run_spec(spec_path)

    scratch = Path(env.get("YOLO_TRAIN_SCRATCH") or "/scratch").absolute()
    workdir = Path(env.get("YOLO_TRAIN_WORKDIR") or scratch / "runs" / spec.run_id).absolute()
    device = training_device(spec, env)
    resume, resume_phase = resume_request(env, spec)
    model = model_weights(spec, env, scratch)
    workdir.mkdir(parents=True, exist_ok=True)
    result_path = workdir / "result.json"
    result_path.unlink(missing_ok=True)  # never leave a previous attempt's result for the agent to read

    data = data_argument(spec.data, workdir, env.get("YOLO_TRAIN_DATA_MOUNT") or DEFAULT_MOUNT)
    env.update(tracking.run_environment(spec, env))
    make_importable_by_workers(env)
    # ultralytics downloads a weights file it is asked for by bare name into the working directory
    # (the AMP check's yolo11n.pt on every GPU node), and looks it up there and in weights_dir:
    # both are <scratch>/weights, so each file is fetched once and found by later attempts.
    weights_dir = scratch / "weights"
    weights_dir.mkdir(parents=True, exist_ok=True)
    os.chdir(weights_dir)

    from ultralytics import YOLO, settings

    applied = tracking.apply_settings(settings, {**tracking.wanted_settings(spec.tracking.get("kind", "off")), **directories(scratch)})
    log(f"run {spec.run_id}: {len(spec.phases)} phase(s), device {device}, tracking {spec.tracking.get('kind')} ({sorted(k for k, v in applied.items() if v is True) or 'no integrations'})")

    from .hooks import HOOKS_ENV, YoloTrainDetectionTrainer
    from .label_cache import redirect_label_caches

    redirect_label_caches(label_cache_dir(workdir))
    final_eval_path = workdir / FINAL_EVALUATION
    training_seconds = 0.0
    trained = False
    weights = model
    first = resume_phase if resume else 0
    for phase in spec.phases[first:]:
        phase_dir = workdir / phase.name
        env[HOOKS_ENV] = json.dumps(hooks_settings(spec, phase, workdir))
        env.update(tracking.phase_environment(spec, phase))
        started = time.monotonic()
        if resume and phase.index == first:
            save_dir = resume_phase_training(YOLO, YoloTrainDetectionTrainer, device, phase, resume, data, phase_dir)
            if save_dir is None:
                # Finished before this attempt: the weights it hands on, from this node if it has them.
                weights = phase_output(phase_dir, spec, phase, fallback=Path(resume))
                continue
        else:
            save_dir = fresh_phase_training(YOLO, YoloTrainDetectionTrainer, spec, device, phase, weights, data, workdir, keep=resume)
        training_seconds += time.monotonic() - started
        trained = True
        weights = phase_output(save_dir, spec, phase)

    final = spec.final_phase
    evaluation = recorded_evaluation(final_eval_path, weights)
    if evaluation is None:
        # No evaluation of these weights on this node (a finished run resumed elsewhere): the only one.
        log(f"evaluating {weights}")
        validated = YOLO(weights).val(data=data, imgsz=final.imgsz, device=device, project=str(workdir), name="val", exist_ok=True, plots=False)
        evaluation = {"metrics": numbers(getattr(validated, "results_dict", {}) or {}), "classNames": class_names(getattr(validated, "names", None))}
    else:
        log(f"{weights}: metrics of ultralytics' final evaluation, not validated again")

    onnx, onnx_export = export_and_check(YOLO, weights, data, final.imgsz, device)
    result = {
        "status": "completed" if trained else "already-complete",
        "best": str(weights),
        "onnx": str(onnx),
        "metrics": evaluation["metrics"],
        "trainingSeconds": round(training_seconds, 1),
        # For the OTA manifest: the size the ONNX model takes, and its classes in index order
        # (the validator's `names`, which it takes from the model).
        "imgsz": final.imgsz,
        "onnxExport": onnx_export,
    }
    if evaluation.get("classNames") is not None:
        result["classNames"] = evaluation["classNames"]
    write_json_atomically(result_path, result)
    log(f"{result['status']}: {result_path}")
    return EXIT_OK


FINAL_EVALUATION = "final-eval.json"
# Validation images the exported model is run on, against PyTorch, before it may be released.
ONNX_CHECK_IMAGES = 4


def label_cache_dir(workdir: Path) -> Path:
    return workdir / "label-cache"


def phase_output(save_dir: Path, spec: RunSpec, phase: Phase, fallback: Path | None = None) -> str:
    """What a finished phase hands on: the next phase continues from its last weights; the run ends with its best.

    Phases before the last continue the run's one schedule (schedule.py), so the next phase starts
    where this one stopped (last.pt, ultralytics' EMA weights). The final phase's best.pt is what is
    evaluated, exported and released; a resumed phase whose best epoch came before the interruption
    may have no best.pt on this node, and then its final last.pt is.
    """
    weights = save_dir / "weights"
    if phase.index < len(spec.phases) - 1:
        order = [weights / "last.pt", weights / "best.pt"]
    else:
        order = [weights / "best.pt", weights / "last.pt"]
    return first_file(*order, *([fallback] if fallback else []))


def recorded_evaluation(path: Path, weights: str) -> dict[str, Any] | None:
    """The final evaluation the trainer hook recorded, if it is of exactly these weights as they are now."""
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
        current = Path(weights).stat()
    except (OSError, ValueError):
        return None
    if not isinstance(recorded, dict) or recorded.get("weights") != str(weights) or not isinstance(recorded.get("metrics"), dict):
        return None
    if recorded.get("weightsBytes") != current.st_size or recorded.get("weightsMtimeNs") != current.st_mtime_ns:
        return None  # rewritten since (e.g. by a later attempt): evaluate again
    return recorded


def export_and_check(YOLO: Any, weights: str, data: str, imgsz: int, device: Any) -> tuple[Path, dict[str, Any]]:
    """The ONNX export of the weights, and the check of it against PyTorch that gates its release (onnx_check.py)."""
    from .onnx_check import check_export, unchecked_export, validation_images, watching_onnxslim

    log(f"exporting {weights} to ONNX (opset {ONNX_OPSET}, imgsz {imgsz})")
    # simplify=True: the image pins onnxslim; whether it really ran is what the watch reports.
    with watching_onnxslim() as slim:
        exported = YOLO(weights).export(format="onnx", imgsz=imgsz, opset=ONNX_OPSET, simplify=True, dynamic=False, half=False, batch=1, device=export_device(device))
    onnx = Path(str(exported))
    if not onnx.is_file():
        raise RuntimeError(f"ONNX export returned {exported!r}, which is not a file")
    if not slim.simplified:
        log("warning: the ONNX export is not simplified (onnxslim is missing or failed; the image pins it)")
    try:
        report = check_export(Path(weights), onnx, validation_images(data, ONNX_CHECK_IMAGES), imgsz, device, ONNX_OPSET, simplified=slim.simplified)
    except Exception as error:  # noqa: BLE001 - an unverified export is not released; the trained model stays
        report = unchecked_export(f"the ONNX check could not run: {type(error).__name__}: {error}", slim.simplified)
    check = report.get("check", {})
    log(f"ONNX check: {'passed' if check.get('passed') else 'FAILED, the model will not be released: ' + str(check.get('reason'))}")
    return onnx, report


def export_device(device: Any) -> Any:
    """Export traces on one device: the first GPU of a DDP run."""
    return device[0] if isinstance(device, list) else device


def resume_request(env: Mapping[str, str], spec: RunSpec) -> tuple[str | None, int]:
    resume = env.get("YOLO_TRAIN_RESUME") or None
    raw_phase = env.get("YOLO_TRAIN_RESUME_PHASE") or "0"
    try:
        phase = int(raw_phase)
    except ValueError as error:
        raise InputError(f"YOLO_TRAIN_RESUME_PHASE {raw_phase!r} is not a phase number") from error
    if resume is None:
        return None, 0
    if not Path(resume).is_file():
        raise InputError(f"YOLO_TRAIN_RESUME {resume} is not a file")
    resume = str(Path(resume).absolute())
    if not 0 <= phase < len(spec.phases):
        raise InputError(f"YOLO_TRAIN_RESUME_PHASE {phase} is not a phase of this run (0 to {len(spec.phases) - 1})")
    return resume, phase


def model_weights(spec: RunSpec, env: Mapping[str, str], scratch: Path) -> str:
    """The local copy of an s3:// model, or the named weights' place in <scratch>/weights.

    ultralytics downloads a missing named file (yolov8n.pt, ...) to the path it is given, so
    the weights land in weights_dir, where a later attempt on this node finds them, instead of
    in the working directory.
    """
    if not spec.model.startswith("s3://"):
        if Path(spec.model).name != spec.model:
            raise InputError(f"model {spec.model!r} must be a weights name such as yolov8n.pt, or an s3:// URI")
        return str(scratch / "weights" / spec.model)
    local = env.get("YOLO_TRAIN_MODEL")
    if not local:
        raise InputError(f"model {spec.model} is in S3: the agent must download it and pass its path in YOLO_TRAIN_MODEL")
    if not Path(local).is_file():
        raise InputError(f"YOLO_TRAIN_MODEL {local} (the copy of {spec.model}) is not a file")
    return str(Path(local).absolute())


def directories(scratch: Path) -> dict[str, str]:
    """Where ultralytics keeps downloaded datasets and weights: the node's scratch disk."""
    return {"datasets_dir": str(scratch / "datasets"), "weights_dir": str(scratch / "weights")}


def hooks_settings(spec: RunSpec, phase: Phase, workdir: Path) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "progress": str(workdir / "progress.jsonl"),
        "phase": phase.index,
        "phases": len(spec.phases),
        "labelCache": str(label_cache_dir(workdir)),
    }
    if phase.index == len(spec.phases) - 1:
        settings["finalEval"] = str(workdir / FINAL_EVALUATION)
    schedule = schedule_config(spec.phases, phase.index)
    if schedule is not None:
        settings["schedule"] = schedule
    if spec.tracking.get("kind") == "wandb":
        name = f"{spec.run_id}-{phase.name}"
        settings["wandb"] = {"project": str(spec.tracking["project"]), "name": name, "id": name}
    return settings


def fresh_phase_training(YOLO: Any, trainer: type, spec: RunSpec, device: Any, phase: Phase, weights: str, data: str, workdir: Path, keep: str | None) -> Path:
    phase_dir = workdir / phase.name
    # Left over from an attempt that failed before its first checkpoint: start clean, as ultralytics'
    # own DDP launch does, so results and weights of two attempts never mix.
    if phase_dir.exists() and not (keep and _inside(Path(keep), phase_dir)):
        shutil.rmtree(phase_dir)
    log(f"{phase.name}: training {weights} for {phase.epochs} epochs at imgsz {phase.imgsz}")
    arguments = {
        **spec.hyperparameters,
        **phase_overrides(spec.phases, spec.hyperparameters, phase.index),
        "data": data,
        "epochs": phase.epochs,
        "imgsz": phase.imgsz,
        "batch": spec.batch,
        "device": device,
        "project": str(workdir),
        "name": phase.name,
        "exist_ok": True,
    }
    model = YOLO(weights)
    model.train(trainer=trainer, **arguments)
    return trained_save_dir(model, phase_dir)


def resume_phase_training(YOLO: Any, trainer: type, device: Any, phase: Phase, checkpoint: str, data: str, phase_dir: Path) -> Path | None:
    """Resumes phase training from the checkpoint; None when that phase had already finished."""
    state = read_checkpoint(checkpoint)
    if state is not None and state.finished:
        log(f"{phase.name}: checkpoint {checkpoint} is of a finished phase; nothing to resume")
        return None
    if state is not None and state.save_dir and Path(state.save_dir) != phase_dir:
        log(f"warning: {checkpoint} trains into {state.save_dir}, not {phase_dir}; the agent watches {phase_dir}/weights")
    log(f"{phase.name}: resuming from {checkpoint}")
    model = YOLO(checkpoint)
    try:
        # ultralytics takes every other argument from the checkpoint; data only where the
        # checkpoint's data yaml is not on this node, device because the node may differ.
        model.train(trainer=trainer, resume=True, data=data, device=device)
    except Exception as error:
        if is_nothing_to_resume(error):
            log(f"{phase.name}: ultralytics says the run is finished; nothing to resume")
            return None
        raise
    return trained_save_dir(model, phase_dir)


def trained_save_dir(model: Any, expected: Path) -> Path:
    save_dir = getattr(getattr(model, "trainer", None), "save_dir", None)
    return Path(save_dir) if save_dir else expected


def first_file(*candidates: Path) -> str:
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    raise RuntimeError("no weights to hand on: none of " + ", ".join(str(c) for c in candidates) + " exists")


def make_importable_by_workers(env: Any) -> None:
    """DDP workers import trainer.hooks by name: put this package's folder on their PYTHONPATH."""
    app_dir = str(Path(__file__).resolve().parent.parent)
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if app_dir not in parts:
        env["PYTHONPATH"] = os.pathsep.join([app_dir, *parts])


def log(message: str) -> None:
    print(f"train.py: {message}", flush=True)


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False
