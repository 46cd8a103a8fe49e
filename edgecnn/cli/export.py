"""``edgecnn export``: write validated ONNX and TFLite artifacts, float and int8, of a trained model."""

from __future__ import annotations

import enum
import os
import warnings
from pathlib import Path
from typing import Annotated, Optional

import typer

from edgecnn.cli import app
from edgecnn.cli.console import stderr, user_errors
from edgecnn.errors import require
from edgecnn.export.config import FORMATS, ExportConfig
from edgecnn.modelfile import find_checkpoint
from edgecnn.native_notices import dropped_notices

DEFAULTS = ExportConfig()


class FormatChoice(str, enum.Enum):
    onnx = "onnx"
    tflite = "tflite"
    all = "all"


class CalibrationMethod(str, enum.Enum):
    minmax = "minmax"
    entropy = "entropy"
    percentile = "percentile"


@app.command()
def export(
    source: Annotated[Path, typer.Argument(metavar="SOURCE", help="Run directory, or a final checkpoint (.pt).",
                                                    show_default=False)],
    format_choice: Annotated[FormatChoice, typer.Option("--format", "-f", help="Artifact format.")] = FormatChoice.all,
    int8: Annotated[bool, typer.Option("--int8", help="Also write int8 artifacts (static post-training "
                                       "quantization).")] = DEFAULTS.int8,
    uint8_input: Annotated[bool, typer.Option("--uint8-input", help="Fold normalization into the model so it "
                                              "takes raw 0-255 pixels; names get '-uint8in'.")] = (
        DEFAULTS.uint8_input),
    out: Annotated[Optional[Path], typer.Option("--out", help="Output folder.", file_okay=False,
                                                show_default="the run directory, or the checkpoint's folder")] = None,
    opset: Annotated[int, typer.Option(help="ONNX operator set version (13 to 20).")] = DEFAULTS.opset,
    calib_samples: Annotated[int, typer.Option(min=1, help="Training images in the int8 calibration set.")] = (
        DEFAULTS.calib_samples),
    calib_method: Annotated[CalibrationMethod, typer.Option(help="ONNX activation calibration; TFLite always "
                                                            "uses litert-torch's histogram observer.")] = (
        CalibrationMethod(DEFAULTS.calib_method)),
    seed: Annotated[int, typer.Option(help="Seed of the calibration set's choice of training images.")] = (
        DEFAULTS.seed),
    max_accuracy_drop: Annotated[float, typer.Option(help="Fail when an int8 artifact's test accuracy is more than "
                                                     "this many percentage points below the float model's.")] = (
        DEFAULTS.max_accuracy_drop),
    atol: Annotated[float, typer.Option(help="Fail when a float artifact's logits differ from the PyTorch model's "
                                        "by more than this.")] = DEFAULTS.atol,
    data_dir: Annotated[Optional[Path], typer.Option(
        help="Folder with the data set files. Default: EDGECNN_DATA_DIR, else ~/.cache/edgecnn/datasets.",
        show_default=False)] = None,
    no_download: Annotated[bool, typer.Option("--no-download", help="Fail instead of downloading missing "
                                              "data set files (also set by EDGECNN_OFFLINE=1).")] = False,
    test_limit: Annotated[Optional[int], typer.Option(min=1, help="Validate on only the first N test images.",
                                                      show_default="all")] = None,
) -> None:
    """Export a trained model to ONNX and TFLite, validate every artifact, and record them in export.json."""
    # Lower what the converter's native libraries log while converting. The lines they print on import
    # ignore these variables and are dropped below instead.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("GLOG_minloglevel", "2")
    # torch 2.13 warns about its own pytree internals each time litert-torch traces the model.
    warnings.filterwarnings("ignore", message=".*treespec.*", category=FutureWarning)
    with user_errors():
        # A wrong path fails before the converter libraries load and print their start-up lines.
        find_checkpoint(source)
        require("torch", "train", "edgecnn export")
        for module, purpose in (("onnx", "ONNX export"), ("onnxsim", "ONNX simplification"),
                                ("onnxruntime", "ONNX validation"), ("litert_torch", "TFLite conversion"),
                                ("ai_edge_litert", "TFLite validation")):
            if format_choice.value in ("all", "onnx" if module.startswith("onnx") else "tflite"):
                with dropped_notices():  # litert-torch's import prints absl's and oneDNN's set-up lines
                    require(module, "export", purpose)
        from edgecnn.export.pipeline import export_model

        config = ExportConfig(formats=list(FORMATS) if format_choice == FormatChoice.all else [format_choice.value], int8=int8,
                              uint8_input=uint8_input, out_dir=out, opset=opset, calib_samples=calib_samples,
                              calib_method=calib_method.value, seed=seed, atol=atol,
                              max_accuracy_drop=max_accuracy_drop, data_dir=data_dir,
                              allow_download=not no_download, test_limit=test_limit)
        result = export_model(source, config, on_validated=_print_check)
        # The reference accuracy was logged before the artifacts were built.
        stderr.print(f"wrote {result.manifest_path}")
        for artifact in result.artifacts:
            typer.echo(str(artifact.path))


def _print_check(artifact) -> None:
    """Print one line per validated artifact: a check mark or a cross, then size and measured figures."""
    validation = artifact.validation
    figures = [f"{artifact.size_bytes:,} bytes", f"accuracy {validation.accuracy:.2f}%",
               f"agreement {validation.agreement:.2f}%"]
    if validation.max_abs_diff is not None:
        figures.append(f"max abs diff {validation.max_abs_diff:.2e}")
    if artifact.accuracy_drop is not None:
        figures.append(f"drop {artifact.accuracy_drop:+.2f} pp")
    mark = "[green]✓[/green]" if artifact.problem is None else "[red]✗[/red]"
    stderr.print(f"{mark} {artifact.spec.file_name}: {', '.join(figures)} ({validation.runtime})", highlight=False)
