"""Atomic file writes: a reader sees the old file or the complete new one, never a partial file."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_path(target: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside target, and move it onto target only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    temporary_path = Path(temporary)
    try:
        yield temporary_path
        # mkstemp creates files readable by the owner only; give the result the usual umask-based mode.
        os.chmod(temporary_path, 0o666 & ~_current_umask())
        os.replace(temporary_path, target)
    finally:
        temporary_path.unlink(missing_ok=True)


def write_bytes(target: Path | str, data: bytes) -> None:
    with atomic_path(target) as temporary:
        temporary.write_bytes(data)


def write_text(target: Path | str, text: str) -> None:
    write_bytes(target, text.encode("utf-8"))


def write_json(target: Path | str, value: Any) -> None:
    write_text(target, json.dumps(value, indent=2, sort_keys=False) + "\n")


def write_json_lines(target: Path | str, records: list[dict]) -> None:
    write_text(target, "".join(json.dumps(record) + "\n" for record in records))


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
