"""Build hook: ship the artifacts of the top-level ``models/`` folder as package data ``edgecnn/_models/``.

MANIFEST.in puts the same files into the sdist, so a wheel built from the sdist has them too.

Only the files ``edgecnn bench`` runs are copied (``*.onnx``, ``*.tflite``, ``export.json``),
never the training checkpoints. Everything else is configured in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

MODELS_DIR = Path(__file__).parent / "models"
SHIPPED_PATTERNS = ("*/*.onnx", "*/*.tflite", "*/export.json")


class BuildWithModels(build_py):
    def run(self):
        super().run()
        if self.editable_mode:  # an editable install reads models/ in place
            return
        target = Path(self.build_lib) / "edgecnn" / "_models"
        for pattern in SHIPPED_PATTERNS:
            for source in sorted(MODELS_DIR.glob(pattern)):
                destination = target / source.relative_to(MODELS_DIR)
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, destination)


setup(cmdclass={"build_py": BuildWithModels})
