"""`tastemaker`: the command line.

Each command is a thin shell over a flow or a library call: it turns options into parameters,
runs, and prints either a readable summary or (`--json`) one JSON object on stdout. Logs go to
stderr, so `--json` output can be piped. Known failures (bad input, a busy warehouse, failing dbt
tests) print one `error:` line and exit non-zero instead of a traceback.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from flows.cli_support import (
    CLI_SOURCES,
    EXIT_FAILED,
    JsonOpt,
    err,
    hide_flag_types,
    reflow_help,
    rows_table,
    stdout_console,
)
from flows.cli_support import emit_json as _emit_json
from flows.cli_support import fail as _fail
from flows.cli_support import load_settings as _settings
from flows.cli_support import warn_unknown_settings as _warn_unknown_settings
from flows.display import RunFormatter, reporter_for
from ml.world.config import WorldConfig
from warehouse.settings import setting_names

hide_flag_types()

app = typer.Typer(
    name="tastemaker",
    help="Tastemaker: Prefect flows, dbt marts on DuckDB and models for a streaming service.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = stdout_console()  # never cut at 80 columns when piped


@app.callback()
def main_options(
    home: Annotated[
        Path | None,
        typer.Option(
            "--home", help="Tastemaker home folder (overrides TASTEMAKER_HOME).", show_default=False
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Options that apply to every command."""
    CLI_SOURCES.clear()
    if home is not None:
        os.environ["TASTEMAKER_HOME"] = str(home)
        CLI_SOURCES["home"] = "option --home"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RunFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # Prefect's run loggers propagate INFO records to the root handlers whatever the root
    # level says; the handler's own level is what keeps the console quiet.
    handler.setLevel(logging.DEBUG if verbose else logging.WARNING)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, handlers=[handler], force=True
    )
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    if not verbose:
        # Flow and task lines still reach the Prefect UI (its API handler); the console gets
        # the progress display instead of a line per task.
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    # Every Prefect API call is an httpx request; at INFO they drown the run's own log.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
    _warn_unknown_settings()


def _settle_events(timeout_s: float = 10.0) -> None:
    """Let the last task-state events reach the API before the process (and, without
    PREFECT_API_URL, the temporary server) shuts down; otherwise the server's recorder is
    cancelled mid-flush and prints a traceback although the run succeeded."""
    import time

    from prefect.events.worker import EventsWorker

    try:
        EventsWorker.drain_all(timeout=timeout_s)
    except Exception as exc:  # best effort: the run's result is already known
        logging.getLogger(__name__).debug("draining Prefect events failed: %s", exc)
    time.sleep(1.0)  # the server-side recorder flushes on a short interval


def _say(line: str) -> None:
    """A dim notice on stderr (which Prefect API, that a temporary one is starting)."""
    err.print(f"[dim]{line}[/]", highlight=False, soft_wrap=True)


def _start_api() -> Any:
    """Decide which Prefect API this command uses and launch a temporary server now, so its
    start overlaps the imports and checks that follow (`_run_flow` waits for it)."""
    from flows.prefect_api import ApiStart

    return ApiStart(_settings(), say=_say)


def _work_ahead(settings: Any) -> None:
    """In a thread while the temporary API server starts (this process would otherwise wait for
    it): parse the dbt project, so the transform stage starts from that parse, then import
    Evidently, which the monitor stage otherwise imports on its first report (several seconds).
    Both are best effort: whatever fails here happens again, and is reported, where it is used."""
    import threading

    from warehouse.dbtrun import parse_ahead

    def work() -> None:
        parse_ahead(settings)
        try:
            import evidently.presets  # noqa: F401
        except Exception as exc:
            logging.getLogger(__name__).debug("importing Evidently ahead failed: %s", exc)

    threading.Thread(target=work, name="work-ahead", daemon=True).start()


def _run_flow(flow_fn, *args: Any, stage: str | None = None, api: Any = None) -> Any:
    """Run a flow with a progress display on stderr, and turn its known failure modes into
    one-line errors. `stage` names the flow in the display when the flow itself does not report
    stages (the platform flow does); `api` is an `ApiStart` begun earlier (else one starts
    here)."""
    from flows import progress
    from flows.platform import PlatformStageError
    from flows.prefect_api import PrefectApiUnavailable
    from flows.transform import DbtBuildError
    from warehouse.lock import WarehouseBusyError

    try:
        with (
            (api or _start_api()).ready(),
            reporter_for(err) as display,
            progress.reporting(display),
        ):
            if stage:
                progress.current().begin(stage)
            state = flow_fn(*args, return_state=True)
            if stage:
                progress.current().end(stage, ok=not state.is_failed())
            _settle_events()
    except PrefectApiUnavailable as exc:
        _fail(str(exc), EXIT_FAILED)
    result = state.result(raise_on_failure=False)
    if not state.is_failed():
        return result
    if isinstance(result, DbtBuildError):
        return result
    if isinstance(result, PlatformStageError):
        return result
    if isinstance(result, WarehouseBusyError | FileNotFoundError | ValueError):
        _fail(str(result), EXIT_FAILED)
    _fail(f"{flow_fn.name} flow failed: {state.message or result}", EXIT_FAILED)


def _print_table(title: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        out.print(f"{title}: nothing")
        return
    out.print(rows_table(title, rows))


def _print_ingest(result: dict[str, Any]) -> None:
    _print_table("ingest", [{"table": k, **v} for k, v in result["tables"].items()])
    readmitted = result.get("readmitted") or {}
    if readmitted:
        _print_table(
            "re-admitted from quarantine (loaded = re-admitted, quarantined = still held)",
            [{"table": k, **v} for k, v in readmitted.items()],
        )
    if result.get("waiting"):
        err.print(
            f"{result['waiting']} quarantined row(s) wait for a user or title that has not "
            "landed yet; they load when it does (or retry: tastemaker ingest --retry-quarantine)",
            highlight=False,
            soft_wrap=True,
        )
    for rejected in result["rejected"]:
        err.print(
            f"[red]rejected[/] {rejected['file']}: {rejected['reason']}",
            highlight=False,
            soft_wrap=True,
        )


def _print_dbt(dbt: dict[str, Any]) -> None:
    out.print(
        f"dbt build: {dbt['passed']} passed, {dbt['failed']} failed, {dbt['warned']} warned, "
        f"{dbt['skipped']} skipped in {dbt['elapsed_s']} s"
    )
    for failure in dbt.get("failures", []):
        err.print(f"[red]{failure['status']}[/] {failure['unique_id']}: {failure['message']}")


def _stage_headline(name: str, result: dict[str, Any]) -> str:
    """One line per stage: the figure a user looks for first, and where the output went."""
    if name == "recommend":
        metrics = result.get("metrics") or {}
        ndcg = metrics.get("ndcg_at_10")
        return f"nDCG@10 {ndcg:.3f}" if isinstance(ndcg, float) else ""
    if name == "audience":
        seg, churn = result.get("segments") or {}, result.get("churn") or {}
        parts = []
        if "k" in seg:
            parts.append(f"{seg['k']} segments")
        if churn.get("skipped"):
            parts.append("churn skipped (not enough history)")
        elif isinstance((churn.get("metrics") or {}).get("roc_auc"), float):
            parts.append(f"churn ROC-AUC {churn['metrics']['roc_auc']:.3f}")
        reengagement = churn.get("reengagement") or {}
        actions = reengagement.get("actions")
        if actions:
            parts.append("actions " + ", ".join(f"{k} {v}" for k, v in sorted(actions.items())))
        verdict = (reengagement.get("evaluation") or {}).get("verdict_nobody")
        if verdict:
            parts.append(f"policy vs nudging nobody: {verdict}")
        return "; ".join(parts)
    if name == "monitor":
        drift = result.get("drift") or {}
        mail = result.get("mail_note") or f"mail {result.get('mail') or 'not needed'}"
        return f"drift {drift.get('status', '?')}; {mail}"
    return ""


def _print_stages(stages: dict[str, Any]) -> None:
    rows = []
    for name, info in stages.items():
        detail = info.get("error") or _stage_headline(name, info.get("result") or {})
        rows.append(
            {"stage": name, "status": info["status"], "s": info["seconds"], "detail": detail}
        )
    _print_table("stages", rows)


def world_line(world: dict[str, Any]) -> str:
    """A generated world in one readable line (not the summary dict)."""
    config, rows = world.get("config") or {}, world.get("rows") or {}
    shape = (
        f"{config.get('users', '?'):,} users, {config.get('titles', '?'):,} titles, "
        f"{config.get('days', '?')} days from {config.get('start_date', '?')}, "
        f"seed {config.get('seed', '?')}" + (", drift planted" if config.get("drift") else "")
    )
    counts = ", ".join(f"{n:,} {entity.replace('_', '-')}" for entity, n in rows.items())
    return f"generated a synthetic world ({shape}): {counts}"


def _print_run_summary(result: dict[str, Any]) -> None:
    """What a run did, in about 20 lines: the progress display already showed each stage."""
    if result["generated_world"]:
        out.print(world_line(result["generated_world"]), highlight=False)
    ingest = result["ingest"]
    tables = ingest["tables"].values()
    quarantined = sum(t["quarantined"] for t in tables)
    out.print(
        f"ingest: {sum(t['loaded'] for t in tables):,} rows loaded from "
        f"{sum(t['files'] for t in tables):,} files, {quarantined:,} quarantined, "
        f"{len(ingest['rejected'])} files rejected",
        highlight=False,
    )
    if quarantined or ingest["rejected"]:
        _print_ingest(ingest)
    dbt = result["dbt"]
    if "build_skipped" in dbt:
        out.print(f"dbt: {dbt['build_skipped']}", highlight=False)
    else:
        _print_dbt(dbt)
    marts = " · ".join(f"{name} {rows:,}" for name, rows in result["marts"].items())
    out.print(f"marts (rows): {marts}", highlight=False)
    _print_stages(result["stages"])
    out.print(
        f"done in {result['duration_s']} s; warehouse {result['warehouse']}\n"
        "next: tastemaker recommend u000001 · tastemaker segments · tastemaker churn · "
        "tastemaker drift",
        highlight=False,
    )


#: Help of the world options: an option left out takes the setting, whose default is
#: ml.world.WorldConfig's (read here, never repeated).
_WORLD_WHAT = {
    "users": "Users in a generated world",
    "titles": "Titles in a generated world",
    "days": "Days in a generated world",
    "seed": "Seed of a generated world",
    "drift": "Plant drift (device mix, genre tastes) late in a generated world",
}
WORLD_HELP = {
    name: f"{what} (default: {setting_names()['world.' + name]}, "
    f"{str(getattr(WorldConfig(), name)).lower()})."
    for name, what in _WORLD_WHAT.items()
}


def _world_params(settings: Any, **given: Any) -> Any:
    """The world options as flow parameters, checked against the settings' world up front, so a
    bad size fails here with one line instead of inside a flow run."""
    from flows.params import WorldParams

    try:
        params = WorldParams(**given)
        params.config(settings.world)
    except ValidationError as exc:
        first = exc.errors()[0]
        _fail(f"invalid world: {first['loc'][-1]}: {first['msg']}")
    except ValueError as exc:
        _fail(str(exc))
    return params


@app.command()
def run(
    users: Annotated[int | None, typer.Option(help=WORLD_HELP["users"])] = None,
    titles: Annotated[int | None, typer.Option(help=WORLD_HELP["titles"])] = None,
    days: Annotated[int | None, typer.Option(help=WORLD_HELP["days"])] = None,
    seed: Annotated[int | None, typer.Option(help=WORLD_HELP["seed"])] = None,
    drift: Annotated[bool | None, typer.Option(help=WORLD_HELP["drift"])] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the whole platform once: generate (if landing is empty), ingest, dbt build, then
    train and publish recommendations, segments, churn scores and re-engagement actions, and
    run the drift report (mailed per the mail policy)."""
    settings = _settings()
    world = _world_params(settings, users=users, titles=titles, days=days, seed=seed, drift=drift)
    if not as_json:
        err.print(f"Tastemaker home: {settings.home_dir}")
    api = _start_api()  # the server starts while the platform's flows and models import
    _work_ahead(settings)
    from flows.platform import PlatformParams, PlatformStageError, platform_flow
    from flows.transform import DbtBuildError

    params = PlatformParams(world=world)
    result = _run_flow(platform_flow, params, api=api)
    if isinstance(result, DbtBuildError):
        if as_json:
            _emit_json({"home": str(settings.home_dir), "dbt": result.summary.to_dict()})
        else:
            _print_dbt(result.summary.to_dict())
        _fail(str(result), EXIT_FAILED)
    stage_error = None
    if isinstance(result, PlatformStageError):
        stage_error, result = result, result.result
    if as_json:
        _emit_json(result)
    else:
        _print_run_summary(result)
    if stage_error is not None:
        _fail(str(stage_error), EXIT_FAILED)
    if result["ingest"]["rejected"]:
        _fail(f"{len(result['ingest']['rejected'])} landing file(s) were rejected", EXIT_FAILED)


@app.command()
def generate(
    users: Annotated[int | None, typer.Option(help=WORLD_HELP["users"])] = None,
    titles: Annotated[int | None, typer.Option(help=WORLD_HELP["titles"])] = None,
    days: Annotated[int | None, typer.Option(help=WORLD_HELP["days"])] = None,
    seed: Annotated[int | None, typer.Option(help=WORLD_HELP["seed"])] = None,
    drift: Annotated[bool | None, typer.Option(help=WORLD_HELP["drift"])] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder (gets landing/ and truth/). Default: the home."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace an existing world's landing/ and truth/.")
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Write a synthetic streaming world: landing files in the data contract, plus its truth."""
    from ml.world import generate_world

    settings = _settings()
    target = out_dir or settings.home_dir
    world = _world_params(settings, users=users, titles=titles, days=days, seed=seed, drift=drift)
    try:
        config = world.config(settings.world)
        summary = generate_world(
            config, out=target, progress=progress and not as_json, overwrite=overwrite
        )
    except (ValueError, FileExistsError) as exc:
        _fail(str(exc))
    if as_json:
        _emit_json(summary.to_dict())
    else:
        data = summary.to_dict()
        _print_table("generated", [{"entity": k, "rows": v} for k, v in data["rows"].items()])
        out.print(f"landing files in {target / 'landing'}, truth in {target / 'truth'}")


@app.command()
def ingest(
    path: Annotated[
        Path | None,
        typer.Argument(help="Landing root, entity folder or file. Default: the landing folder."),
    ] = None,
    retry_quarantine: Annotated[
        bool,
        typer.Option(
            help="Also retry every quarantined row waiting for a user or title, even when no "
            "new user or title lands (they are retried anyway when one does)."
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Load landing files into the warehouse's `raw` schema (idempotent; bad rows quarantined)."""
    settings = _settings()
    target = (path or settings.landing_path).expanduser().resolve()
    if not target.exists():
        _fail(f"{target}: no such file or folder")
    from flows.ingest import ingest_flow

    result = _run_flow(ingest_flow, str(target), retry_quarantine, stage="ingest")
    if as_json:
        _emit_json(result)
    else:
        _print_ingest(result)
    if result["rejected"]:
        _fail(f"{len(result['rejected'])} file(s) rejected", EXIT_FAILED)


@app.command()
def transform(
    select: Annotated[str | None, typer.Option(help="dbt selector, e.g. +user_features.")] = None,
    full_refresh: Annotated[bool, typer.Option(help="Rebuild incremental models.")] = False,
    snapshot_date: Annotated[
        str | None, typer.Option(help="As-of date (YYYY-MM-DD) for feature marts.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Build and test the dbt project against the warehouse (`dbt build`)."""
    _settings()
    from flows.params import TransformParams
    from flows.transform import DbtBuildError, transform_flow

    try:
        params = TransformParams(
            select=select, full_refresh=full_refresh, snapshot_date=snapshot_date
        )
    except ValidationError as exc:
        _fail(f"--snapshot-date: {exc.errors()[0]['msg']}")
    result = _run_flow(transform_flow, params, stage="transform")
    failed = isinstance(result, DbtBuildError)
    data = result.summary.to_dict() if failed else result
    if as_json:
        _emit_json(data)
    else:
        _print_dbt(data)
    if failed:
        _fail(str(result), EXIT_FAILED)


@app.command()
def up(
    port: Annotated[int, typer.Option(help="Port for the Prefect server and UI.")] = 4200,
    worker: Annotated[bool, typer.Option(help="Also start a process worker.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Start a local Prefect server and worker, and register the deployments in prefect.yaml."""
    settings = _settings()
    import time

    from flows.stack import DeployError
    from flows.stack import up as start_stack

    started = time.monotonic()

    def progress(step: str) -> None:
        """Each step on stderr as it happens (a busy machine takes minutes, not seconds)."""
        if not as_json:
            err.print(
                f"[{time.monotonic() - started:>4.0f} s] {step}", highlight=False, soft_wrap=True
            )

    try:
        stack = start_stack(settings, port=port, worker=worker, progress=progress)
    except DeployError as exc:
        _fail(str(exc), EXIT_FAILED)
    if as_json:
        _emit_json(stack.to_dict())
        return
    out.print(
        f"Prefect UI: {stack.ui_url}\nAPI: {stack.api_url}  (export PREFECT_API_URL to use it)"
    )
    out.print("deployments: " + ", ".join(stack.deployments))
    out.print(f"logs and pids in {stack.state_dir}; stop with `tastemaker down`")


@app.command()
def down() -> None:
    """Stop the server and worker that `tastemaker up` started."""
    from flows.stack import down as stop_stack

    stopped = stop_stack(_settings())
    out.print(f"stopped {len(stopped)} process(es)" if stopped else "nothing was running")


@app.command()
def config(as_json: JsonOpt = False) -> None:
    """Show the settings in force (secrets masked) and where each came from.

    The source column says `default`, `env TASTEMAKER_X`, `file <config path>` or `option
    --home`; the derived paths name the setting they follow. With --json: {"settings": {name:
    value}, "sources": {name: source}}."""
    from flows.cli_support import rows_table, stdout_console
    from warehouse.settings import setting_sources

    settings = _settings()
    data = settings.public_dict()
    sources = setting_sources(settings, overrides=CLI_SOURCES)
    if as_json:
        _emit_json({"settings": data, "sources": {k: sources.get(k) for k in data}})
    else:
        # piped or redirected: the table's natural width, never values cut at 80 columns
        stdout_console().print(
            rows_table(
                "settings",
                [{"name": k, "value": v, "source": sources.get(k, "")} for k, v in data.items()],
            )
        )


def _register_command_groups() -> None:
    from flows.commands import register_all

    register_all(app)


_register_command_groups()
reflow_help(app)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
