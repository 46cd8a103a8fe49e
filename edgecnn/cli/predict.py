"""``edgecnn predict``: classify PNG or JPEG files with an exported artifact (no torch needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from edgecnn.cli import app
from edgecnn.cli.bench import RuntimeChoice
from edgecnn.cli.console import user_errors


@app.command()
def predict(
    artifact: Annotated[Path, typer.Argument(
        metavar="ARTIFACT", help=".onnx or .tflite artifact with a metadata record, or a training checkpoint (.pt) "
                                 "where torch is installed.", show_default=False)],
    images: Annotated[list[Path], typer.Argument(metavar="IMAGES", help="PNG or JPEG files, or folders of them.",
                                                 show_default=False)],
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="Classes to print per image, most probable first.")] = 3,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout instead of "
                                              "text.")] = False,
    runtime: Annotated[RuntimeChoice, typer.Option(help="Runtime; 'auto' picks by file suffix and what is "
                                                   "installed.")] = RuntimeChoice.auto,
    threads: Annotated[int, typer.Option(min=1, help="Intra-op threads of the runtime.")] = 1,
    invert: Annotated[bool, typer.Option("--invert", help="Invert pixel values (255 - value) first: for a dark "
                                         "digit or garment on a light background, since the MNIST and "
                                         "Fashion-MNIST models learned light on black.")] = False,
) -> None:
    """Classify images with an artifact, preprocessing them as its metadata record describes."""
    with user_errors():
        from edgecnn.predict import collect_images, predict_files

        predictions = predict_files(artifact, collect_images(images), top_k, runtime.value, threads, invert)
        if json_output:
            document = {"artifact": str(artifact), "predictions": [p.to_dict() for p in predictions]}
            typer.echo(json.dumps(document, indent=2))
            return
        for prediction in predictions:
            scores = ", ".join(f"{score.name} {score.probability * 100:.1f}%" for score in prediction.top)
            typer.echo(f"{prediction.path}: {scores}")
