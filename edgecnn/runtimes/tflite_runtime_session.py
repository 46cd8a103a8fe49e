"""Legacy ``tflite_runtime`` backend (extra ``tflite``) for ``.tflite`` artifacts.

tflite-runtime wheels stop at Python 3.11 and numpy < 2; ``auto`` uses it only where
LiteRT is not installed.
"""

from __future__ import annotations

from pathlib import Path

from edgecnn.errors import require
from edgecnn.runtimes.interpreter_session import InterpreterSession


class TFLiteRuntimeSession(InterpreterSession):
    runtime_name = "tflite-runtime"

    def __init__(self, path: Path, threads: int = 1):
        interpreter = require("tflite_runtime.interpreter", "tflite", f"running {path.name}")
        super().__init__(path, threads, interpreter.Interpreter)
