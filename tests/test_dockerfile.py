"""Static checks of the Dockerfile: no Docker engine is needed.

The runtime image must install what the trixie leg of ci/arm64.sh tests: the same constraints
file and the same extras, on the same Python minor version.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DEVICE_CONSTRAINTS = "constraints/device.txt"
DEVICE_EXTRAS = "onnx,litert"


def dockerfile_stages() -> dict[str, list[str]]:
    """Return each build stage's instructions (continuation lines joined), keyed by stage name."""
    text = (REPO_ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    stages: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"FROM\s+(?:--platform=\S+\s+)?(\S+)\s+AS\s+(\S+)", line, re.IGNORECASE)
        if match:
            current = match.group(2)
            stages[current] = [line]
        elif current is not None:
            stages[current].append(line)
    return stages


def trixie_leg() -> dict[str, str]:
    """Return the variables that ci/arm64.sh sets for the trixie suite."""
    script = (REPO_ROOT / "ci" / "arm64.sh").read_text()
    match = re.search(r"^\s*trixie\)\s*(.*?);;", script, re.MULTILINE | re.DOTALL)
    assert match, "ci/arm64.sh has no trixie case"
    return dict(pair.split("=", 1) for pair in match.group(1).split())


@pytest.fixture(scope="module")
def stages():
    return dockerfile_stages()


def copied_as(stage: list[str], source: str) -> str | None:
    """Return the destination a stage copies `source` to, if it does."""
    for line in stage:
        parts = line.split()
        if parts[0].upper() == "COPY" and source in parts[1:-1]:
            return parts[-1]
    return None


def test_runtime_stage_is_python_313(stages):
    assert "runtime" in stages
    assert re.match(r"FROM\s+python:3\.13-", stages["runtime"][0])


def test_runtime_installs_device_constraints(stages):
    runtime = stages["runtime"]
    destination = copied_as(runtime, DEVICE_CONSTRAINTS)
    assert destination is not None, f"the runtime stage does not copy {DEVICE_CONSTRAINTS}"
    installs = [line for line in runtime if line.startswith("RUN") and "pip install" in line]
    assert installs, "the runtime stage has no pip install"
    assert f"-c {destination}" in installs[0]
    assert f"[{DEVICE_EXTRAS}]" in installs[0]


def test_runtime_has_no_training_stack(stages):
    text = " ".join(stages["runtime"])
    assert "workstation.txt" not in text
    assert "torch" not in text
    assert "[train" not in text
    assert ",train" not in text


def test_runtime_entry_point_is_edgecnn(stages):
    assert 'ENTRYPOINT ["edgecnn"]' in stages["runtime"]


def test_train_stage_uses_workstation_constraints(stages):
    train = stages.get("train")
    assert train is not None, "no train stage"
    assert re.match(r"FROM\s+python:3\.11-", train[0])
    destination = copied_as(train, "constraints/workstation.txt")
    assert destination is not None
    install = next(line for line in train if line.startswith("RUN") and "pip install" in line)
    assert f"-c {destination}" in install
    assert "train" in install
    assert "export" in install


def test_trixie_leg_matches_runtime_image():
    leg = trixie_leg()
    assert leg["CONSTRAINTS"] == DEVICE_CONSTRAINTS
    assert leg["EXTRAS"] == DEVICE_EXTRAS
    assert leg["PYTHON_VERSION"] == "3.13"


def test_dockerignore_keeps_build_inputs():
    ignored = {line.strip() for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    for needed in ("edgecnn", "models", "constraints", "pyproject.toml", "setup.py", "README.md", "LICENSE"):
        assert needed not in ignored, f".dockerignore drops {needed}, which the Dockerfile copies"
