"""The sweep's own settings, apart from the training configuration each trial gets.

These dataclass defaults are the only place the sweep's defaults live; the CLI reads them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from edgecnn.errors import ConfigError

# Objective metric name on the command line -> result key (with its unit) and the better direction.
METRICS = {
    "val_accuracy": ("val_accuracy", "max"),  # percent, the final model on the validation images
    "int8_accuracy": ("int8_accuracy", "max"),  # percent, the int8 artifact on the test images
    "latency": ("latency_ms", "min"),  # median milliseconds per batch of the int8 artifact
}
MODES = ("max", "min")


@dataclass
class SweepOptions:
    """Settings for choosing, running and comparing trials."""

    metric: str = "val_accuracy"  # objective: one of METRICS
    mode: str | None = None  # max or min; None: the metric's natural direction (see METRICS)
    threads_per_trial: int = 1  # torch threads of each trial, reserved as that many Ray CPUs
    cpus: int | None = None  # CPUs of the local Ray instance; None: all cores. Ignored with address
    address: str | None = None  # an existing Ray cluster (host:port); None: start a local instance
    asha: bool = False  # stop weak trials early on per-epoch validation accuracy (ASHA)
    asha_grace_epochs: int = 3  # epochs every trial runs before ASHA may stop it
    asha_reduction_factor: int = 3  # ASHA keeps about 1/this of trials at each rung
    export_int8: bool = False  # export each trained model to an int8 artifact
    bench: bool = False  # benchmark the int8 artifact (needs export_int8)
    max_failures: int = 0  # retries of a failed trial before it is reported as failed

    @property
    def result_key(self) -> str:
        return METRICS[self.metric][0]

    @property
    def resolved_mode(self) -> str:
        return self.mode or METRICS[self.metric][1]

    def validate(self) -> None:
        if self.metric not in METRICS:
            raise ConfigError(f"invalid metric '{self.metric}'; choose one of: {', '.join(METRICS)}")
        if self.mode is not None and self.mode not in MODES:
            raise ConfigError(f"invalid mode '{self.mode}'; choose max or min")
        if self.threads_per_trial < 1:
            raise ConfigError(f"invalid threads per trial {self.threads_per_trial}; use 1 or more")
        if self.cpus is not None and self.cpus < 1:
            raise ConfigError(f"invalid cpus {self.cpus}; use 1 or more, or leave it unset for all cores")
        if self.cpus is not None and self.cpus < self.threads_per_trial:
            raise ConfigError(f"--cpus {self.cpus} is below --threads-per-trial {self.threads_per_trial}, so no "
                              "trial could start; raise --cpus or lower --threads-per-trial")
        if self.asha_grace_epochs < 1 or self.asha_reduction_factor < 2:
            raise ConfigError(f"invalid ASHA settings: grace epochs {self.asha_grace_epochs} (use 1 or more), "
                              f"reduction factor {self.asha_reduction_factor} (use 2 or more)")
        if self.max_failures < 0:
            raise ConfigError(f"invalid max failures {self.max_failures}; use 0 or more")
        if self.bench and not self.export_int8:
            raise ConfigError("--bench measures the int8 artifact, so it needs --export-int8 too")
        if self.metric == "int8_accuracy" and not self.export_int8:
            raise ConfigError("--metric int8_accuracy needs --export-int8")
        if self.metric == "latency" and not self.bench:
            raise ConfigError("--metric latency needs --bench (and --export-int8)")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "SweepOptions":
        try:
            return cls(**values)
        except TypeError as error:
            raise ConfigError(f"invalid sweep options: {error}") from None
