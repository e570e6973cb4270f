"""CLI command groups contributed by each area (recommendations, audience, monitoring, ...).

Each module here defines `register(app: typer.Typer) -> None` and adds its commands to the main
app. Keep module-level imports light (typer only): the heavy libraries are imported inside the
command functions, so `tastemaker --help` stays fast.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer


def register_all(app: typer.Typer) -> None:
    """Import every module in this package and let it add its commands."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is None:
            raise RuntimeError(f"flows.commands.{info.name} has no register(app) function")
        register(app)
