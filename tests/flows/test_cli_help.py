"""Help rendering: flags read as flags (`--json`, not `--json <bool>`), and help paragraphs are
wrapped by the terminal, not where the source file happened to break its lines."""

from __future__ import annotations

import inspect
import re

import click
import pytest
import typer
from typer.testing import CliRunner

from flows.cli import app

runner = CliRunner()
WIDE = {"COLUMNS": "250"}


def _commands() -> list[tuple[str, ...]]:
    """Every command path, groups included, e.g. ("evaluate", "recommender")."""
    paths: list[tuple[str, ...]] = [()]

    def walk(cmd: click.Command, prefix: tuple[str, ...]) -> None:
        for name, sub in getattr(cmd, "commands", {}).items():
            paths.append((*prefix, name))
            walk(sub, (*prefix, name))

    walk(typer.main.get_command(app), ())
    return paths


def _help(path: tuple[str, ...]) -> str:
    result = runner.invoke(app, [*path, "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("path", _commands(), ids=lambda p: " ".join(p) or "tastemaker")
def test_flags_show_no_value_type(path: tuple[str, ...]) -> None:
    text = _help(path)
    assert "<bool>" not in text
    assert re.search(r"--help\s+Show this message", text), text


def test_value_options_keep_their_type() -> None:
    text = _help(("recommend",))
    assert re.search(r"--json\s+Print one JSON object", text)
    assert re.search(r"--html\s+<path>", text)
    run = _help(("run",))
    assert re.search(r"--users\s+<int>", run) and re.search(r"--drift\s+--no-drift\s+Plant", run)


def test_paragraphs_are_not_broken_mid_sentence_on_a_wide_terminal() -> None:
    """Each docstring paragraph comes out on one line when the terminal is wide enough."""
    from flows.commands.recommend import recommend

    text = " ".join(_help(("recommend",)).split())  # rich pads every line: compare words
    lines = [" ".join(line.split()) for line in _help(("recommend",)).splitlines()]
    for paragraph in inspect.getdoc(recommend).split("\n\n"):
        flat = " ".join(paragraph.split())
        assert flat in text
        assert any(flat in line for line in lines), f"split across lines: {flat!r}"


def test_command_list_shows_each_summary_on_one_line() -> None:
    """The top-level list gives each command's first paragraph; `run`'s spans three source
    lines and used to keep those breaks."""
    lines = _help(()).splitlines()
    run_line = next(line for line in lines if line.strip("│ ").startswith("run "))
    assert "then train and publish recommendations" in run_line
    assert "re-engagement actions, and run the drift report" in run_line
