"""Float ONNX export: one self-contained file with a dynamic batch size, checked and simplified.

Exporter choice (torch 2.13): the TorchScript exporter (``dynamo=False``). It writes
exactly the requested opset, keeps every weight inside the .onnx file and needs no
onnxscript. The dynamo exporter writes opset 18 at minimum and converts down only when
its version converter succeeds, and it writes external data unless given ``external_data=False``.
NOTE: torch deprecates the TorchScript exporter from 2.9 on. When it is removed, switch to
``dynamo=True, external_data=False`` and keep reporting the opset read back from the file.
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from pathlib import Path

from edgecnn.errors import require
from edgecnn.export import ExportError
from edgecnn.metadata import METADATA_KEY, ArtifactMetadata

log = logging.getLogger(__name__)

INPUT_NAME = "input"
OUTPUT_NAME = "logits"
BATCH_AXIS = "batch"


def export_float_onnx(module, input_shape: tuple[int, int, int], input_dtype: str, opset: int, path: Path) -> None:
    """Export `module` (NCHW input of `input_shape` and `input_dtype`) to `path`, checked and simplified."""
    onnx = require("onnx", "export", "ONNX export")
    onnxsim = require("onnxsim", "export", "ONNX simplification")
    import torch

    sample = torch.zeros((1, *input_shape), dtype=getattr(torch, input_dtype))
    with warnings.catch_warnings():
        # The TorchScript exporter warns on every call that it is deprecated (see the module docstring for why it is used).
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        torch.onnx.export(module, (sample,), str(path), dynamo=False, opset_version=opset,
                          input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          dynamic_axes={INPUT_NAME: {0: BATCH_AXIS}, OUTPUT_NAME: {0: BATCH_AXIS}},
                          do_constant_folding=True)

    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    simplified, simplified_ok = onnxsim.simplify(model)
    if not simplified_ok:
        raise ExportError(f"onnxsim could not verify the simplified model of {path.name} against the original; "
                          "export with an older onnxsim or report the model")
    onnx.checker.check_model(simplified, full_check=True)
    onnx.save(simplified, str(path))
    log.debug("%s: %d nodes after simplification (%d before)", path.name, len(simplified.graph.node),
              len(model.graph.node))


def compact_names(path: Path) -> None:
    """Rename the nodes and inner tensors of an ONNX file to short ids, keeping its input and output names.

    The exporters name each tensor after its module path ('/features_a/features_a.1/.../Conv_output_0'),
    and the int8 quantizer adds longer names for every scale and zero point. In the int8 QDQ
    file of the edge preset those names took more bytes than the weights. After renaming, nodes
    are n0, n1, ..., their outputs t0, t1, ... and constants c0, c1, ...; operators and order stay.
    """
    import onnx

    model = onnx.load(str(path))
    graph = model.graph
    io_names = {value.name for value in [*graph.input, *graph.output]}
    renamed = {"": ""}  # an empty name marks an omitted optional input
    for index, initializer in enumerate(graph.initializer):
        if initializer.name not in io_names:
            renamed[initializer.name] = f"c{index}"
    for index, node in enumerate(graph.node):
        node.name = f"n{index}"
        for position, output in enumerate(node.output):
            if output not in io_names:
                renamed[output] = f"t{index}" if len(node.output) == 1 else f"t{index}_{position}"
    if any(attribute.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
           for node in graph.node for attribute in node.attribute):
        raise ExportError(f"{path.name} has subgraphs, which compact_names does not rename; report the model")

    def new_name(name: str) -> str:
        return renamed.get(name, name)

    for initializer in graph.initializer:
        initializer.name = new_name(initializer.name)
    for node in graph.node:
        node.input[:] = [new_name(name) for name in node.input]
        node.output[:] = [new_name(name) for name in node.output]
    for value in graph.value_info:
        value.name = new_name(value.name)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))


def embed_metadata(path: Path, metadata: ArtifactMetadata) -> None:
    """Store the metadata record as the metadata_props entry `edgecnn`, replacing an older one."""
    import onnx

    model = onnx.load(str(path))
    kept = [entry for entry in model.metadata_props if entry.key != METADATA_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    model.metadata_props.add(key=METADATA_KEY, value=metadata.to_json())
    model.producer_name = "edgecnn"
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))


def describe_onnx(path: Path) -> dict:
    """Return the opset actually written and the operator counts of an ONNX file."""
    import onnx

    model = onnx.load(str(path))
    opset = next((entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")), None)
    ops = Counter(node.op_type for node in model.graph.node)
    return {"opset": opset, "ops": dict(sorted(ops.items()))}
