"""Helpers every `tastemaker` command shares: JSON output, one-line errors, settings loading,
read-only warehouse access and help rendering.

Kept apart from flows/cli.py so the command groups in flows/commands/ can use them without
importing the main app (which imports them).
"""

from __future__ import annotations

import inspect
import json
import sys
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from warehouse.lock import WarehouseBusyError
    from warehouse.settings import Settings

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]

#: Exit codes: 1 = the run failed (dbt tests, rejected files, ...); 2 = bad input or configuration.
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

err = Console(stderr=True)

#: Width given to tables written to a pipe or file: wide enough that no value is ever cut.
PIPE_WIDTH = 100_000


def stdout_console() -> Console:
    """A console for stdout that never truncates when stdout is not a terminal.

    Rich lays a table out for 80 columns when it cannot ask a terminal, so `tastemaker config |
    grep home` used to show paths cut to `/work/…`. Into a pipe or file there is no screen to fit:
    the table takes its natural width. On a terminal, the terminal's width as usual."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=PIPE_WIDTH)
    return console


def rows_table(title: str, rows: list[dict[str, Any]]) -> Table:
    """One rich table: a column per key of the first row, the first left-aligned."""
    table = Table(title=title, title_justify="left")
    for i, column in enumerate(rows[0]):
        table.add_column(str(column), justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(
            *(
                f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)
                for v in row.values()
            )
        )
    return table


#: Where a setting came from when the command line set it (e.g. `{"home": "option --home"}`);
#: filled by the main callback on every invocation, read by `tastemaker config`.
CLI_SOURCES: dict[str, str] = {}


def cli_run_id() -> str:
    """The run id of a command run outside Prefect: `cli-20260603T040012Z-1a2b3c4d`.

    Reports and lineage carry a run id so `tastemaker lineage` and a mail reader can tell runs
    apart; a Prefect flow run has its own id, a terminal command gets this one (the ingest batch
    id's form: sortable by time, unique across processes, and saying where it came from)."""
    from warehouse.ingest import new_batch_id

    return f"cli-{new_batch_id()}"


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

    from warehouse.settings import get_settings

    try:
        return get_settings()
    except (ValidationError, FileNotFoundError, ValueError) as exc:
        fail(f"invalid configuration: {exc}")


def fail_busy(exc: WarehouseBusyError) -> NoReturn:
    """A read-only command found a run writing the warehouse: one `error:` line, exit 2.

    Such a command reads through `Warehouse(settings, reader=True)` (directly or via a reader's
    `reader=True`), which gives up after `read_lock_timeout_s` rather than a writer's half hour."""
    fail(exc.for_readers(), EXIT_BAD_INPUT)


def warn_unknown_settings() -> None:
    """Print a `warning:` line per TASTEMAKER_* variable (or config key) that is no setting."""
    from warehouse.settings import unknown_setting_warnings

    for message in unknown_setting_warnings():
        err.print(f"[yellow]warning:[/] {message}", highlight=False, soft_wrap=True)


def reflow(text: Any) -> Any:
    """Help text with each paragraph on one line, so the terminal (not the source file's
    100-column limit) decides where lines break. Paragraphs starting with `\\b` keep their
    line breaks, as in click. Anything else (None, typer's default placeholders) is returned
    unchanged, placeholders with their text reflowed."""
    from typer.models import DefaultPlaceholder

    if isinstance(text, DefaultPlaceholder):
        text.value = reflow(text.value)
        return text
    if not isinstance(text, str):
        return text
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(
        p if p.startswith("\b") else " ".join(line.strip() for line in p.splitlines())
        for p in paragraphs
    )


def reflow_help(app: typer.Typer) -> None:
    """Reflow the help of every command and group under `app` (see `reflow`).

    Typer's rich help keeps the single line breaks of a docstring's later paragraphs (and of
    the first paragraph in a group's command list), so on a wide terminal sentences broke
    mid-line where the source wrapped them."""
    app.info.help = reflow(app.info.help)
    for command in app.registered_commands:
        command.help = reflow(command.help or inspect.getdoc(command.callback))
    for group in app.registered_groups:
        group.help = reflow(group.help)
        if group.typer_instance is not None:
            reflow_help(group.typer_instance)


def hide_flag_types() -> None:
    """Show boolean flags as `--json`, not `--json <bool>`, in the rich help.

    Typer 0.29's rich help prints every option's type, flags included (`--help <bool>`), which
    reads as if the flag took a value. Plain click help already leaves flags bare; this makes
    the rich help do the same. Idempotent; a later typer without the method is left alone."""
    from typer.core import TyperOption

    original = getattr(TyperOption, "display_type_rich", None)
    if original is None or getattr(original, "_tastemaker_flags", False):
        return

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        if getattr(self, "is_flag", False) or getattr(self, "count", False):
            return None
        return original(self, ctx)

    display_type_rich._tastemaker_flags = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]
