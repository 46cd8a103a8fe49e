"""Output folder and file names of an export's artifacts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FINAL_CHECKPOINT = "final.pt"
SUFFIXES = {"onnx": ".onnx", "tflite": ".tflite"}


@dataclass(frozen=True)
class ArtifactSpec:
    """One artifact to write: its format, whether it is int8, and its file name."""

    format: str  # onnx or tflite
    int8: bool
    uint8_input: bool
    file_name: str


def run_dir_of(checkpoint: Path) -> Path | None:
    """Return the run directory of a run's checkpoints/final.pt, else None."""
    if checkpoint.name == FINAL_CHECKPOINT and checkpoint.parent.name == "checkpoints":
        return checkpoint.parent.parent
    return None


def artifact_stem(checkpoint: Path) -> str:
    """`X` for a checkpoint X.pt; the run directory's name for final.pt."""
    if checkpoint.name != FINAL_CHECKPOINT:
        return checkpoint.stem
    run_dir = run_dir_of(checkpoint)
    return (run_dir or checkpoint.parent).name


def default_out_dir(checkpoint: Path) -> Path:
    """Return the run directory for a run's final.pt, else the checkpoint's folder."""
    return run_dir_of(checkpoint) or checkpoint.parent


def plan_artifacts(stem: str, formats: list[str], int8: bool, uint8_input: bool) -> list[ArtifactSpec]:
    """List the artifacts to write: per format the float one, then the int8 one if requested.

    Names: <stem>.onnx, <stem>-int8.onnx, and with uint8 input <stem>-uint8in.onnx, <stem>-uint8in-int8.onnx.
    """
    specs = []
    base = f"{stem}-uint8in" if uint8_input else stem
    for format_name in formats:
        suffix = SUFFIXES[format_name]
        specs.append(ArtifactSpec(format_name, False, uint8_input, f"{base}{suffix}"))
        if int8:
            specs.append(ArtifactSpec(format_name, True, uint8_input, f"{base}-int8{suffix}"))
    return specs
