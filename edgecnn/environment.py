"""A description of the machine and libraries, recorded next to every result."""

from __future__ import annotations

import importlib.metadata
import os
import platform


def cpu_model() -> str:
    """Return the CPU model name from /proc/cpuinfo, or the processor name that platform reports elsewhere."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_versions(names: tuple[str, ...]) -> dict[str, str | None]:
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def describe(packages: tuple[str, ...] = ("edgecnn", "numpy", "torch")) -> dict:
    return {
        "cpu": cpu_model(),
        "architecture": platform.machine(),
        "cores": os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": package_versions(packages),
    }
