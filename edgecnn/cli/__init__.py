"""The ``edgecnn`` command: one module per subcommand, composed into one Typer app."""

from __future__ import annotations

import logging

import typer

from edgecnn import __version__
from edgecnn.cli.console import OneLineErrorGroup

app = typer.Typer(
    name="edgecnn",
    help="Train, export and benchmark lightweight image classifiers for edge devices.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=OneLineErrorGroup,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"edgecnn {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages too."),
) -> None:
    from edgecnn.cli.console import setup_logging

    setup_logging(logging.DEBUG if verbose else logging.INFO)


def _register() -> None:
    # Each command module adds itself to app; importing them loads no heavy library.
    from edgecnn.cli import train  # noqa: F401

    for optional in ("export", "bench", "predict", "sweep"):
        try:
            __import__(f"edgecnn.cli.{optional}")
        except ModuleNotFoundError as error:
            if error.name != f"edgecnn.cli.{optional}":
                raise


_register()


def main() -> None:
    app()
