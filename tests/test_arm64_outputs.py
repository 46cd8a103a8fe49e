"""ci/arm64_outputs.py: the tolerances of the cross-architecture output comparison."""

from __future__ import annotations

import numpy as np

from scripts import load_script

SCRIPT = "ci/arm64_outputs.py"


def test_grid_step_of_dequantized_outputs():
    # Dequantized int8 logits, as an ONNX QDQ model returns them: scale * (q - zero point) in float32.
    scale, zero_point = np.float32(0.03289929), 5
    quantized = np.random.default_rng(0).integers(-128, 128, size=(500, 10))
    outputs = (scale * (quantized - zero_point)).astype(np.float32)
    step = load_script(SCRIPT).output_grid_step(outputs)
    assert step is not None
    assert abs(step - float(scale)) < 1e-7


def test_continuous_outputs_have_no_grid():
    outputs = np.random.default_rng(0).normal(0, 3, size=(500, 10)).astype(np.float32)
    assert load_script(SCRIPT).output_grid_step(outputs) is None
