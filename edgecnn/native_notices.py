"""Drop the notices that the C++ runtimes print straight to the process's stderr.

LiteRT announces its XNNPACK delegate on every interpreter it creates, and importing
litert-torch makes absl and oneDNN print two lines about their own set-up. They write to
file descriptor 2 from C++, past Python's logging, and no environment variable silences
them (``TF_CPP_MIN_LOG_LEVEL`` does not). ``dropped_notices`` lets such a block write to a
temporary file instead, then copies every other line on to stderr, so real errors still
reach the user.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from typing import Iterator

# Whole lines, matched from their start. Anything else a block prints is passed on.
NOTICES = (
    re.compile(r"INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.$"),
    re.compile(r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$"),
    re.compile(r"I\d{4} [\d:.]+ +\d+ port\.cc:\d+\] oneDNN custom operations are on\."),
)

STDERR_FD = 2


def is_notice(line: str) -> bool:
    return any(pattern.match(line.rstrip("\n")) for pattern in NOTICES)


@contextlib.contextmanager
def dropped_notices() -> Iterator[None]:
    """Run the block with file descriptor 2 sent to a temporary file, then pass on all but the notices.

    While sys.stderr writes to file descriptor 2, Python's own writes inside the block are held
    back too and appear, in order, when it ends. Use it around short native calls, not around
    long work that logs.
    """
    try:
        saved_fd = os.dup(STDERR_FD)
    except OSError:  # no stderr to redirect (a daemon with fd 2 closed)
        yield
        return
    with tempfile.TemporaryFile() as captured:
        _flush_stderr()
        os.dup2(captured.fileno(), STDERR_FD)
        try:
            yield
        finally:
            _flush_stderr()
            os.dup2(saved_fd, STDERR_FD)
            os.close(saved_fd)
            captured.seek(0)
            other_lines = [line for line in captured.read().decode(errors="replace").splitlines(keepends=True)
                    if not is_notice(line)]
            if other_lines:
                sys.stderr.write("".join(other_lines))
                _flush_stderr()


def _flush_stderr() -> None:
    with contextlib.suppress(Exception):  # a replaced sys.stderr may be closed or lack flush
        sys.stderr.flush()
