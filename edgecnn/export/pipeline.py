"""The export of one checkpoint: build every requested artifact, validate each, then move them in together.

Artifacts are built in a hidden staging folder inside the output folder. Only when
every artifact has passed validation are they moved to their final names and
export.json is updated, so a failed export leaves no artifact behind.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

from edgecnn.environment import package_versions
from edgecnn.export import ExportError, calibration, manifest, naming
from edgecnn.export.config import ExportConfig
from edgecnn.export.naming import ArtifactSpec
from edgecnn.export.validate import Validation, percent, reference_logits, validate_artifact
from edgecnn.metadata import METADATA_KEY, ArtifactMetadata

log = logging.getLogger(__name__)

TOOL_PACKAGES = ("edgecnn", "torch", "onnx", "onnxsim", "onnxruntime", "litert-torch", "ai-edge-litert")


@dataclass
class ArtifactResult:
    spec: ArtifactSpec
    path: Path  # where the artifact is (or would have been) written
    size_bytes: int
    validation: Validation
    accuracy_drop: float | None  # percentage points below the reference model; int8 artifacts only
    problem: str | None  # why the artifact failed validation, None when it passed


@dataclass
class ExportResult:
    out_dir: Path
    manifest_path: Path
    reference_accuracy: float  # percent, the torch model on the same test images
    artifacts: list[ArtifactResult]


@dataclass
class _Inputs:
    """Shared inputs of every artifact build: the trained model, its reference outputs and the image sets."""

    trained: object  # edgecnn.modelfile.TrainedModel
    module: object  # the torch module to convert (RawPixelInput-wrapped for uint8 input)
    base_metadata: ArtifactMetadata  # the record of the torch module's own NCHW input
    test_images: np.ndarray
    test_labels: np.ndarray
    reference: np.ndarray  # reference logits on the test images
    calibration_images: np.ndarray | None  # raw uint8 NHWC training images; None without --int8
    macs: int  # multiply-accumulates per image


def export_model(checkpoint: Path | str, config: ExportConfig,
                 on_validated: Callable[[ArtifactResult], None] | None = None) -> ExportResult:
    """Export the checkpoint (or run directory) as configured and return the artifacts written and their figures."""
    from edgecnn.modelfile import find_checkpoint, load_trained_model

    config.validate()
    checkpoint = find_checkpoint(checkpoint)
    trained = load_trained_model(checkpoint)
    out_dir = Path(config.out_dir) if config.out_dir is not None else naming.default_out_dir(checkpoint)
    existing = manifest.read_manifest(out_dir)  # fail on a broken export.json before any work
    specs = naming.plan_artifacts(naming.artifact_stem(checkpoint), config.formats, config.int8, config.uint8_input)
    inputs = _prepare_inputs(trained, config)
    reference_accuracy = percent(inputs.reference.argmax(axis=1) == inputs.test_labels)
    log.info("reference model: %.2f%% test accuracy on %d images", reference_accuracy, len(inputs.test_labels))

    # Created only now, so that missing data or a bad checkpoint leaves no empty output folder.
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out_dir, prefix=".export-"))
    try:
        results, entries = [], []
        for spec in specs:
            staged = staging / spec.file_name
            log.info("building %s", spec.file_name)
            metadata, details = _build(spec, inputs, config, staged)
            validation = validate_artifact(staged, metadata, inputs.test_images, inputs.test_labels,
                                           inputs.reference, compare_logits=not spec.int8)
            result = _judge(spec, out_dir / spec.file_name, staged.stat().st_size, validation, reference_accuracy,
                            config)
            results.append(result)
            entries.append(_manifest_entry(spec, staged, metadata, details, result, inputs.macs, checkpoint,
                                           config))
            if on_validated is not None:
                on_validated(result)

        failed = [result.problem for result in results if result.problem is not None]
        if failed:
            raise ExportError("; ".join(failed) + "; no artifact was written")
        for spec in specs:
            os.replace(staging / spec.file_name, out_dir / spec.file_name)
        manifest_path = manifest.write_manifest(out_dir, manifest.merge_entries(existing, entries))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ExportResult(out_dir, manifest_path, reference_accuracy, results)


def _prepare_inputs(trained, config: ExportConfig) -> _Inputs:
    from edgecnn.export.wrappers import export_module
    from edgecnn.nets.stats import count_macs, count_parameters

    test_set = calibration.load_test_set(trained, config.test_limit, config.data_dir, config.allow_download)
    calibration_images = None
    if config.int8:
        calibration_images = calibration.load_calibration_images(trained, config.calib_samples, config.seed,
                                                                 config.data_dir, config.allow_download)
    norm = trained.normalization
    float_record = ArtifactMetadata(
        dataset=trained.dataset, classes=list(trained.classes), preset=trained.preset,
        params=count_parameters(trained.model), input_shape=[None, *trained.input_shape], layout="NCHW",
        input_dtype="float32", scale=float(norm["scale"]), mean=[float(m) for m in norm["mean"]],
        std=[float(s) for s in norm["std"]], method=trained.method)
    reference = reference_logits(trained.model.eval(), float_record.preprocess(test_set.images))
    float_record.float_accuracy = percent(reference.argmax(axis=1) == test_set.labels)
    base = float_record
    if config.uint8_input:
        # Normalization is inside the graph, so the record feeds raw pixels unchanged.
        base = replace(float_record, input_dtype="uint8", scale=1.0, mean=[0.0] * trained.in_channels,
                       std=[1.0] * trained.in_channels)
    return _Inputs(trained, export_module(trained, config.uint8_input), base, test_set.images, test_set.labels,
                   reference, calibration_images, count_macs(trained.model, trained.input_shape))


def _build(spec: ArtifactSpec, inputs: _Inputs, config: ExportConfig, staged: Path) -> tuple[ArtifactMetadata, dict]:
    """Write one artifact to `staged` with its metadata record; return the record and format details."""
    if spec.format == "onnx":
        return _build_onnx(spec, inputs, config, staged)
    return _build_tflite(spec, inputs, staged)


def _build_onnx(spec: ArtifactSpec, inputs: _Inputs, config: ExportConfig, staged: Path):
    from edgecnn.export.onnx_export import compact_names, describe_onnx, embed_metadata, export_float_onnx
    from edgecnn.export.onnx_quantize import quantize_onnx

    metadata = inputs.base_metadata
    # QDQ keeps the float model's input and output, so the int8 model takes the same input as the float one.
    float_path = staged if not spec.int8 else staged.with_name(staged.name + ".float.onnx")
    export_float_onnx(inputs.module, inputs.trained.input_shape, metadata.input_dtype, config.opset, float_path)
    if spec.int8:
        quantize_onnx(float_path, staged, metadata.preprocess(inputs.calibration_images), config.calib_method)
        float_path.unlink()
    compact_names(staged)
    embed_metadata(staged, metadata)
    details = describe_onnx(staged)
    if details["opset"] != config.opset:
        log.warning("%s: opset %s written, %d requested", staged.name, details["opset"], config.opset)
    if spec.int8:
        details["quantization"] = {"format": "QDQ", "weights": "int8 symmetric per-channel",
                                   "activations": "int8", "calibration_method": config.calib_method}
    return metadata, details


def _build_tflite(spec: ArtifactSpec, inputs: _Inputs, staged: Path):
    from edgecnn.export.tflite_export import ACTIVATION_OBSERVER, convert_float_tflite, convert_int8_tflite, \
        io_quantization
    from edgecnn.export.tflite_file import describe_tflite, with_metadata

    # The torch module's input seen through the NHWC wrapper: calibration and sample images in that layout.
    channels, height, width = inputs.trained.input_shape
    torch_input = replace(inputs.base_metadata, layout="NHWC", input_shape=[None, height, width, channels])
    if spec.int8:
        data = convert_int8_tflite(inputs.module, torch_input.preprocess(inputs.calibration_images))
    else:
        data = convert_float_tflite(inputs.module, torch_input.preprocess(inputs.test_images[:1]))

    io = io_quantization(data)
    metadata = replace(inputs.base_metadata, layout="NHWC", input_shape=io["input"]["shape"],
                       input_dtype=io["input"]["dtype"], input_scale=io["input"]["scale"],
                       input_zero_point=io["input"]["zero_point"], output_scale=io["output"]["scale"],
                       output_zero_point=io["output"]["zero_point"])
    data = with_metadata(data, METADATA_KEY, metadata.to_json().encode("utf-8"))
    staged.write_bytes(data)
    details = describe_tflite(data)
    details["output_dtype"] = io["output"]["dtype"]
    if spec.int8:
        details["quantization"] = {"format": "full integer (PT2E)", "weights": "int8 symmetric per-channel",
                                   "activations": "int8", "activation_observer": ACTIVATION_OBSERVER}
    return metadata, details


def _judge(spec: ArtifactSpec, path: Path, size_bytes: int, validation: Validation, reference_accuracy: float,
           config: ExportConfig) -> ArtifactResult:
    """Apply the export's gates: logit tolerance for float artifacts, accuracy drop for int8 ones."""
    problem = None
    drop = None
    if spec.int8:
        drop = round(reference_accuracy - validation.accuracy, 4)
        if drop > config.max_accuracy_drop:
            problem = (f"{spec.file_name} lost {drop:.2f} percentage points of test accuracy "
                       f"({reference_accuracy:.2f}% -> {validation.accuracy:.2f}%), more than the "
                       f"--max-accuracy-drop of {config.max_accuracy_drop:g}")
    elif validation.max_abs_diff > config.atol:
        problem = (f"{spec.file_name} differs from the reference model by up to {validation.max_abs_diff:.3g} "
                   f"in its logits, more than the atol of {config.atol:g}")
    return ArtifactResult(spec, path, size_bytes, validation, drop, problem)


def _manifest_entry(spec: ArtifactSpec, staged: Path, metadata: ArtifactMetadata, details: dict,
                    result: ArtifactResult, macs: int, checkpoint: Path, config: ExportConfig) -> dict:
    validation = result.validation
    entry = {
        "path": spec.file_name,  # relative to the folder of export.json
        "format": spec.format,
        "int8": spec.int8,
        "uint8_input": spec.uint8_input,
        "size_bytes": staged.stat().st_size,
        "sha256": hashlib.sha256(staged.read_bytes()).hexdigest(),
        **details,
        "macs": macs,
        "metadata": metadata.to_dict(),
        "accuracy": validation.accuracy,  # percent
        "agreement": validation.agreement,  # percent of top-1 classes equal to the reference model's
    }
    if validation.max_abs_diff is not None:
        entry["max_abs_diff"] = validation.max_abs_diff
    if result.accuracy_drop is not None:
        entry["accuracy_drop_pp"] = result.accuracy_drop
    if spec.int8:
        entry["quantization"].update(calibration_samples=config.calib_samples, calibration_seed=config.seed)
    entry.update(
        reference_accuracy=metadata.float_accuracy,
        test_images=validation.test_images,
        runtime={"name": validation.runtime, "version": validation.runtime_version},
        # Relative to export.json, so a folder of artifacts can move without leaking a local path.
        checkpoint=os.path.relpath(checkpoint.resolve(), staged.parent.parent.resolve()),
        export_config={**config.to_dict(), "out_dir": None},
        packages=package_versions(TOOL_PACKAGES),
    )
    return entry
