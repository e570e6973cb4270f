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

import atexit
import ctypes
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

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
    """Where `tastemaker up` records the server it started (see flows.stack)."""
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


#: prctl(2) option: the signal the kernel sends this process when its parent dies.
PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """In a child between fork and exec: ask Linux to SIGTERM it when its parent dies.

    Prefect stops its temporary server at exit (atexit), which never runs when the parent is
    SIGKILLed (an out-of-memory kill, `kill -9`, a CI timeout): the server then lives on,
    holding ~300 MB and a port. The death signal is delivered by the kernel, so nothing in
    the parent has to run. If the parent died before this call, exit at once.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        return  # best effort: the atexit stop still covers a normal exit
    if os.getppid() != parent_pid:
        os._exit(1)


def parent_bound_popen(*args: Any, **kwargs: Any) -> subprocess.Popen[Any]:
    """`subprocess.Popen` whose child dies with this process (see :func:`die_with_parent`)."""
    if sys.platform.startswith("linux") and "preexec_fn" not in kwargs:
        kwargs["preexec_fn"] = partial(die_with_parent, os.getpid())
    return subprocess.Popen(*args, **kwargs)


def _parent_bound_server_class() -> type:
    """Prefect's temporary server, started so that it dies with this process.

    Prefect builds the server's command line itself (`_run_uvicorn_command`); rather than copy
    it, the subclass lets Prefect's code run with a `subprocess` whose Popen adds the death
    signal. The substitution is confined to Prefect's server module and to that one call.
    The death signal follows the *thread* that started the server, which is why
    `_start_temporary` runs in the command's main thread.
    """
    from prefect.server.api import server as server_module

    class ParentBoundServer(server_module.SubprocessASGIServer):
        def _run_uvicorn_command(self) -> subprocess.Popen[Any]:
            real = server_module.subprocess
            server_module.subprocess = SimpleNamespace(  # type: ignore[assignment]
                Popen=parent_bound_popen, TimeoutExpired=subprocess.TimeoutExpired
            )
            try:
                return super()._run_uvicorn_command()
            finally:
                server_module.subprocess = real

    return ParentBoundServer


@contextmanager
def one_start_at_a_time() -> Iterator[None]:
    """Hold `<PREFECT_HOME>/.tastemaker-server-start.lock` while a temporary server starts.

    A fresh PREFECT_HOME's first server creates and migrates its SQLite database. Two commands
    started together (a run and a drift report in two terminals; CI's two user-path steps) ran
    the same migrations at once, and one server died printing alembic's `No such constraint`
    traceback. The second start now waits for the first to answer (the kernel drops the lock if
    that process dies), then finds the database migrated."""
    from prefect.settings import get_current_settings

    home = Path(get_current_settings().home).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    with (home / ".tastemaker-server-start.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class TemporaryServerStart:
    """Prefect's temporary server, launched now and awaited later.

    The server is a separate process that needs 10-20 s to import and migrate on an idle
    2-core machine; the command meanwhile has its own imports and Prefect-free work to do.
    `launch` (in the command's main thread: the death signal follows the thread that started
    the child) starts the process and returns at once; `wait` polls its health check. The
    start-up lock (`one_start_at_a_time`) is held from launch until it answers.

    Prefect keeps one instance per port in a class-level registry; the subclass registers
    itself there under the same key, so Prefect's own `SubprocessASGIServer()` calls reuse it.
    """

    def __init__(self, timeout_s: int, source: str) -> None:
        self.timeout_s, self.source = timeout_s, source
        self.launched_at = time.perf_counter()
        self._server: Any = None
        self._lock: Any = None

    def launch(self) -> TemporaryServerStart:
        # The temporary server sends no usage telemetry unless the user asked for it: its
        # start-up writes a telemetry session row, which collided with a second command's
        # server on one fresh SQLite database ("database is locked" traceback).
        # PREFECT_SERVER_ANALYTICS_ENABLED, when set, wins.
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        self._lock = one_start_at_a_time()
        self._lock.__enter__()
        server = _parent_bound_server_class()()
        self._server = server
        self.launched_at = time.perf_counter()
        if not server.running:
            server.port = server.port or server.find_available_port()
            server.running = True
            server.server_process = server._run_uvicorn_command()
            atexit.register(server.stop)
        return self

    def _answers(self) -> bool:
        try:
            url = f"{self._server.api_url}/health"
            with urllib.request.urlopen(url, timeout=2.0) as resp:
                return resp.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError, OSError):
            return False

    def wait(self) -> str:
        """Block until the server answers (counting from the launch); return its API URL.

        Raises PrefectApiUnavailable, with the setting to raise, when it does not answer in
        time or its process dies."""
        server, code = self._server, None
        try:
            while time.perf_counter() - self.launched_at < self.timeout_s:
                code = server.server_process.poll() if server.server_process else None
                if code == 3:  # port taken meanwhile: Prefect's own recovery
                    server.port = server.find_available_port()
                    server.server_process = server._run_uvicorn_command()
                elif code is not None:
                    break
                if self._answers():
                    return server.api_url
                time.sleep(0.1)
            server.stop()
            log.debug("temporary Prefect API failed to start (exit %s)", code)
            raise PrefectApiUnavailable(
                f"Prefect's temporary API server did not answer within {self.timeout_s} s. "
                f"The machine may be busy: raise {self.source} (now {self.timeout_s}), or "
                f"start a server once with `tastemaker up` (later commands use it), or point "
                f"PREFECT_API_URL at a running Prefect server."
            ) from None
        finally:
            if self._lock is not None:
                self._lock.__exit__(None, None, None)
                self._lock = None


def _start_temporary(timeout_s: int, source: str) -> str:
    """Start Prefect's temporary server and wait for it; return its API URL."""
    return TemporaryServerStart(timeout_s, source).launch().wait()


class ApiStart:
    """Which Prefect API a command's flows will use, decided (and a temporary server launched)
    as early as possible; `ready()` then waits for it around the flow runs.

    The `run` command makes one before importing the platform's flows and models (about 10 s
    of imports on an idle machine), so the server's start overlaps them instead of following.
    """

    def __init__(self, settings: Settings, say: Callable[[str], None] | None = None) -> None:
        from prefect.settings import get_current_settings

        self.stack_url: str | None = None
        self.pending: TemporaryServerStart | None = None
        configured = get_current_settings().api.url
        self.configured = str(configured) if configured else None
        if self.configured:
            return
        self.stack_url = recorded_stack_url(settings)
        if self.stack_url:
            if say:
                say(f"using the Prefect server from `tastemaker up` at {self.stack_url}")
            return
        timeout_s, source = startup_timeout_s(settings)
        if say:
            say(
                "starting Prefect's temporary API server (up to a minute on a busy machine; "
                "`tastemaker up` keeps one running)..."
            )
        prefect_logger = logging.getLogger("prefect")
        level = prefect_logger.level
        prefect_logger.setLevel(logging.WARNING)  # we said it on one line already
        try:
            self.pending = TemporaryServerStart(timeout_s, source).launch()
        finally:
            prefect_logger.setLevel(level)

    @contextmanager
    def ready(self) -> Iterator[ApiChoice]:
        """Wait for the API (if it is still starting) and use it inside the block."""
        from prefect.settings import PREFECT_API_URL, temporary_settings

        if self.configured:
            yield ApiChoice(url=self.configured, kind="configured")
            return
        if self.stack_url:
            with temporary_settings(updates={PREFECT_API_URL: self.stack_url}):
                yield ApiChoice(url=self.stack_url, kind="tastemaker up")
            return
        assert self.pending is not None
        url = self.pending.wait()
        elapsed = time.perf_counter() - self.pending.launched_at
        log.debug("temporary Prefect API at %s answered %.1f s after launch", url, elapsed)
        yield ApiChoice(url=url, kind="temporary", startup_s=round(elapsed, 1))


@contextmanager
def prefect_api(
    settings: Settings, say: Callable[[str], None] | None = None
) -> Iterator[ApiChoice]:
    """Make sure this process has a Prefect API for the flows run inside the block.

    `say` receives the one line a person should see (which server, or that a temporary one is
    starting); None keeps quiet. Raises PrefectApiUnavailable instead of Prefect's traceback.
    """
    with ApiStart(settings, say).ready() as choice:
        yield choice
