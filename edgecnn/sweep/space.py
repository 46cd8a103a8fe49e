"""The search space of a sweep: TrainConfig fields addressed by dotted paths, and the values each may take.

A path names a field the way the saved config.json nests it: ``seed``,
``stage1.learning_rate``, ``augment.rotation_deg``. Items of the stage-2 schedule
are addressed by index (negative counts from the end) or by step name:
``stage2.schedule.-1.epochs`` and ``stage2.schedule.fine-tune.epochs`` are the same field.

Dimension kinds:

- ``grid``: every listed value, crossed with every other grid dimension;
- ``choice``: one listed value drawn at random per sample;
- ``uniform`` and ``loguniform``: a number drawn between two bounds, inclusive
  (integer fields draw integers).

A YAML (or JSON) space file looks like this::

    samples: 2                        # random draws per grid point; default 1
    parameters:
      seed: [0, 1, 2]                 # a list is a grid
      stage1.max_epochs: {grid: [5, 10]}
      stage1.learning_rate: {loguniform: [1.0e-4, 1.0e-2]}
      augment.fill: {choice: [reflect, zeros]}
      stage2.batch_size: 64           # a single value is fixed for every trial
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from edgecnn.errors import ConfigError, require
from edgecnn.training.config import TrainConfig

KINDS = ("grid", "choice", "uniform", "loguniform")
RANDOM_KINDS = ("choice", "uniform", "loguniform")
TRUE_WORDS = {"true", "yes", "on", "1"}
FALSE_WORDS = {"false", "no", "off", "0"}
NONE_WORDS = {"none", "null"}


class SearchSpaceError(ConfigError):
    """A search space names an unknown field or gives a value that field cannot take."""


@dataclass
class Dimension:
    """One searched field."""

    path: str  # dotted path into TrainConfig, e.g. stage1.learning_rate
    kind: str  # one of KINDS
    values: list  # grid and choice: the values; uniform and loguniform: [low, high]


@dataclass
class SearchSpace:
    dimensions: list[Dimension] = field(default_factory=list)
    samples: int = 1  # random draws per grid point (Ray Tune's num_samples)

    @property
    def paths(self) -> list[str]:
        return [dimension.path for dimension in self.dimensions]

    def trial_count(self) -> int:
        """The number of trials Ray Tune will create: the grid's size times the samples."""
        count = self.samples
        for dimension in self.dimensions:
            if dimension.kind == "grid":
                count *= len(dimension.values)
        return count

    def to_dict(self) -> dict:
        return {"samples": self.samples, "dimensions": [dataclasses.asdict(d) for d in self.dimensions]}

    @classmethod
    def from_dict(cls, values: dict) -> "SearchSpace":
        return cls([Dimension(**d) for d in values["dimensions"]], values["samples"])


# --- Reading a space from the command line or a file ---

def parse_assignment(text: str, kind: str) -> Dimension:
    """Parse a command-line dimension such as ``seed=0,1,2`` or ``stage1.learning_rate=1e-4,1e-2``.

    Values stay strings here; validate() converts them to the field's type.
    """
    option = f"--{kind}"
    path, equals, listed = text.partition("=")
    if not equals or not path.strip() or not listed.strip():
        raise SearchSpaceError(f"invalid {option} '{text}'; write PATH=VALUE[,VALUE...], e.g. {option} "
                               f"{'seed=0,1,2' if kind in ('grid', 'choice') else 'stage1.learning_rate=1e-4,1e-2'}")
    values = [value.strip() for value in listed.split(",")]
    return Dimension(path.strip(), kind, values)


def load_space_file(path: Path) -> SearchSpace:
    """Read a YAML or JSON space file (see the module docstring for its layout)."""
    document = _read_mapping(path, "search space")
    unknown = set(document) - {"samples", "parameters"}
    if unknown:
        raise SearchSpaceError(f"{path}: unknown key(s) {sorted(unknown)}; a space file has 'parameters' "
                               "and optionally 'samples'")
    parameters = document.get("parameters")
    if not isinstance(parameters, dict) or not parameters:
        raise SearchSpaceError(f"{path}: 'parameters' must map field paths to values, e.g. "
                               "'seed: [0, 1, 2]'")
    dimensions = [_dimension_from_file(path, str(name), spec) for name, spec in parameters.items()]
    samples = document.get("samples", 1)
    if isinstance(samples, bool) or not isinstance(samples, int):
        raise SearchSpaceError(f"{path}: invalid samples {samples!r}; use a whole number, 1 or more")
    return SearchSpace(dimensions, samples)


def _dimension_from_file(source: Path, name: str, spec: Any) -> Dimension:
    if isinstance(spec, dict):
        if len(spec) != 1 or next(iter(spec)) not in KINDS:
            raise SearchSpaceError(f"{source}: parameter '{name}' must be a list, a single value or one of "
                                   f"{{grid, choice, uniform, loguniform}}: [...], not {spec!r}")
        kind, values = next(iter(spec.items()))
        if not isinstance(values, list):
            raise SearchSpaceError(f"{source}: '{name}: {{{kind}: ...}}' takes a list, not {values!r}")
        return Dimension(name, kind, values)
    if isinstance(spec, list):
        return Dimension(name, "grid", spec)
    return Dimension(name, "grid", [spec])


def _read_mapping(path: Path, description: str) -> dict:
    """Read a YAML or JSON file whose top level is a mapping."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SearchSpaceError(f"{path}: not a text file; pass a YAML or JSON {description} file") from None
    if Path(path).suffix.lower() == ".json":
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise SearchSpaceError(f"{path}: invalid JSON ({error})") from None
    else:
        yaml = require("yaml", "sweep", f"reading the {description} file {path}")
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as error:
            first_line = str(error).strip().splitlines()[0]
            raise SearchSpaceError(f"{path}: invalid YAML ({first_line})") from None
    if not isinstance(document, dict):
        raise SearchSpaceError(f"{path}: the {description} file must contain a mapping at the top level")
    return document


def read_config_file(path: Path, dataset: str | None = None, preset: str | None = None) -> TrainConfig:
    """Read a JSON or YAML file of TrainConfig fields, laid over the recipe of its data set and preset.

    The file nests fields as a saved config.json does and may give only some of them: the
    others keep the recipe's values. DATASET and PRESET, when given, win over the file's own.
    """
    from edgecnn.training.config import DEFAULT_PRESET, default_config

    document = _read_mapping(path, "training configuration")
    try:
        dataset = dataset or coerce(document.get("dataset", TrainConfig.dataset), str, "dataset")
        preset = preset or coerce(document.get("preset", DEFAULT_PRESET), str, "preset")
        config = default_config(dataset, preset)
        for field_path, value in _leaves(document):
            set_path(config, field_path, value)
    except SearchSpaceError as error:
        raise SearchSpaceError(f"{path}: {error}; fix the file or drop --config") from None
    config.dataset, config.preset = dataset, preset
    return config


def _leaves(document: dict, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield the dotted path and value of each field a nested mapping sets; a list is one value."""
    for key, value in document.items():
        if isinstance(value, dict):
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


# --- Validation ---

def validate(space: SearchSpace, base: TrainConfig) -> SearchSpace:
    """Check every path and value against base, and return the space with values converted to field types.

    Each listed value (and each bound) is applied alone to base and must pass
    TrainConfig.validate, so a bad value is reported before any trial starts.
    """
    if not space.dimensions:
        raise SearchSpaceError("empty search space; add --grid, --choice, --uniform or --loguniform, "
                               "or a --space file")
    if isinstance(space.samples, bool) or not isinstance(space.samples, int) or space.samples < 1:
        raise SearchSpaceError(f"invalid samples {space.samples!r}; use 1 or more")
    seen: set[str] = set()
    checked = []
    for dimension in space.dimensions:
        if dimension.kind not in KINDS:
            raise SearchSpaceError(f"unknown dimension kind '{dimension.kind}' for {dimension.path}; "
                                   f"choose one of: {', '.join(KINDS)}")
        annotation = field_type(base, dimension.path)
        canonical = canonical_path(base, dimension.path)
        if canonical in seen:
            raise SearchSpaceError(f"{dimension.path} is searched twice; give each field one dimension")
        seen.add(canonical)
        values = [to_plain(coerce(value, annotation, dimension.path)) for value in dimension.values]
        if not values:
            raise SearchSpaceError(f"no values for {dimension.path}; list at least one")
        if dimension.kind in ("uniform", "loguniform"):
            _check_bounds(dimension, annotation, values)
        for value in values:
            _check_applied(base, dimension.path, value)
        checked.append(Dimension(dimension.path, dimension.kind, values))
    return SearchSpace(checked, space.samples)


def _check_bounds(dimension: Dimension, annotation: Any, values: list) -> None:
    numeric = _without_none(annotation)
    if numeric not in (int, float):
        raise SearchSpaceError(f"{dimension.kind} needs a numeric field, but {dimension.path} is "
                               f"{_type_name(annotation)}; use --choice or --grid for it")
    if len(values) != 2:
        raise SearchSpaceError(f"{dimension.kind} for {dimension.path} takes two bounds LOW,HIGH, got "
                               f"{len(values)} value(s)")
    low, high = values
    if low is None or high is None or not low < high:
        raise SearchSpaceError(f"invalid bounds {low},{high} for {dimension.path}; LOW must be below HIGH")
    if dimension.kind == "loguniform" and low <= 0:
        raise SearchSpaceError(f"invalid loguniform bounds {low},{high} for {dimension.path}; both must be "
                               "above 0")


def _check_applied(base: TrainConfig, path: str, value: Any) -> None:
    config = apply(base, {path: value})
    try:
        config.validate()
    except ConfigError as error:
        raise SearchSpaceError(f"invalid value {value!r} for {path}: {error}") from None


# --- Paths and values ---

def _resolve(config: TrainConfig, path: str) -> tuple[Any, Any, Any]:
    """Return (container, key, type) of the field at path: a dataclass and attribute name, or a list and index."""
    container: Any = config
    annotation: Any = TrainConfig
    parts = path.split(".")
    for depth, part in enumerate(parts):
        where = ".".join(parts[:depth]) or "TrainConfig"
        if dataclasses.is_dataclass(container):
            hints = typing.get_type_hints(type(container))
            if part not in hints:
                raise SearchSpaceError(f"unknown field '{path}': {where} has no field '{part}'; choose one of: "
                                       f"{', '.join(hints)}")
            key, annotation = part, hints[part]
        elif isinstance(container, list):
            key = _list_index(container, part, path, where)
            annotation = typing.get_args(annotation)[0]
        else:
            raise SearchSpaceError(f"unknown field '{path}': {where} is a single value with no field '{part}'")
        if depth == len(parts) - 1:
            return container, key, annotation
        container = getattr(container, key) if isinstance(key, str) else container[key]
    raise AssertionError("unreachable")


def _list_index(items: list, part: str, path: str, where: str) -> int:
    """Return an index into the stage-2 schedule from a number (negative counts from the end) or a step name."""
    try:
        index = int(part)
    except ValueError:
        names = [getattr(item, "name", None) for item in items]
        if part in names:
            return names.index(part)
        raise SearchSpaceError(f"unknown field '{path}': {where} has no step named '{part}'; use an index "
                               f"0..{len(items) - 1} or one of: {', '.join(str(n) for n in names)}") from None
    if not -len(items) <= index < len(items):
        raise SearchSpaceError(f"unknown field '{path}': index {index} is outside {where}, which has "
                               f"{len(items)} item(s)")
    return index % len(items)


def field_type(config: TrainConfig, path: str) -> Any:
    return _resolve(config, path)[2]


def canonical_path(config: TrainConfig, path: str) -> str:
    """Return the path with list items named by their non-negative index, so two spellings compare equal."""
    parts = path.split(".")
    canonical = []
    for depth in range(len(parts)):
        _, key, _ = _resolve(config, ".".join(parts[: depth + 1]))
        canonical.append(str(key))
    return ".".join(canonical)


def set_path(config: TrainConfig, path: str, value: Any) -> None:
    """Set the field at path on config (in place), converting value to the field's type."""
    container, key, annotation = _resolve(config, path)
    converted = coerce(value, annotation, path)
    if isinstance(key, str):
        setattr(container, key, converted)
    else:
        container[key] = converted


def apply(base: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    """Return a copy of base with each path in overrides set to its value."""
    config = copy.deepcopy(base)
    for path, value in overrides.items():
        set_path(config, path, value)
    return config


def coerce(value: Any, annotation: Any, path: str) -> Any:
    """Convert value (from YAML or a command-line string) to the field type, or raise SearchSpaceError."""
    if _is_optional(annotation):
        if value is None or (isinstance(value, str) and value.strip().lower() in NONE_WORDS):
            return None
        annotation = _without_none(annotation)
    try:
        return _coerce_to(value, annotation, path)
    except (TypeError, ValueError):
        raise SearchSpaceError(f"invalid value {value!r} for {path}: expected {_type_name(annotation)}") from None


def _coerce_to(value: Any, annotation: Any, path: str) -> Any:
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
            return value.strip().lower() in TRUE_WORDS
        raise ValueError(value)
    if annotation is int:
        if isinstance(value, bool):
            raise TypeError(value)
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return int(value) if not isinstance(value, str) else int(value.strip())
    if annotation is float:
        if isinstance(value, bool):
            raise TypeError(value)
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(value)
        return number
    if annotation is str:
        if not isinstance(value, str):
            raise TypeError(value)
        return value
    if typing.get_origin(annotation) is list:
        if not isinstance(value, list):
            # NOTE: a comma already separates the values of a command-line dimension, so lists
            # (a step's trainable groups, a whole schedule) can only come from a --space file.
            raise TypeError(value)
        item_type = typing.get_args(annotation)[0]
        return [coerce(item, item_type, f"{path}[{index}]") for index, item in enumerate(value)]
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise TypeError(value)
        hints = typing.get_type_hints(annotation)
        unknown = set(value) - set(hints)
        if unknown:
            raise SearchSpaceError(f"invalid value for {path}: unknown key(s) {sorted(unknown)}; "
                                   f"{annotation.__name__} has: {', '.join(hints)}")
        converted = {key: coerce(item, hints[key], f"{path}.{key}") for key, item in value.items()}
        return annotation(**converted)
    raise TypeError(f"unsupported field type {annotation!r}")


def to_plain(value: Any) -> Any:
    """Return a JSON-ready copy of a converted value, with dataclasses turned into dicts."""
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    if isinstance(value, list):
        return [to_plain(item) for item in value]
    return value


def _is_optional(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in typing.get_args(
        annotation)


def _without_none(annotation: Any) -> Any:
    if not _is_optional(annotation):
        return annotation
    remaining = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    return remaining[0] if len(remaining) == 1 else typing.Union[tuple(remaining)]


def _type_name(annotation: Any) -> str:
    names = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}
    if _is_optional(annotation):
        return f"{_type_name(_without_none(annotation))} or none"
    if annotation in names:
        return names[annotation]
    if typing.get_origin(annotation) is list:
        return f"a list of {_type_name(typing.get_args(annotation)[0])} (in a --space file)"
    if dataclasses.is_dataclass(annotation):
        return f"a mapping of {annotation.__name__} fields (in a --space file)"
    return str(annotation)


# --- Ray Tune ---

def to_tune(space: SearchSpace, base: TrainConfig) -> dict[str, Any]:
    """Build the param_space of ray.tune.Tuner: one grid_search or sampling domain per path."""
    from ray import tune

    param_space: dict[str, Any] = {}
    for dimension in space.dimensions:
        integer = _without_none(field_type(base, dimension.path)) is int
        if dimension.kind == "grid":
            param_space[dimension.path] = tune.grid_search(dimension.values)
        elif dimension.kind == "choice":
            param_space[dimension.path] = tune.choice(dimension.values)
        elif dimension.kind == "uniform":
            low, high = dimension.values
            # tune.randint excludes its upper bound; the space's bounds are inclusive.
            param_space[dimension.path] = tune.randint(low, high + 1) if integer else tune.uniform(low, high)
        else:
            low, high = dimension.values
            param_space[dimension.path] = tune.lograndint(low, high + 1) if integer else tune.loguniform(low, high)
    return param_space
