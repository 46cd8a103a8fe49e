"""The TFLite interpreter API shared by LiteRT (``ai_edge_litert``) and the legacy ``tflite_runtime``."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from edgecnn.native_notices import dropped_notices
from edgecnn.runtimes import BatchChecker, InputShapeError, ModelFileError, SessionInfo, TensorInfo, runtime_version

log = logging.getLogger(__name__)

# The op name the interpreter reports for a graph partition that a delegate runs.
DELEGATE_OP = "DELEGATE"


class InterpreterSession:
    """A ``.tflite`` model in a TFLite interpreter.

    The interpreter is created with the default op resolver, which applies the XNNPACK
    delegate to the float and int8 ops it supports. A new batch size is applied with
    ``resize_tensor_input`` and ``allocate_tensors``. A model converted with a fixed
    batch of 1 often cannot be resized, because its Reshape ops hard-code the batch.
    Such a batch is then split and run one model batch at a time, and
    ``info.extra["batch_mode"]`` records which of the two happened.
    """

    runtime_name = ""

    def __init__(self, path: Path, threads: int, interpreter_class):
        self._new_interpreter = lambda: interpreter_class(model_path=str(path), num_threads=threads)
        try:
            self._interpreter = self._allocated_interpreter()
        except (ValueError, RuntimeError) as error:
            first_line = str(error).strip().splitlines()[0]
            raise ModelFileError(f"{path}: not a loadable TFLite model ({first_line}); "
                                 f"pass a file written by `edgecnn export`") from None

        input_details = self._interpreter.get_input_details()[0]
        output_details = self._interpreter.get_output_details()[0]
        self.path = path
        self.input = _tensor_info(input_details)
        self.output = _tensor_info(output_details)
        self._input_index = input_details["index"]
        self._output_index = output_details["index"]
        self._model_batch = int(input_details["shape"][0])  # the batch the tensors are allocated for
        self._split_batches = False
        self._check = BatchChecker(self.input, path)
        self.info = SessionInfo(self.runtime_name, runtime_version(self.runtime_name), threads,
                                xnnpack=self._uses_delegate(),
                                extra={"batch_mode": "resize", "dynamic_batch": self.input.shape[0] is None})

    def _uses_delegate(self) -> bool | None:
        # NOTE: _get_ops_details is a private interpreter method (present in ai-edge-litert 2.3 and
        # tflite-runtime 2.14); the only delegate applied by default is XNNPACK.
        try:
            return any(op["op_name"] == DELEGATE_OP for op in self._interpreter._get_ops_details())
        except AttributeError:
            return None

    def run(self, batch: np.ndarray) -> np.ndarray:
        self._check(batch)
        size = batch.shape[0]
        if size != self._model_batch and not self._split_batches:
            self._resize(size)
        if self._split_batches and size != self._model_batch:
            return self._run_split(batch)
        self._interpreter.set_tensor(self._input_index, batch)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output_index)

    def _allocated_interpreter(self):
        # Allocation applies the XNNPACK delegate, which LiteRT announces on stderr each time.
        with dropped_notices():
            interpreter = self._new_interpreter()
            interpreter.allocate_tensors()
        return interpreter

    def _resize(self, size: int) -> None:
        shape = [size, *self._interpreter.get_input_details()[0]["shape"][1:]]
        try:
            self._interpreter.resize_tensor_input(self._input_index, shape, strict=False)
            with dropped_notices():
                self._interpreter.allocate_tensors()
            self._model_batch = size
        except (ValueError, RuntimeError) as error:
            log.debug("%s cannot run batches of %d (%s); running them in batches of %d instead", self.path.name,
                     size, str(error).strip().splitlines()[0], self._model_batch)
            # tflite-runtime 2.14 crashes on the next invoke after resizing back, so start afresh.
            self._interpreter = self._allocated_interpreter()
            self._split_batches = True
            self.info.extra["batch_mode"] = "split"

    def _run_split(self, batch: np.ndarray) -> np.ndarray:
        step = self._model_batch
        if batch.shape[0] % step:
            raise InputShapeError(f"{self.path.name}: takes batches of exactly {step}, got {batch.shape[0]}")
        outputs = []
        for start in range(0, batch.shape[0], step):
            self._interpreter.set_tensor(self._input_index, batch[start:start + step])
            self._interpreter.invoke()
            outputs.append(self._interpreter.get_tensor(self._output_index))
        return np.concatenate(outputs)


def _tensor_info(details: dict) -> TensorInfo:
    signature = details.get("shape_signature")
    signature = details["shape"] if signature is None or len(signature) == 0 else signature
    shape = [None if dim < 0 else int(dim) for dim in signature]
    dtype = np.dtype(details["dtype"]).name
    return TensorInfo(details["name"], shape, dtype)
