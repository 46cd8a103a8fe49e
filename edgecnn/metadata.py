"""The metadata record of an exported artifact: everything needed to feed it correctly.

One flat JSON object, the same everywhere it is stored (the ONNX ``metadata_props``
entry ``edgecnn``, ``export.json``, the TFLite file's metadata where the conversion
route allows). Export builds it; bench and predict read and apply it. numpy only.

A raw pixel p in 0..255 becomes the float model input x = (p * scale - mean[c]) / std[c];
a quantized input is then q = round(x / input_scale) + input_zero_point.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

import numpy as np

from edgecnn.errors import EdgecnnError

METADATA_KEY = "edgecnn"  # key of the record in ONNX metadata_props and TFLite metadata
LAYOUTS = ("NCHW", "NHWC")
INPUT_DTYPES = ("float32", "int8", "uint8")


class MetadataError(EdgecnnError):
    """An artifact's metadata record is missing or invalid."""


@dataclass
class ArtifactMetadata:
    dataset: str  # mnist, fashion-mnist, cifar10 or folder
    classes: list[str]
    preset: str
    params: int
    input_shape: list[int | None]  # batch first and None, e.g. [None, 28, 28, 1]
    layout: str  # NCHW or NHWC
    input_dtype: str  # float32, int8 or uint8
    scale: float
    mean: list[float]
    std: list[float]
    input_scale: float | None = None
    input_zero_point: int | None = None
    output_scale: float | None = None
    output_zero_point: int | None = None
    float_accuracy: float | None = None  # the float model's test accuracy, percent
    method: str | None = None  # the training method (TrainConfig.method); None in older artifacts

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, values: dict) -> "ArtifactMetadata":
        names = {f.name for f in fields(cls)}
        missing = sorted(name for name in names if name not in values and name not in _OPTIONAL)
        if missing:
            raise MetadataError(f"metadata record lacks the key(s) {', '.join(missing)}; re-export the artifact")
        record = cls(**{k: v for k, v in values.items() if k in names})
        if record.layout not in LAYOUTS:
            raise MetadataError(f"invalid layout '{record.layout}' in metadata; expected NCHW or NHWC")
        if record.input_dtype not in INPUT_DTYPES:
            raise MetadataError(f"invalid input_dtype '{record.input_dtype}' in metadata; "
                                f"expected one of {', '.join(INPUT_DTYPES)}")
        if record.input_dtype != "float32" and record.input_scale is None and record.scale != 1:
            raise MetadataError("metadata of a quantized input lacks input_scale; re-export the artifact")
        return record

    @classmethod
    def from_json(cls, text: str) -> "ArtifactMetadata":
        try:
            return cls.from_dict(json.loads(text))
        except (json.JSONDecodeError, TypeError) as error:
            raise MetadataError(f"invalid metadata record ({error}); re-export the artifact") from None

    @property
    def channels(self) -> int:
        return self.input_shape[1] if self.layout == "NCHW" else self.input_shape[3]

    @property
    def image_size_hw(self) -> tuple[int, int]:
        if self.layout == "NCHW":
            return self.input_shape[2], self.input_shape[3]
        return self.input_shape[1], self.input_shape[2]

    def preprocess(self, images: np.ndarray) -> np.ndarray:
        """Turn raw uint8 images of shape (N, H, W, C) into the model's input array."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[1:3] != tuple(self.image_size_hw) or images.shape[3] != self.channels:
            expected = (self.image_size_hw[0], self.image_size_hw[1], self.channels)
            raise MetadataError(f"images of shape {images.shape[1:]} do not fit this model, which takes "
                                f"(H, W, C) = {expected}; resize or convert them first")
        channel_mean = np.asarray(self.mean, dtype=np.float32)
        channel_std = np.asarray(self.std, dtype=np.float32)
        x = (images.astype(np.float32) * np.float32(self.scale) - channel_mean) / channel_std
        if self.layout == "NCHW":
            x = x.transpose(0, 3, 1, 2)
        x = np.ascontiguousarray(x)
        if self.input_dtype == "float32":
            return x
        if self.input_scale is None:  # a raw-pixel uint8 input with no quantization step
            return x.round().clip(0, 255).astype(np.uint8)
        info = np.iinfo(self.input_dtype)
        q = np.round(x / np.float32(self.input_scale)) + self.input_zero_point
        return q.clip(info.min, info.max).astype(self.input_dtype)

    def dequantize_output(self, outputs: np.ndarray) -> np.ndarray:
        """Return float logits: quantized outputs are mapped back with output_scale and output_zero_point."""
        if self.output_scale is None:
            return outputs.astype(np.float32)
        return (outputs.astype(np.float32) - np.float32(self.output_zero_point)) * np.float32(self.output_scale)


_OPTIONAL = {"input_scale", "input_zero_point", "output_scale", "output_zero_point", "float_accuracy", "method"}
