"""The trainer that docker/train.py runs: a thin wrapper around ultralytics.

docs/node-runtime.md is the contract with the run agent (environment, work dir layout,
progress.jsonl, result.json, exit status). Modules:

- spec: the parts of the run spec the trainer reads, and the training phases.
- data: the data argument for ultralytics (a built-in yaml name, or the mounted data.yaml).
- checkpoint: what a last.pt says about its run (finished or not).
- tracking: ultralytics settings and environment for MLflow, W&B or no tracking.
- hooks: the ultralytics trainer class the run uses; DDP workers import it by name.
- run: the whole run, phase by phase, then evaluation, ONNX export and result.json.
"""
