"""Static post-training int8 quantization of an ONNX model with onnxruntime.quantization.

QDQ format, int8 weights (symmetric, per-channel) and int8 activations, calibrated
on training images. On this model the QOperator format and dynamic quantization
ran 6-13x slower in onnxruntime than QDQ, so neither is offered.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from edgecnn.errors import require
from edgecnn.export import ExportError
from edgecnn.export.onnx_export import INPUT_NAME

log = logging.getLogger(__name__)

CALIBRATION_BATCH = 32  # images per calibration batch


def quantize_onnx(float_path: Path, out_path: Path, calibration_batch: np.ndarray, method: str) -> None:
    """Write the int8 QDQ model of `float_path` to `out_path`, calibrated on `calibration_batch`.

    `calibration_batch` is already preprocessed to the float model's input (dtype and NCHW layout).
    """
    require("onnxruntime", "export", "ONNX int8 quantization")
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quant_pre_process, quantize_static)

    methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
               "percentile": CalibrationMethod.Percentile}

    class BatchReader(CalibrationDataReader):
        def __init__(self):
            self._batches = iter([{INPUT_NAME: calibration_batch[start:start + CALIBRATION_BATCH]}
                                  for start in range(0, len(calibration_batch), CALIBRATION_BATCH)])

        def get_next(self):
            return next(self._batches, None)

    # Pre-processing (shape inference and graph optimization) as onnxruntime recommends before quantizing.
    logging.getLogger("onnxruntime.quantization").setLevel(logging.WARNING)  # its INFO lines are progress chatter
    prepared_path = out_path.with_name(out_path.name + ".prepared.onnx")
    try:
        quant_pre_process(str(float_path), str(prepared_path), skip_symbolic_shape=False)
        quantize_static(str(prepared_path), str(out_path), BatchReader(), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=True,
                        calibrate_method=methods[method],
                        extra_options={"ActivationSymmetric": False, "WeightSymmetric": True})
    except (ValueError, RuntimeError) as error:
        raise ExportError(f"int8 quantization of {float_path.name} failed ({str(error).splitlines()[0]})") from None
    finally:
        prepared_path.unlink(missing_ok=True)
    log.debug("%s: quantized with %s calibration on %d images", out_path.name, method, len(calibration_batch))
