"""Presentation shared by the commands: logging to stderr, progress bars and error lines."""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Iterator

import typer
from rich.console import Console

from edgecnn.errors import EdgecnnError

# Humans read logs and progress on stderr; stdout is kept for results that scripts read.
stderr = Console(stderr=True)

USER_ERROR_EXIT_CODE = 2


def setup_logging(level: int) -> None:
    from rich.logging import RichHandler

    handler = RichHandler(console=stderr, show_time=False, show_path=False, show_level=False, markup=False)
    logging.basicConfig(level=level, format="%(message)s", handlers=[handler], force=True)
    logging.getLogger("edgecnn").setLevel(level)
    for noisy in ("matplotlib", "PIL", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The conversion stack (torch's pytree registry, torchao, absl, jax) logs deprecation notices
    # about its own internals on every export. They concern none of the user's settings.
    for noisy in ("torch.utils._pytree", "torchao", "absl", "jax"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn a domain error into one 'error: ...' line on stderr and exit code 2, without a traceback."""
    try:
        yield
    except EdgecnnError as error:
        print(f"error: {error}", file=sys.stderr)
        raise typer.Exit(USER_ERROR_EXIT_CODE) from None
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise typer.Exit(130) from None


class BarProgress:
    """Draws one transient progress bar per epoch on stderr."""

    def __init__(self):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeRemainingColumn(), console=stderr, transient=True)
        self.task = None

    def epoch_started(self, description: str, total_batches: int) -> None:
        self.progress.start()
        self.task = self.progress.add_task(description, total=total_batches)

    def batch_finished(self) -> None:
        self.progress.advance(self.task)

    def epoch_finished(self) -> None:
        self.progress.remove_task(self.task)
        self.progress.stop()
