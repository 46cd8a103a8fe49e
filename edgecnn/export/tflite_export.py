"""TFLite conversion with litert-torch (no TensorFlow needed): float, and int8 through its PT2E quantizer.

Both take NHWC input and return (N, classes) logits: ``to_channel_last_io`` puts one
transpose at the graph's entry, and the converter's layout pass then runs every
convolution in NHWC without a transpose of its own. The models have a fixed batch of 1,
which is what TFLite deployments run.

int8: weights symmetric per-channel, activations int8 observed with litert-torch's
default HistogramObserver over the calibration set (``--calib-method`` applies to ONNX
only). The result is a full-integer graph whose input and output are int8 too, or
uint8 raw pixels in and int8 out for a model wrapped in RawPixelInput.
"""

from __future__ import annotations

import contextlib
import logging
import os

import numpy as np

from edgecnn.errors import require
from edgecnn.native_notices import dropped_notices
from edgecnn.export import ExportError

log = logging.getLogger(__name__)

CALIBRATION_BATCH = 32  # images per calibration forward pass
ACTIVATION_OBSERVER = "histogram"  # the PT2E observer of get_symmetric_quantization_config (litert-torch 0.10.0)


def _litert_torch():
    # litert-torch draws a progress tree on stdout by default, but stdout is for results.
    os.environ.setdefault("LITERT_TORCH_SHOW_PROGRESS", "n")
    # torchao warns at import about GPU kernels and Triton, which CPU conversion never uses.
    logging.getLogger("torchao").setLevel(logging.ERROR)
    # Its import sets up absl and oneDNN, which print two lines on their set-up.
    with dropped_notices():
        return require("litert_torch", "export", "TFLite conversion")


def convert_float_tflite(module, sample_nhwc: np.ndarray) -> bytes:
    """Convert `module` (NCHW input) to a float TFLite model taking NHWC input like `sample_nhwc` (batch 1)."""
    litert_torch = _litert_torch()
    import torch

    wrapped = litert_torch.to_channel_last_io(module, args=[0]).eval()
    try:
        with _quiet_root_logger():
            converted = litert_torch.convert(wrapped, (torch.from_numpy(sample_nhwc[:1]),))
    except Exception as error:  # the converter raises many unrelated classes
        raise ExportError(f"TFLite conversion failed ({_first_line(error)})") from error
    return bytes(converted.model_content())


def convert_int8_tflite(module, calibration_nhwc: np.ndarray) -> bytes:
    """Convert `module` to a full-integer int8 TFLite model calibrated on `calibration_nhwc` (NHWC batch)."""
    litert_torch = _litert_torch()
    import torch
    from litert_torch.quantize import pt2e_quantizer
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e import quantize_pt2e
    from torchao.quantization.pt2e import move_exported_model_to_eval

    wrapped = litert_torch.to_channel_last_io(module, args=[0]).eval()
    calibration = torch.from_numpy(calibration_nhwc)
    quantizer = pt2e_quantizer.PT2EQuantizer().set_global(
        pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=True))
    try:
        # A dynamic batch lets calibration run many images per forward pass; the converted model has batch 1.
        batch = torch.export.Dim("batch", min=1, max=max(2, CALIBRATION_BATCH))
        exported = torch.export.export(wrapped, (calibration[:2],), dynamic_shapes=(({0: batch},),)).module()
        prepared = quantize_pt2e.prepare_pt2e(exported, quantizer)
        move_exported_model_to_eval(prepared)
        with torch.no_grad():
            for start in range(0, len(calibration), CALIBRATION_BATCH):
                prepared(calibration[start:start + CALIBRATION_BATCH])
        quantized = quantize_pt2e.convert_pt2e(prepared, fold_quantize=False)
        move_exported_model_to_eval(quantized)
        # Exported modules reject .eval(); the converter only reads the flag, and the graph is already in eval form.
        torch.nn.Module.train(quantized, False)
        with _quiet_root_logger():
            converted = litert_torch.convert(quantized, (calibration[:1],),
                                             quant_config=QuantConfig(pt2e_quantizer=quantizer))
    except Exception as error:  # torch.export, torchao and the converter raise many unrelated classes
        raise ExportError(f"int8 TFLite conversion failed ({_first_line(error)})") from error
    return bytes(converted.model_content())


def io_quantization(data: bytes) -> dict:
    """Return the input and output dtype and (scale, zero point) of a TFLite model, None where not quantized.

    Read from the interpreter's input and output details, as a device reads them.
    """
    interpreter_module = require("ai_edge_litert.interpreter", "export", "reading TFLite input details")
    interpreter = interpreter_module.Interpreter(model_content=data)
    result = {}
    for role, details in (("input", interpreter.get_input_details()[0]),
                          ("output", interpreter.get_output_details()[0])):
        scale, zero_point = details["quantization"]
        quantized = scale != 0.0
        result[role] = {"dtype": np.dtype(details["dtype"]).name,
                        "shape": [int(dim) for dim in details["shape_signature"]],
                        "scale": float(scale) if quantized else None,
                        "zero_point": int(zero_point) if quantized else None}
    return result


@contextlib.contextmanager
def _quiet_root_logger():
    """Hide the converter's INFO lines ("Use JAX lowering: ..."), which it logs on the root logger."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        root.setLevel(level)


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
