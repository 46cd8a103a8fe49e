"""Export configuration: the only place export defaults live; the CLI maps its options onto these fields."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from edgecnn.errors import ConfigError

FORMATS = ("onnx", "tflite")
CALIBRATION_METHODS = ("minmax", "entropy", "percentile")


@dataclass
class ExportConfig:
    formats: list[str] = field(default_factory=lambda: list(FORMATS))  # onnx and/or tflite
    int8: bool = False  # also write the int8 (static post-training quantized) artifacts
    uint8_input: bool = False  # fold normalization into the model so it takes raw 0-255 pixels
    out_dir: Path | None = None  # None: the run directory for a run's final.pt, else the checkpoint's folder
    opset: int = 17  # ONNX operator set version
    calib_samples: int = 300  # training images in the calibration set
    calib_method: str = "minmax"  # ONNX activation calibration: minmax, entropy or percentile
    seed: int = 0  # seed of the calibration set's random choice of training images
    atol: float = 1e-4  # largest absolute logit difference a float artifact may have to the reference model
    max_accuracy_drop: float = 1.0  # percentage points an int8 artifact may lose against the float model
    data_dir: Path | None = None  # None: EDGECNN_DATA_DIR, else the per-user cache
    allow_download: bool = True  # download missing data set files; EDGECNN_OFFLINE=1 turns this off too
    test_limit: int | None = None  # validate on only the first N test images; None: all

    def validate(self) -> None:
        unknown = [name for name in self.formats if name not in FORMATS]
        if unknown or not self.formats:
            raise ConfigError(f"unknown export format '{', '.join(unknown) or '(none)'}'; "
                              f"choose {', '.join(FORMATS)} or all")
        if self.calib_method not in CALIBRATION_METHODS:
            raise ConfigError(f"unknown calibration method '{self.calib_method}'; "
                              f"choose one of {', '.join(CALIBRATION_METHODS)}")
        if self.calib_samples < 1:
            raise ConfigError(f"invalid --calib-samples {self.calib_samples}; use 1 or more")
        if not 13 <= self.opset <= 20:
            # 13 is the lowest opset with per-channel QuantizeLinear; 20 the highest that torch 2.13's
            # TorchScript exporter writes.
            raise ConfigError(f"invalid --opset {self.opset}; use 13 to 20")
        if self.max_accuracy_drop < 0:
            raise ConfigError(f"invalid --max-accuracy-drop {self.max_accuracy_drop}; use 0 or more "
                              "percentage points")
        if self.atol <= 0:
            raise ConfigError(f"invalid --atol {self.atol}; use a positive number")
        if self.test_limit is not None and self.test_limit < 1:
            raise ConfigError(f"invalid --test-limit {self.test_limit}; use 1 or more")

    def to_dict(self) -> dict:
        values = asdict(self)
        for key in ("out_dir", "data_dir"):
            values[key] = None if values[key] is None else str(values[key])
        return values
