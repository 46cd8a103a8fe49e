"""The state both stages share during one run: data, configuration, progress and the run directory."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from torch import nn

from edgecnn import fileio
from edgecnn.nets import Preset
from edgecnn.training import checkpoint, rundir
from edgecnn.training.config import TrainConfig
from edgecnn.training.loop import InputPipeline, NoProgress, Progress, SplitTensors


@dataclass
class TrainingContext:
    config: TrainConfig
    preset: Preset
    run_dir: Path
    train: SplitTensors
    validation: SplitTensors
    pipeline: InputPipeline
    progress: Progress = field(default_factory=NoProgress)
    history: list[dict] = field(default_factory=list)  # one record per finished epoch, both stages
    on_epoch: Callable[[dict], None] | None = None  # called with each epoch's record once it is saved

    def finish_epoch(self, record: dict, phase: str, step_index: int, epoch: int, model: nn.Module,
                     optimizer, extra: dict) -> None:
        """Record an epoch's metrics and save everything needed to resume after it.

        The checkpoint is written first and is the source of truth: metrics.jsonl is
        rewritten from its history, so the two can never disagree after a crash.
        """
        self.history.append(record)
        checkpoint.save(
            self.run_dir / rundir.CHECKPOINT_DIR / rundir.LAST_CHECKPOINT,
            {"phase": phase, "step_index": step_index, "epoch": epoch, "model": model.state_dict(),
             "optimizer": optimizer.state_dict(), "history": self.history, "config": self.config.to_dict(),
             **extra},
        )
        fileio.write_json_lines(self.run_dir / rundir.METRICS_FILE, self.history)
        if self.on_epoch is not None:
            self.on_epoch(record)
