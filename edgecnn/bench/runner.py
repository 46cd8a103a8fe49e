"""Measuring one model: load, first inference, warm-up, latency, throughput, memory and accuracy."""

from __future__ import annotations

import gc
import hashlib
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from edgecnn.artifacts import read_record
from edgecnn.bench import memory, stats, timing
from edgecnn.bench.config import BenchConfig
from edgecnn.errors import ConfigError, require
from edgecnn.metadata import ArtifactMetadata
from edgecnn.runtimes import RUNTIME_EXTRAS, RUNTIME_MODULES, open_session, resolve_runtime

log = logging.getLogger(__name__)

# progress(description, done, total) is called between timed calls, never inside one.
Progress = Callable[[str, int, int], None]
MODEL_FORMATS = {".onnx": "onnx", ".tflite": "tflite", ".pt": "pytorch"}


@dataclass
class ModelResult:
    """Every figure measured for one model in one runtime; ``to_dict`` is its JSON form."""

    name: str
    path: str
    format: str  # onnx, tflite or pytorch
    sha256: str
    file_size_bytes: int
    params: int
    macs: int | None  # multiply-accumulates per image, where known
    dataset: str
    preset: str
    input_shape: list[int | None]
    input_dtype: str
    layout: str
    metadata_source: str
    runtime: str
    runtime_version: str
    threads: int
    xnnpack: bool | None
    batch_mode: str | None  # TFLite: "resize" or "split" (a fixed-batch model run one image at a time)
    load_ms: float
    first_inference_ms: float
    latency_ms: dict  # batch 1: count, min, max, mean, std, p50, p90, p95, p99
    mlperf_tiny_median_latency_ms: float
    throughput_batch_size: int
    throughput_runs: int
    throughput_images_per_s: float
    peak_rss_mib: float
    load_rss_increase_mib: float | None
    peak_rss_scope: str  # "model" when the peak was reset before loading this model, else "process"
    accuracy_top1_percent: float | None = None
    accuracy_images: int | None = None
    latency_samples_ms: list[float] = field(default_factory=list, repr=False)  # for plots, not written to JSON

    @property
    def file_size_kb(self) -> float:
        return self.file_size_bytes / 1000

    def to_dict(self) -> dict:
        values = asdict(self)
        values.pop("latency_samples_ms")
        values["file_size_kb"] = self.file_size_kb
        return values


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def measure_overhead(config: BenchConfig) -> dict:
    """Time the empty call in the same loop as the models: the harness's own cost per timed call."""
    pool = [np.zeros((1, 1), np.float32)] * config.input_pool
    samples = timing.run_for(timing.empty_call, pool, config.timed_runs, 0.0, config.timed_max_s)
    return stats.summarize_ns(samples)


def benchmark_model(path: Path, config: BenchConfig, test_sets: "TestSets",
                    progress: Progress | None = None) -> ModelResult:
    """Measure one model file; see the package docstring for the method."""
    progress = progress or (lambda description, done, total: None)
    runtime = resolve_runtime(path, config.runtime)
    record = read_record(path)
    metadata = record.metadata
    test_set = test_sets.get(metadata, config)
    pool, throughput_batch = _timing_inputs(metadata, config, test_set)

    # Load: the runtime's Python module is imported first, so load time and the RSS increase
    # cover the model only, not the library.
    require(RUNTIME_MODULES[runtime], RUNTIME_EXTRAS[runtime], f"running {path.name}")
    gc.collect()
    peak_scope = "model" if memory.reset_peak() else "process"
    rss_before = memory.current_rss_mib()
    load_started = time.perf_counter_ns()
    session = open_session(path, runtime, config.threads)
    load_ns = time.perf_counter_ns() - load_started
    rss_after = memory.current_rss_mib()
    first_ns = timing.time_once(session.run, pool[0])

    # Warm-up, then timed runs at batch 1.
    def report(description: str, total: int) -> Callable[[int], None]:
        progress(description, 0, total)
        return lambda done: progress(description, min(done, total), total)

    timing.run_for(session.run, pool, config.warmup_runs, config.warmup_min_s, config.timed_max_s,
                   report(f"{path.name}: warm-up", config.warmup_runs))
    samples = timing.run_for(session.run, pool, config.timed_runs, config.timed_min_s, config.timed_max_s,
                             report(f"{path.name}: latency", config.timed_runs))

    # MLPerf-Tiny-style: each of a few inputs timed on its own, then the median of their means.
    runs_per_input = max(10, config.timed_runs // config.mlperf_inputs)
    per_input = [timing.run_for(session.run, [pool[i % len(pool)]], runs_per_input, 0.0, config.timed_max_s)
                 for i in range(config.mlperf_inputs)]

    # Throughput at batch_size: the first call (which may resize the input) is untimed.
    session.run(throughput_batch)
    batch_samples = timing.run_for(session.run, [throughput_batch], config.throughput_runs,
                                   config.timed_min_s, config.timed_max_s,
                                   report(f"{path.name}: throughput", config.throughput_runs))
    throughput = config.batch_size * batch_samples.size / (batch_samples.sum() / 1e9)

    accuracy, accuracy_images = (None, None)
    if test_set is not None:
        accuracy, accuracy_images = top1_accuracy(session, metadata, test_set, config.batch_size, progress)
    peak = memory.peak_rss_mib()

    summary = stats.summarize_ns(samples)
    result = ModelResult(
        name=f"{path.parent.name}/{path.name}", path=str(path), format=MODEL_FORMATS[path.suffix.lower()],
        sha256=file_sha256(path), file_size_bytes=path.stat().st_size, params=metadata.params, macs=record.macs,
        dataset=metadata.dataset, preset=metadata.preset, input_shape=list(metadata.input_shape),
        input_dtype=metadata.input_dtype, layout=metadata.layout, metadata_source=record.source,
        runtime=session.info.runtime, runtime_version=session.info.runtime_version, threads=session.info.threads,
        xnnpack=session.info.xnnpack, batch_mode=session.info.extra.get("batch_mode"),
        load_ms=load_ns / stats.NS_PER_MS, first_inference_ms=first_ns / stats.NS_PER_MS, latency_ms=summary,
        mlperf_tiny_median_latency_ms=stats.median_of_input_means(per_input),
        throughput_batch_size=config.batch_size, throughput_runs=int(batch_samples.size),
        throughput_images_per_s=float(throughput), peak_rss_mib=peak,
        load_rss_increase_mib=None if rss_before is None else rss_after - rss_before,
        peak_rss_scope=peak_scope, accuracy_top1_percent=accuracy, accuracy_images=accuracy_images,
        latency_samples_ms=(samples / stats.NS_PER_MS).tolist(),
    )
    del session
    gc.collect()
    return result


def predict_labels(session, metadata: ArtifactMetadata, images: np.ndarray, batch_size: int,
                   progress: Progress | None = None, description: str = "") -> np.ndarray:
    """Return the top-1 class index of each raw (N, H, W, C) uint8 image, run batch_size images at a time."""
    labels = []
    for start in range(0, len(images), batch_size):
        outputs = session.run(metadata.preprocess(images[start:start + batch_size]))
        labels.append(np.argmax(metadata.dequantize_output(outputs), axis=1))
        if progress is not None:
            progress(description, min(start + batch_size, len(images)), len(images))
    return np.concatenate(labels)


def top1_accuracy(session, metadata: ArtifactMetadata, test_set, batch_size: int,
                  progress: Progress | None = None) -> tuple[float, int]:
    """Return the top-1 accuracy in percent on the test set and the number of images it used."""
    predicted = predict_labels(session, metadata, test_set.images, batch_size, progress,
                               f"{session.path.name}: accuracy")
    return float(np.mean(predicted == test_set.labels) * 100), len(test_set.labels)


def _timing_inputs(metadata: ArtifactMetadata, config: BenchConfig, test_set) -> tuple[list, np.ndarray]:
    """Return the pool of batch-1 inputs and the throughput batch, preprocessed to the model's input.

    Real test images when a data set is given, else seeded random pixels; both go through the
    metadata record, which quantizes them for int8 inputs.
    """
    count = max(config.input_pool, config.batch_size)
    if test_set is not None:
        raw = np.resize(test_set.images, (count, *test_set.images.shape[1:]))  # repeats a short test set
    else:
        height, width = metadata.image_size_hw
        raw = np.random.default_rng(config.seed).integers(0, 256, (count, height, width, metadata.channels),
                                                          dtype=np.uint8)
    model_inputs = metadata.preprocess(raw)
    pool = [np.ascontiguousarray(model_inputs[i:i + 1]) for i in range(config.input_pool)]
    return pool, np.ascontiguousarray(model_inputs[:config.batch_size])


class TestSets:
    """The accuracy images loaded so far, shared by the models that use the same data set.

    These are the test split, or with validation_size the first training images, which
    `edgecnn train` holds out for validation.
    """

    def __init__(self):
        self._loaded = {}

    def get(self, metadata: ArtifactMetadata, config: BenchConfig):
        """Return the accuracy images for a model, or None when no data set was requested."""
        if config.dataset is None:
            return None
        name = metadata.dataset if config.dataset == "auto" else config.dataset
        if name != metadata.dataset:
            raise ConfigError(f"--dataset {name} does not match this model, which was trained on "
                              f"{metadata.dataset}; pass --dataset {metadata.dataset} or --dataset auto")
        key = (name, tuple(metadata.image_size_hw), metadata.channels)
        if key not in self._loaded:
            from edgecnn.data import load_dataset

            split = "test" if config.validation_size is None else "train"
            test_set = load_dataset(name, split, config.data_dir, allow_download=config.allow_download,
                                    image_size=tuple(metadata.image_size_hw), channels=metadata.channels)
            if config.validation_size is not None:
                if name == "folder":
                    raise ConfigError("--validation-size works with mnist, fashion-mnist and cifar10, which "
                                      "hold out their first training images; leave it out for a folder data set")
                if config.validation_size >= len(test_set):
                    raise ConfigError(f"invalid --validation-size {config.validation_size}: {name} has only "
                                      f"{len(test_set)} training images; pass the size the model was trained with")
                test_set = test_set.subset(slice(0, config.validation_size))
            if config.test_limit is not None:
                if config.test_limit > len(test_set):
                    log.warning("--test-limit %d is more than the %d %s test images; scoring all of them",
                                config.test_limit, len(test_set), name)
                test_set = test_set.subset(slice(0, config.test_limit))
            self._loaded[key] = test_set
        return self._loaded[key]
