"""The aarch64 legs run only when selected with ``-m arm64``: they need root and several minutes."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config, items):
    if "arm64" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="aarch64 leg: select it with -m arm64 (needs root; see ci/arm64.sh)")
    for item in items:
        if "arm64" in item.keywords:
            item.add_marker(skip)
