"""Presentation shared by the commands: logging to stderr, progress bars and error lines."""

from __future__ import annotations

import contextlib
import logging
import re
import signal
import sys
import threading
import time
from typing import Any, Iterator

import typer
from rich.console import Console
from typer.core import TyperGroup

from edgecnn.errors import EdgecnnError

# Humans read logs and progress on stderr; stdout is kept for results that scripts read.
# Soft wrapping leaves long lines whole: a terminal folds them itself, and in a file or pipe
# a line broken at Rich's default 80 columns would no longer match a search for it.
stderr = Console(stderr=True, soft_wrap=True)

USER_ERROR_EXIT_CODE = 2
REDIRECTED_TABLE_WIDTH = 250  # characters per line of a table printed to a file or pipe


def print_table(table: Any, to_stderr: bool = True) -> None:
    """Print a Rich table with each row on one line, also to a file or pipe.

    Without a terminal, Rich assumes 80 columns and folds every cell to fit them, and
    Console.print's width argument can only lower that limit, so a console of its own
    sized for the table prints it instead.
    """
    console = stderr if to_stderr else Console()
    if not console.is_terminal:
        console = Console(stderr=to_stderr, width=REDIRECTED_TABLE_WIDTH)
    console.print(table)


def setup_logging(level: int) -> None:
    if stderr.is_terminal:
        from rich.logging import RichHandler

        handler = RichHandler(console=stderr, show_time=False, show_path=False, show_level=False, markup=False)
    else:
        # Rich wraps and pads log lines to 80 columns when stderr is a file or a pipe. Log files
        # and CI output read and search better with one plain line per message.
        handler = logging.StreamHandler(sys.stderr)
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
    except OSError as error:
        # A path the user gave that cannot be read or written: a file where a folder should be,
        # a missing or read-only folder. An error that names no file points at a bug, so it keeps its traceback.
        if error.filename is None:
            raise
        reason = (error.strerror or str(error)).lower()
        print(f"error: {error.filename}: {reason}; pass another path, one this user may read and write",
              file=sys.stderr)
        raise typer.Exit(USER_ERROR_EXIT_CODE) from None
    except KeyboardInterrupt as stop:
        print("interrupted", file=sys.stderr)
        raise typer.Exit(interrupt_exit_code(stop)) from None


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would raise KeyboardInterrupt so that both stop the same way."""


def interrupt_exit_code(stop: KeyboardInterrupt) -> int:
    """Return the shell's code for a process ended by the signal: 128 + 15 for SIGTERM, 128 + 2 for Ctrl-C."""
    return 128 + (signal.SIGTERM if isinstance(stop, Terminated) else signal.SIGINT)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Handle SIGTERM (kill, docker stop, a batch scheduler) like Ctrl-C inside the block.

    The block then prints the same message and resume hint as for Ctrl-C instead of dying
    silently. Python can install signal handlers only from the main thread, so elsewhere
    the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signal_number, frame):
        raise Terminated

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class OneLineErrorGroup(TyperGroup):
    """The command group, printing a bad option or argument as one 'error: ...' line with exit code 2.

    Typer's own report is a usage line and a framed message over several lines. The one-line
    form matches the errors of the commands themselves and reads well in logs.
    """

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            hide_flag_values(command)
        return command

    def get_help_option(self, ctx: Any) -> Any:
        return _without_value_label(super().get_help_option(ctx))

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        hide_flag_values(self)
        arguments = sys.argv[1:] if args is None else list(args)
        if not standalone_mode or (not arguments and self.no_args_is_help):
            # A bare `edgecnn` prints the help, as Typer does.
            return super().main(args, prog_name, complete_var, standalone_mode=standalone_mode, **extra)
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.TyperException as error:
            print(f"error: {usage_error_line(error)}", file=sys.stderr)
            sys.exit(getattr(error, "exit_code", USER_ERROR_EXIT_CODE))
        except typer.Abort:
            print("interrupted", file=sys.stderr)
            sys.exit(130)
        # Without standalone mode, Typer returns the code of an explicit exit, else the command's value.
        sys.exit(result if isinstance(result, int) else 0)


def hide_flag_values(command: Any) -> None:
    """Show COMMAND's flags in its help without a value label, and list parameters by their element type.

    Typer labels a flag <bool>, which reads as if `--int8 true` were the way to set it, and a
    list of paths <list[Path]>, a Python type name that means nothing on a command line.
    """
    for param in command.params:
        _without_value_label(param)
        _list_as_repeated_label(param)
    if "get_help_option" not in vars(command) and not isinstance(command, OneLineErrorGroup):
        own_help_option = command.get_help_option
        command.get_help_option = lambda ctx: _without_value_label(own_help_option(ctx))


def _list_as_repeated_label(param: Any) -> None:
    """Relabel a list parameter's <list[Path]> by its element type.

    An argument takes several values at once, so it reads <path>..., as its usage line writes
    it. A list option takes one value per use and its help marks it repeatable, so it reads <str>.
    """
    own_display_type = getattr(param, "display_type_rich", None)
    if own_display_type is None or "display_type_rich" in vars(param):
        return
    repeat = "..." if param.param_type_name == "argument" else ""

    def display_type(ctx: Any) -> str | None:
        label = own_display_type(ctx)
        element = re.fullmatch(r"<list\[(\w+)\]>", label or "")
        return f"<{element.group(1).lower()}>{repeat}" if element else label

    param.display_type_rich = display_type


def _without_value_label(param: Any) -> Any:
    if param is not None and getattr(param, "is_flag", False) and param.metavar is None:
        param.metavar = ""
    return param


def usage_error_line(error: typer.TyperException) -> str:
    """Click's message for a bad command line, on one line and with the help command to run."""
    message = re.sub(r"\s+", " ", error.format_message()).strip().rstrip(".")
    # Click's "no such command 'x'. Did you mean 'y'?" reads as one clause: "...; did you mean 'y'?".
    message = re.sub(r"\. Did you mean ([^?]*\?)$", r"; did you mean \1", message)
    # Typer validates values with pydantic, whose messages start with its error type and leave
    # out the rejected value. The line names that value, as the commands' own errors do.
    message = message.replace(": Value error, ", ": ").replace(": Input should be", ": it should be")
    rejected = _rejected_input(error)
    option = re.match(r"Invalid value for '([^']+)': (.*)", message)
    if rejected is not None and option and rejected not in option.group(2):
        message = f"invalid {option.group(1)} {rejected}: {option.group(2)}"
    message = message[:1].lower() + message[1:]
    context = getattr(error, "ctx", None)
    if context is not None:
        # After a question, the help hint starts a new sentence.
        message += f" See '{context.command_path} --help'" if message.endswith("?") else (
            f"; see '{context.command_path} --help'")
    return message


def _rejected_input(error: BaseException) -> str | None:
    """Return the value that a pydantic validation behind ERROR rejected, or None when there is none."""
    details = getattr(error.__cause__, "errors", None)
    if not callable(details):
        return None
    try:
        first = details()[0]
    except (IndexError, TypeError):
        return None
    return str(first["input"]) if "input" in first else None


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


class LineProgress:
    """Progress report for stderr in a file or pipe: one log line on the epoch's batches, at most every interval_s.

    A progress bar makes no sense there, but a log that stays silent for a whole epoch
    (a minute or more on a small CPU) looks the same as a hung run.
    """

    def __init__(self, interval_s: float = 30.0):
        self.interval_s = interval_s
        self.log = logging.getLogger("edgecnn")
        self.description = ""
        self.total = self.done = 0
        self.started_s = self.last_line_s = 0.0

    def epoch_started(self, description: str, total_batches: int) -> None:
        self.description, self.total, self.done = description, total_batches, 0
        self.started_s = self.last_line_s = time.monotonic()

    def batch_finished(self) -> None:
        self.done += 1
        now_s = time.monotonic()
        if now_s - self.last_line_s >= self.interval_s and self.done < self.total:
            self.last_line_s = now_s
            self.log.info("%s: %d/%d batches, %.0f s", self.description, self.done, self.total,
                          now_s - self.started_s)

    def epoch_finished(self) -> None:
        pass
