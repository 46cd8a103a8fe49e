"""Run directories: ``runs/train/<name>``, never silently overwritten."""

from __future__ import annotations

from pathlib import Path

from edgecnn.errors import RunExistsError

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
RESULTS_FILE = "results.json"
CURVES_FILE = "curves.png"
CHECKPOINT_DIR = "checkpoints"
LAST_CHECKPOINT = "last.pt"  # the newest epoch, for --resume
STAGE1_CHECKPOINT = "stage1.pt"
FINAL_CHECKPOINT = "final.pt"


def new_run_dir(project: Path, name: str, exist_ok: bool = False) -> Path:
    """Create the run directory project/name, or project/name-2, -3, ... when it already exists.

    With exist_ok the existing directory is reused, unless it contains a finished run,
    which is never replaced.
    """
    project.mkdir(parents=True, exist_ok=True)
    candidate = project / name
    if exist_ok:
        if (candidate / RESULTS_FILE).exists():
            raise RunExistsError(
                f"{candidate} already contains a finished run; choose another --name or delete that directory"
            )
        candidate.mkdir(exist_ok=True)
        return candidate
    number = 1
    while True:
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            number += 1
            candidate = project / f"{name}-{number}"
