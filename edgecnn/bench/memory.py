"""Resident set size (RSS) of this process, in MiB, from /proc on Linux and getrusage elsewhere."""

from __future__ import annotations

import resource
import sys
from pathlib import Path

MIB = 1024 * 1024
PROC_STATUS = Path("/proc/self/status")
PROC_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kib(key: str) -> int | None:
    try:
        for line in PROC_STATUS.read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])  # the kernel reports kB, meaning KiB
    except OSError:
        pass
    return None


def current_rss_mib() -> float | None:
    """Return the current RSS (VmRSS), or None where /proc is not available."""
    kib = _status_kib("VmRSS")
    return None if kib is None else kib / 1024


def peak_rss_mib() -> float:
    """Return the peak RSS since the process started or since the last successful reset_peak."""
    kib = _status_kib("VmHWM")
    if kib is not None:
        return kib / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is in bytes on macOS and KiB on Linux and the BSDs.
    return peak / MIB if sys.platform == "darwin" else peak / 1024


def reset_peak() -> bool:
    """Reset the peak RSS to the current RSS (Linux 4.0 and later); return whether that worked.

    Writing 5 to /proc/self/clear_refs resets VmHWM, so each model's peak excludes the
    models measured before it in the same process.
    """
    try:
        PROC_CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False
