"""Domain errors. The CLI turns each into one line on stderr and a non-zero exit code."""


class EdgecnnError(Exception):
    """Base class of every error a user can cause and fix."""


class DataError(EdgecnnError):
    """A data set is missing, corrupt or does not match what was requested."""


class ConfigError(EdgecnnError):
    """A configuration value is invalid."""


class CheckpointError(EdgecnnError):
    """A checkpoint or run directory is missing, corrupt or incompatible."""


class RunExistsError(EdgecnnError):
    """A run directory exists and overwriting it was not requested."""


class MissingExtraError(EdgecnnError):
    """An optional dependency is not installed."""

    def __init__(self, module: str, extra: str, purpose: str):
        self.module = module
        self.extra = extra
        super().__init__(
            f"{purpose} needs the Python package '{module}', which is not installed; "
            f"install it with: pip install \"edgecnn[{extra}]\""
        )


def require(module: str, extra: str, purpose: str):
    """Import an optional dependency, raising MissingExtraError naming the extra if it is absent."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as error:
        if error.name is not None and error.name.split(".")[0] != module.split(".")[0]:
            raise  # the package is there but one of its own imports failed: show the real cause
        raise MissingExtraError(module, extra, purpose) from None
