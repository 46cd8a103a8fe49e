"""The runtime-only install on emulated aarch64 Debian, checked against x86_64 by ci/arm64.sh.

Each leg installs the wheel into an arm64 tree and an amd64 tree of the same Debian suite,
runs ``edgecnn bench``, ``edgecnn predict`` and an output dump in both, and compares them here.
Needs root, binfmt_misc, and the Debian mirror and PyPI when no cached tree exists. Run with:

    EDGECNN_DATA_DIR=../shared/datasets python -m pytest -m arm64 tests/arm64
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "ci" / "arm64.sh"
LEG_TIMEOUT_S = 900  # a leg took 1-2 minutes on 2 cores, and building its trees about 1 more
SKIP_EXIT_CODE = 77  # ci/arm64.sh exits with it where emulation is unavailable

# Suite -> (Python version, constraints file, extras), as in the suite table of ci/arm64.sh.
LEGS = {
    "bookworm": ("3.11", "constraints/device-legacy.txt", "onnx,tflite"),
    "trixie": ("3.13", "constraints/device.txt", "onnx,litert"),
}

pytestmark = pytest.mark.arm64


@dataclass
class LegResult:
    suite: str
    out_dir: Path
    returncode: int
    log: str

    def read_json(self, relative: str):
        return json.loads((self.out_dir / relative).read_text())

    @property
    def agreement(self) -> dict:
        path = self.out_dir / "agreement.json"
        if not path.is_file():
            pytest.fail(f"{self.suite}: no agreement.json; the end of the log:\n{self.log[-3000:]}")
        return json.loads(path.read_text())

    def artifacts(self) -> list[tuple[str, str, str]]:
        """(kind, dataset, path) of each artifact the leg ran, from the arm64 tree's listing."""
        lines = (self.out_dir / "arm64" / "artifacts.txt").read_text().splitlines()
        return [tuple(line.split(" ", 2)) for line in lines if line.strip()]


def emulation_unavailable() -> str | None:
    """Why the legs cannot run on this machine, or None."""
    if sys.platform != "linux":
        return "needs Linux (chroot, binfmt_misc)"
    if os.geteuid() != 0:
        return "needs root (chroot, mounts, apt-get)"
    if not Path("/proc/sys/fs/binfmt_misc").is_dir():
        return "the kernel has no binfmt_misc, so arm64 programs cannot run here"
    return None


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    reason = emulation_unavailable()
    if reason:
        pytest.skip(reason)
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(dist), str(REPO_ROOT)], check=True)
    return next(dist.glob("edgecnn-*.whl"))


@pytest.fixture(scope="session")
def leg_results(wheel, data_dir, tmp_path_factory) -> dict[str, LegResult]:
    """Run both legs at once: each spends most of its time in one emulated process, so on two
    or more cores they take little longer together than one alone."""
    env = {**os.environ, "WHEEL": str(wheel), "EDGECNN_DATA_DIR": str(data_dir)}
    running = {}
    for suite in sorted(LEGS):
        out_dir = tmp_path_factory.mktemp(f"arm64-{suite}")
        log_file = open(out_dir / "leg.log", "w")
        process = subprocess.Popen(["bash", str(SCRIPT), suite, str(out_dir)], env=env, stdout=log_file,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        running[suite] = (process, out_dir, log_file)

    results = {}
    for suite, (process, out_dir, log_file) in running.items():
        try:
            returncode = process.wait(timeout=LEG_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            returncode = process.wait()
        log_file.close()
        log = (out_dir / "leg.log").read_text()
        print(f"\n{suite} leg log ({out_dir / 'leg.log'}):\n{log[-2500:]}")
        results[suite] = LegResult(suite, out_dir, returncode, log)
    return results


@pytest.fixture(params=sorted(LEGS))
def leg(request, leg_results) -> LegResult:
    result = leg_results[request.param]
    if result.returncode == SKIP_EXIT_CODE:
        pytest.skip(result.log.strip().splitlines()[-1])
    return result


def test_leg_script_succeeds(leg):
    assert leg.returncode == 0, f"ci/arm64.sh {leg.suite} exited {leg.returncode}:\n{leg.log[-3000:]}"


def test_arm64_install_is_runtime_only(leg):
    candidate = leg.agreement["candidate"]
    python, _, _ = LEGS[leg.suite]
    assert candidate["architecture"] == "aarch64"
    assert candidate["python"].startswith(python + ".")
    assert candidate["torch_installed"] is False


def test_runtime_versions_match_constraints(leg):
    _, constraints, _ = LEGS[leg.suite]
    pins = dict(line.split("==") for line in (REPO_ROOT / constraints).read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    packages = leg.agreement["candidate"]["packages"]
    for name in ("onnxruntime", "numpy", "ai-edge-litert", "tflite-runtime"):
        assert packages[name] == pins.get(name), f"{name}: installed {packages[name]}, pinned {pins.get(name)}"


def test_bench_runs_shipped_artifacts(leg):
    shipped = [Path(path).name for kind, _, path in leg.artifacts() if kind == "shipped"]
    assert shipped, "the wheel ships no artifacts (models/ is empty when it was built)"
    report = leg.read_json("arm64/bench.json")
    benchmarked = sorted(Path(model["path"]).name for model in report["models"])
    assert report["skipped"] == []
    assert benchmarked == sorted(shipped)
    for model in report["models"]:
        assert model["accuracy_top1_percent"] is not None, f"{model['name']}: no accuracy measured"


def test_outputs_within_tolerance(leg):
    for result in leg.agreement["artifacts"]:
        assert "problem" not in result, f"{result['artifact']}: {result.get('problem')}"
        assert result["same_artifact"], f"{result['artifact']}: different files on the two sides"
        assert result["same_inputs"], f"{result['artifact']}: different preprocessed inputs on the two sides"
        assert result["values_over_tolerance"] == 0, (
            f"{result['artifact']} ({result['runtime']}): max difference {result['max_abs_diff']:.3g} "
            f"over the tolerance {result['tolerance']:.3g} ({result['tolerance_unit']}) "
            f"in {result['values_over_tolerance']} values")


def test_top1_agrees_except_near_ties(leg):
    for result in leg.agreement["artifacts"]:
        assert result["top1_mismatches_not_near_tie"] == 0, (
            f"{result['artifact']}: {result['top1_mismatches_not_near_tie']} of {result['images']} images "
            f"get another top-1 class on arm64, with the top two scores further apart than the tolerance")


def test_mnist_accuracy_on_arm64(leg):
    mnist = {Path(path).name for kind, dataset, path in leg.artifacts() if dataset == "mnist" and kind == "shipped"}
    dumped = {entry["artifact"]: entry for entry in leg.read_json("arm64/dump/outputs.json")["artifacts"]}
    assert mnist, "no shipped MNIST artifact to check accuracy with"
    for result in leg.agreement["artifacts"]:
        if result["artifact"] not in mnist:
            continue
        name = result["artifact"]
        # The two sides may differ only by the images whose top-1 class flipped on a near tie.
        changed_images = abs(result["accuracy_percent"] - result["reference_accuracy_percent"]) * result["images"] / 100
        assert round(changed_images) <= result["top1_mismatches"], f"{name}: accuracy differs beyond near ties"
        # The slice is the first images of the test set; 2 points below the full test set's float
        # accuracy recorded at export leaves room for int8 and for the slice being harder.
        floor = (dumped[name]["float_accuracy_percent"] or 92.0) - 2.0
        assert result["accuracy_percent"] >= floor, (
            f"{name}: {result['accuracy_percent']:.2f}% on {result['images']} MNIST test images, "
            f"below {floor:.2f}%")


def test_predict_agrees_with_x86(leg):
    tolerances = {result["artifact"]: result["tolerance"] for result in leg.agreement["artifacts"]}
    predicted = sorted((leg.out_dir / "arm64").glob("predict-*.json"))
    assert predicted, "edgecnn predict produced no JSON output"
    for arm_path in predicted:
        arm = json.loads(arm_path.read_text())["predictions"]
        x86 = json.loads((leg.out_dir / "amd64" / arm_path.name).read_text())["predictions"]
        artifact = arm_path.name.removeprefix("predict-").removesuffix(".json")
        assert [Path(p["path"]).name for p in arm] == [Path(p["path"]).name for p in x86]
        for arm_image, x86_image in zip(arm, x86):
            arm_top, x86_top = arm_image["top"], x86_image["top"]
            # A probability gap is never larger than the logit gap, so a near tie in logits
            # (within the artifact's tolerance) is a near tie here too.
            near_tie = any(len(top) > 1 and top[0]["probability"] - top[1]["probability"] <= tolerances[artifact]
                           for top in (arm_top, x86_top))
            if not near_tie:
                assert arm_top[0]["index"] == x86_top[0]["index"], (
                    f"{artifact}, {Path(arm_image['path']).name}: class {arm_top[0]['name']} on arm64, "
                    f"{x86_top[0]['name']} on x86_64")
