"""LiteRT backend (``ai_edge_litert``, extra ``litert``) for ``.tflite`` artifacts: the primary TFLite runtime."""

from __future__ import annotations

from pathlib import Path

from edgecnn.errors import require
from edgecnn.runtimes.interpreter_session import InterpreterSession


class LiteRTSession(InterpreterSession):
    runtime_name = "litert"

    def __init__(self, path: Path, threads: int = 1):
        interpreter = require("ai_edge_litert.interpreter", "litert", f"running {path.name}")
        super().__init__(path, threads, interpreter.Interpreter)
