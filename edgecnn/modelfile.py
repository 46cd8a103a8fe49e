"""Loading a trained model back from a final checkpoint or a run directory (needs torch)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgecnn.errors import CheckpointError


@dataclass
class TrainedModel:
    model: "object"  # torch.nn.Module in eval mode, NCHW float input
    path: Path  # the checkpoint file
    preset: str
    dataset: str
    classes: list[str]
    in_channels: int
    image_size: int
    normalization: dict  # scale, mean, std, as in the artifact metadata record
    metrics: dict  # test_accuracy (percent), val_accuracy (percent), test_images
    method: str = "two-stage"  # TrainConfig.method of the run

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.in_channels, self.image_size, self.image_size)


def find_checkpoint(path: Path | str) -> Path:
    """Accept a final checkpoint file or a run directory holding checkpoints/final.pt."""
    path = Path(path)
    if path.is_dir():
        candidate = path / "checkpoints" / "final.pt"
        if candidate.is_file():
            return candidate
        raise CheckpointError(f"checkpoints/final.pt not found in {path}; pass a finished run directory or a .pt file")
    if not path.exists():
        raise CheckpointError(f"{path} not found; pass a run directory or a final checkpoint (.pt)")
    if path.suffix.lower() in (".onnx", ".tflite"):
        raise CheckpointError(f"{path} is an exported model, not a checkpoint; pass the run directory or the "
                              ".pt file it was exported from")
    return path


def load_trained_model(path: Path | str) -> TrainedModel:
    """Rebuild the trained unified model from a final checkpoint written by `edgecnn train`."""
    import torch

    from edgecnn.nets import get_preset
    from edgecnn.training import checkpoint

    checkpoint_path = find_checkpoint(path)
    payload = checkpoint.load(checkpoint_path)
    if payload.get("kind") != "edgecnn-model":
        raise CheckpointError(f"{checkpoint_path} is not a final model checkpoint (phase "
                              f"{payload.get('phase')!r}); pass checkpoints/final.pt of a finished run")
    preset = get_preset(payload["preset"])
    channels, side, num_classes = payload["in_channels"], payload["image_size"], payload["num_classes"]
    # Build with throwaway initial weights, then load the trained ones. Checkpoints written
    # before the single-branch method existed have no architecture key and hold a unified model.
    architecture = payload.get("architecture", "unified")
    if architecture == "branch":
        model = preset.make_branch(channels, side, num_classes)
    elif architecture == "unified":
        model = preset.make_unified(preset.make_branch(channels, side, num_classes),
                                    preset.make_branch(channels, side, num_classes), num_classes)
    else:
        raise CheckpointError(f"{checkpoint_path}: unknown architecture {architecture!r}; "
                              "upgrade edgecnn to read this checkpoint")
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as error:
        raise CheckpointError(f"{checkpoint_path}: weights do not fit preset '{payload['preset']}' "
                              f"({str(error).splitlines()[0]})") from None
    model = model.to(memory_format=torch.contiguous_format).eval()
    # Runs from before TrainConfig.method existed trained the two-stage method.
    method = payload.get("config", {}).get("method", "two-stage")
    return TrainedModel(model, checkpoint_path, payload["preset"], payload["dataset"], list(payload["classes"]),
                        channels, side, dict(payload["normalization"]), dict(payload["metrics"]), method)
