"""The benchmark configuration: one dataclass whose defaults the CLI shows in --help."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from edgecnn.errors import ConfigError


@dataclass
class BenchConfig:
    runtime: str = "auto"  # auto, onnxruntime, litert, tflite-runtime or torch
    threads: int = 1  # intra-op threads of the runtime
    warmup_runs: int = 100  # untimed calls before timing, at least this many ...
    warmup_min_s: float = 0.5  # ... and for at least this many seconds
    timed_runs: int = 1000  # timed calls at batch 1, at least this many ...
    timed_min_s: float = 1.0  # ... and for at least this many seconds ...
    timed_max_s: float = 20.0  # ... but stopping after this many seconds even if fewer runs were made
    batch_size: int = 32  # images per call when measuring throughput
    throughput_runs: int = 50  # timed calls at batch_size, with the same minimum and maximum seconds
    mlperf_inputs: int = 5  # inputs timed separately for the MLPerf-Tiny-style median
    dataset: str | None = None  # data set id for real inputs and accuracy, 'auto' for each model's own
    data_dir: str | None = None  # default: EDGECNN_DATA_DIR, else the per-user cache
    test_limit: int | None = None  # use only the first N test images for accuracy
    # Measure accuracy on the first N training images instead of the test set: the validation
    # split that `edgecnn train --validation-size N` holds out.
    validation_size: int | None = None
    allow_download: bool = True  # fetch missing data set files; EDGECNN_OFFLINE=1 also turns this off
    input_pool: int = 100  # distinct batch-1 inputs cycled through by the timed runs
    seed: int = 0  # seed of the random inputs when no data set is given

    def validate(self) -> None:
        """Raise ConfigError for the first value out of range."""
        # Keyed by the command-line option, or by the field for the settings that have none.
        positive = {"--threads": self.threads, "--runs": self.timed_runs, "--batch-size": self.batch_size,
                    "--throughput-runs": self.throughput_runs, "mlperf_inputs": self.mlperf_inputs,
                    "input_pool": self.input_pool}
        for name, value in positive.items():
            if value < 1:
                raise ConfigError(f"invalid {name} {value}; use 1 or more")
        if self.warmup_runs < 0 or self.warmup_min_s < 0 or self.timed_min_s < 0:
            raise ConfigError("invalid warm-up or timing limit; use 0 or more")
        if self.timed_max_s < self.timed_min_s:
            raise ConfigError(f"invalid --max-seconds {self.timed_max_s}: below --min-seconds {self.timed_min_s}")
        if self.test_limit is not None and self.test_limit < 1:
            raise ConfigError(f"invalid --test-limit {self.test_limit}; use 1 or more")
        if self.validation_size is not None and self.validation_size < 1:
            raise ConfigError(f"invalid --validation-size {self.validation_size}; use 1 or more")
        if self.validation_size is not None and self.test_limit is not None:
            raise ConfigError("--test-limit and --validation-size both choose the accuracy images; pass only one")
        if self.validation_size is not None and self.dataset is None:
            raise ConfigError("--validation-size needs real images; add --dataset auto or the data set id")

    def to_dict(self) -> dict:
        values = asdict(self)
        if values["data_dir"] is not None:
            values["data_dir"] = str(Path(values["data_dir"]))
        return values
