"""onnxruntime backend for ``.onnx`` artifacts (extra ``onnx``)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from edgecnn.errors import require
from edgecnn.runtimes import BatchChecker, ModelFileError, SessionInfo, TensorInfo, runtime_version

log = logging.getLogger(__name__)

# onnxruntime type strings of the tensors an edgecnn artifact can have.
ONNX_DTYPES = {"tensor(float)": "float32", "tensor(int8)": "int8", "tensor(uint8)": "uint8"}


class OnnxSession:
    """An ONNX model in onnxruntime's CPU execution provider.

    A symbolic batch dimension (``dynamic_axes``) lets any batch size run directly.
    """

    def __init__(self, path: Path, threads: int = 1):
        ort = require("onnxruntime", "onnx", f"running {path.name}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3  # errors only
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own classes, all derived from Exception
            first_line = str(error).strip().splitlines()[0]
            raise ModelFileError(f"{path}: not a loadable ONNX model ({first_line}); "
                                 f"pass a file written by `edgecnn export`") from None

        self.path = path
        self.input = _tensor_info(self._session.get_inputs()[0])
        self.output = _tensor_info(self._session.get_outputs()[0])
        self.info = SessionInfo("onnxruntime", runtime_version("onnxruntime"), threads,
                                extra={"providers": self._session.get_providers(),
                                       "dynamic_batch": self.input.shape[0] is None})
        self._check = BatchChecker(self.input, path)
        self._feed_name = self.input.name
        self._fetch_names = [self.output.name]

    def run(self, batch: np.ndarray) -> np.ndarray:
        self._check(batch)
        return self._session.run(self._fetch_names, {self._feed_name: batch})[0]

    def custom_metadata(self) -> dict[str, str]:
        """Return the model's ``metadata_props`` entries as a dict of strings."""
        return dict(self._session.get_modelmeta().custom_metadata_map)


def _tensor_info(node) -> TensorInfo:
    shape = [dim if isinstance(dim, int) else None for dim in node.shape]
    dtype = ONNX_DTYPES.get(node.type)
    if dtype is None:
        raise ModelFileError(f"tensor '{node.name}' has type {node.type}; edgecnn artifacts use float32, "
                             f"int8 or uint8 inputs and outputs")
    return TensorInfo(node.name, shape, dtype)
