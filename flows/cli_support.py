"""Helpers every `tastemaker` command shares: JSON output, one-line errors, settings loading.

Kept apart from flows/cli.py so the command groups in flows/commands/ can use them without
importing the main app (which imports them).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console

if TYPE_CHECKING:
    from flows.settings import Settings

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]

#: Exit codes: 1 = the run failed (dbt tests, rejected files, ...); 2 = bad input or configuration.
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

err = Console(stderr=True)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print one `error:` line on stderr and exit with `code` (no traceback)."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True, markup=True)
    raise typer.Exit(code)


def emit_json(data: Any) -> None:
    """One JSON document on stdout (logs go to stderr, so this can be piped)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def load_settings() -> Settings:
    """The settings in force, or a one-line error naming what is wrong with them."""
    from pydantic import ValidationError

    from flows.settings import get_settings

    try:
        return get_settings()
    except (ValidationError, FileNotFoundError, ValueError) as exc:
        fail(f"invalid configuration: {exc}")
