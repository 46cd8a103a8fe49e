"""PyTorch backend (extra ``train``) for training checkpoints (``.pt``): the reference model.

The input is NCHW float32, normalized with the checkpoint's ``normalization`` values, which is
what ``edgecnn.artifacts.read_metadata`` describes for a checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgecnn.errors import CheckpointError, require
from edgecnn.runtimes import BatchChecker, ModelFileError, SessionInfo, TensorInfo, runtime_version


class TorchSession:
    def __init__(self, path: Path, threads: int = 1):
        torch = require("torch", "train", f"running the checkpoint {path.name}")
        from edgecnn.modelfile import load_trained_model

        try:
            trained = load_trained_model(path)
        except CheckpointError as error:
            raise ModelFileError(str(error)) from None
        # NOTE: torch's thread count is global to the process, so this also changes it for other sessions.
        torch.set_num_threads(threads)
        self._torch = torch
        self.trained = trained
        self.path = path
        self.input = TensorInfo("input", [None, *trained.input_shape], "float32")
        self.output = TensorInfo("logits", [None, len(trained.classes)], "float32")
        self.info = SessionInfo("torch", runtime_version("torch"), threads, extra={"dynamic_batch": True})
        self._check = BatchChecker(self.input, path)

    def run(self, batch: np.ndarray) -> np.ndarray:
        self._check(batch)
        with self._torch.inference_mode():
            return self.trained.model(self._torch.from_numpy(batch)).numpy()
