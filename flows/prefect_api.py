"""Which Prefect API a command's flows report to, decided once before the first flow runs.

Prefect starts a temporary API server on the first client call when no `PREFECT_API_URL` is
set, and gives it 20 s to answer. A fresh `PREFECT_HOME` migrates a SQLite database first; on a
busy 2-core machine that took 49-89 s (../shared/PITFALLS.md), so a new user's first command
died with a 40-line `RuntimeError` traceback. Starting that same server here, with the timeout
from settings, lets a slow start be slow instead of fatal, says on one line what is happening,
and turns a start that truly fails into one `error:` line.

Order of preference:
1. `PREFECT_API_URL` (environment or Prefect profile): the user chose a server; used as is.
2. A server recorded by `tastemaker up` in `<home>/prefect/stack.json` that answers: used for
   this process, so runs show up in that UI without exporting anything.
3. Prefect's temporary server, started here (Prefect's own code then reuses it).
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from warehouse.settings import Settings

log = logging.getLogger(__name__)

STARTUP_TIMEOUT_ENV = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"


class PrefectApiUnavailable(RuntimeError):
    """No Prefect API could be reached or started; the message says what to change."""


@dataclass(frozen=True)
class ApiChoice:
    """The API this process's flows report to, and why that one."""

    url: str
    kind: str  # "configured" | "tastemaker up" | "temporary"
    startup_s: float = 0.0


def stack_file(settings: Settings) -> Path:
    """Where `tastemaker up` records the server it started (see flows.deploy)."""
    return settings.home_dir / "prefect" / "stack.json"


def healthy(api_url: str, timeout_s: float = 2.0) -> bool:
    """True when `api_url` answers Prefect's health check."""
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=timeout_s) as resp:
            return resp.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
        return False


def recorded_stack_url(settings: Settings) -> str | None:
    """The API of a running `tastemaker up` stack in this home, or None."""
    path = stack_file(settings)
    try:
        url = json.loads(path.read_text()).get("api_url")
    except (OSError, ValueError):
        return None
    return url if isinstance(url, str) and healthy(url) else None


def startup_timeout_s(settings: Settings) -> tuple[int, str]:
    """The start-up timeout and the setting it came from: Prefect's own when the user set it
    (environment or profile), else ours."""
    from prefect.settings import get_current_settings

    ephemeral = get_current_settings().server.ephemeral
    if "startup_timeout_seconds" in ephemeral.model_fields_set:
        return int(ephemeral.startup_timeout_seconds), STARTUP_TIMEOUT_ENV
    return int(settings.prefect_startup_timeout_s), "TASTEMAKER_PREFECT_STARTUP_TIMEOUT_S"


def _start_temporary(timeout_s: int, source: str) -> str:
    """Start Prefect's temporary server (the instance its clients reuse); return its API URL."""
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    prefect_logger = logging.getLogger("prefect")
    level = prefect_logger.level
    prefect_logger.setLevel(logging.WARNING)  # we said it on one line already
    try:
        server.start(timeout=timeout_s)
    except Exception as exc:
        server.stop()
        log.debug("temporary Prefect API failed to start: %s", exc)
        raise PrefectApiUnavailable(
            f"Prefect's temporary API server did not answer within {timeout_s} s. The machine "
            f"may be busy: raise {source} (now {timeout_s}), or start a server once with "
            f"`tastemaker up` (later commands use it), or point PREFECT_API_URL at a running "
            f"Prefect server."
        ) from None
    finally:
        prefect_logger.setLevel(level)
    return server.api_url


@contextmanager
def prefect_api(
    settings: Settings, say: Callable[[str], None] | None = None
) -> Iterator[ApiChoice]:
    """Make sure this process has a Prefect API for the flows run inside the block.

    `say` receives the one line a person should see (which server, or that a temporary one is
    starting); None keeps quiet. Raises PrefectApiUnavailable instead of Prefect's traceback.
    """
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    configured = get_current_settings().api.url
    if configured:
        yield ApiChoice(url=str(configured), kind="configured")
        return
    stack_url = recorded_stack_url(settings)
    if stack_url:
        if say:
            say(f"using the Prefect server from `tastemaker up` at {stack_url}")
        with temporary_settings(updates={PREFECT_API_URL: stack_url}):
            yield ApiChoice(url=stack_url, kind="tastemaker up")
        return
    timeout_s, source = startup_timeout_s(settings)
    if say:
        say(
            "starting Prefect's temporary API server (up to a minute on a busy machine; "
            "`tastemaker up` keeps one running)..."
        )
    started = time.perf_counter()
    url = _start_temporary(timeout_s, source)
    elapsed = time.perf_counter() - started
    log.debug("temporary Prefect API at %s answered after %.1f s", url, elapsed)
    yield ApiChoice(url=url, kind="temporary", startup_s=round(elapsed, 1))
