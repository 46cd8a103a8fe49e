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


def unwritable_reason(target: Path | str) -> str | None:
    """Return why atomic_path could not write a file at target, or None when nothing prevents it.

    Commands that write a report after minutes of work check their output paths first with
    this, so that a mistyped path fails before the work instead of losing it.
    """
    target = Path(target)
    if target.is_dir():
        return "it is a folder"
    for folder in target.parents:
        if folder.exists():
            if not folder.is_dir():
                return f"{folder} is a file, not a folder"
            if not os.access(folder, os.W_OK):
                return f"{folder} is not writable"
            return None
    return None


def outermost_missing(folder: Path) -> Path | None:
    """Return the outermost folder on the way to FOLDER that does not exist yet, or None when FOLDER exists."""
    missing = None
    for path in (folder, *folder.parents):
        if path.exists():
            break
        missing = path
    return missing


def remove_empty_folders(folder: Path, up_to: Path | None) -> None:
    """Remove FOLDER and its parents up to UP_TO while they are empty, such as the folders a failed step created."""
    if up_to is None:
        return
    while True:
        try:
            folder.rmdir()  # fails on a folder that is not empty, which then stays
        except OSError:
            return
        if folder == up_to:
            return
        folder = folder.parent


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
