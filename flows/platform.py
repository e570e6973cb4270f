"""The parent flow: the whole platform once, and the micro-batch refresh.

    generate (embedded default, only when landing is empty)
      → ingest (child flow) → transform / dbt build (child flow) → mart counts
      → recommend (child flow: fit, gate, homepages → ml.recommendations), in a task beside
        audience (child flow: segments, churn scores, re-engagement → ml.*)
      → monitor (child flow: drift report → reports/, mail → outbox/SMTP)
      → summary artifact

Order matters where one stage reads another's output: audience's content teasers read
ml.recommendations (its re-engagement step waits for the recommender, `flows.stage_order`), and
monitor reads ml.churn_scores, ml.recommendations and both champions' training windows (it
starts after both). A failed model stage does not stop the later ones (the drift report
still goes out when, say, the recommender fails); the platform run fails at the end, naming the
failed stages, so the Prefect UI shows it. Each stage takes the warehouse lock itself, only
around its own reads and writes (so the two stages side by side take turns). Keep this module
thin: each stage's logic lives in ml/ or monitoring/.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any, Literal

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from pydantic import BaseModel, Field

from flows import progress, stage_order
from flows.artifacts.platform import platform_markdown
from flows.audience import AudienceParams, audience_flow
from flows.ingest import ingest_flow
from flows.monitor import MonitorParams, monitor_flow
from flows.params import TransformParams, WorldParams
from flows.recommend import RecommendParams, recommend_flow
from flows.transform import transform_flow
from ml.world.config import WorldConfig
from warehouse.db import CORE_MARTS, row_counts
from warehouse.settings import get_settings

#: The model and monitoring stages after the dbt build, in the order they run.
STAGES = ("recommend", "audience", "monitor")

#: What each stage does, in a few words for the progress display.
STAGE_WHAT = {
    "generate": "synthetic world",
    "ingest": "landing files → raw",
    "transform": "dbt build",
    "recommend": "homepages",
    "audience": "segments, churn, re-engagement",
    "monitor": "drift report and mail",
}


class PlatformStageError(RuntimeError):
    """One or more stages after the dbt build failed (the others still ran).

    Carries the run's full result so the CLI can still print what did complete.
    """

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result


class PlatformParams(BaseModel):
    """Parameters of a full platform run (shown as a form in the Prefect UI)."""

    generate_if_empty: bool = Field(
        default=True,
        description="Generate a synthetic world when the landing folder has no files.",
    )
    world: WorldParams = Field(default_factory=WorldParams)
    transform: TransformParams = Field(default_factory=TransformParams)
    stages: list[Literal["recommend", "audience", "monitor"]] = Field(
        default_factory=lambda: list(STAGES),
        description="Stages to run after the dbt build (always in platform order).",
    )
    recommend: RecommendParams = Field(default_factory=RecommendParams)
    audience: AudienceParams = Field(default_factory=AudienceParams)
    monitor: MonitorParams = Field(default_factory=MonitorParams)


def landing_is_empty(landing: Path) -> bool:
    return not landing.exists() or not any(p.is_file() for p in landing.rglob("*"))


@task(cache_policy=NO_CACHE)
def generate_world_task(world: WorldConfig, home: Path) -> dict:
    """Write a synthetic world (landing files + truth) into the Tastemaker home."""
    from ml.world import generate_world

    return generate_world(world, out=home, progress=False).to_dict()


@task(cache_policy=NO_CACHE)
def count_marts(db_path: Path) -> dict[str, int]:
    """Row count of each core mart (what the next stages will read)."""
    return row_counts(db_path, CORE_MARTS)


def run_stage(name: str, child: Any, params: BaseModel) -> dict[str, Any]:
    """Run one child flow; a failure is recorded (and logged), not raised, so later stages run."""
    logger = get_run_logger()
    started = time.perf_counter()
    progress.current().begin(name, STAGE_WHAT.get(name, ""))
    state = child(params, return_state=True)
    seconds = round(time.perf_counter() - started, 1)
    progress.current().end(name, ok=state.is_completed())
    if state.is_completed():
        return {"status": "completed", "seconds": seconds, "result": state.result()}
    error = state.message or state.name
    try:
        state.result()
    except Exception as exc:  # the child's own exception says more than the state message
        error = f"{type(exc).__name__}: {exc}"
    logger.error("stage %s failed after %.1f s: %s", name, seconds, error)
    return {"status": "failed", "seconds": seconds, "error": error}


#: Each stage's child flow.
CHILDREN = {"recommend": recommend_flow, "audience": audience_flow, "monitor": monitor_flow}


@task(cache_policy=NO_CACHE, task_run_name="{name} (beside audience)")
def side_stage(name: str, params: BaseModel) -> dict[str, Any]:
    """Run one stage's child flow in a worker thread, beside the stage in the flow's thread."""
    try:
        return run_stage(name, CHILDREN[name], params)
    finally:
        stage_order.finished(name)


def run_stages(params: PlatformParams) -> dict[str, dict[str, Any]]:
    """The stages after the dbt build, in platform order, with the recommender beside audience.

    Both read only the marts, and each fit uses one OpenMP thread, so on two cores the
    recommender's ~10 s hide under the audience stage. What depends on them waits: the
    re-engagement step (its teasers read ml.recommendations) through `stage_order`, the monitor
    (it reads both stages' outputs and champions) by starting after both. A failed stage still
    does not stop the others."""
    wanted = [name for name in STAGES if name in params.stages]
    side = None
    if "recommend" in wanted and "audience" in wanted:
        stage_order.announce("recommend")
        try:
            side = side_stage.submit("recommend", params.recommend)
        except BaseException:
            stage_order.finished("recommend")
            raise
    stages: dict[str, dict[str, Any]] = {}
    for name in wanted:
        if name == "recommend" and side is not None:
            continue
        if name == "monitor" and side is not None:
            stages["recommend"] = side.result()
        stages[name] = run_stage(name, CHILDREN[name], getattr(params, name))
    if side is not None and "recommend" not in stages:
        stages["recommend"] = side.result()
    return {name: stages[name] for name in wanted}


@flow(name="platform", log_prints=True)
def platform_flow(params: PlatformParams | None = None) -> dict[str, Any]:
    """Run the whole platform once on the configured home (the embedded default by default)."""
    started = time.perf_counter()
    params = params or PlatformParams()
    settings = get_settings()
    logger = get_run_logger()
    home = settings.home_dir
    home.mkdir(parents=True, exist_ok=True)

    world: dict | None = None
    if landing_is_empty(settings.landing_path):
        if not params.generate_if_empty:
            raise FileNotFoundError(f"no landing files in {settings.landing_path}")
        if settings.landing_path != home / "landing":
            raise FileNotFoundError(
                f"no landing files in {settings.landing_path}; a synthetic world is only "
                f"generated into the default landing folder {home / 'landing'}"
            )
        logger.info("Landing folder is empty: generating a synthetic world in %s", home)
        with progress.stage("generate", STAGE_WHAT["generate"]):
            world = generate_world_task(params.world.config(settings.world), home)

    with progress.stage("ingest", STAGE_WHAT["ingest"]):
        ingest = ingest_flow(str(settings.landing_path))
    with progress.stage("transform", STAGE_WHAT["transform"]):
        dbt = transform_flow(params.transform)
    marts = count_marts(settings.warehouse_path)
    stages = run_stages(params)

    result: dict[str, Any] = {
        "home": str(home),
        "warehouse": str(settings.warehouse_path),
        "flow_run_id": str(flow_run.get_id() or ""),
        "generated_world": world,
        "ingest": ingest,
        "dbt": dbt,
        "marts": marts,
        "stages": stages,
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - started, 1),
    }
    create_markdown_artifact(
        key="tastemaker-platform-run", markdown=platform_markdown(result), description="summary"
    )
    failed = [name for name, info in stages.items() if info["status"] != "completed"]
    if failed:
        details = "; ".join(f"{name}: {stages[name]['error']}" for name in failed)
        raise PlatformStageError(f"stage(s) failed after the dbt build: {details}", result)
    return result


@flow(name="refresh", log_prints=True)
def refresh_flow(transform: TransformParams | None = None) -> dict[str, Any]:
    """Micro-batch: ingest whatever landed since the last run, then rebuild the marts.

    Without parameters the build is skipped when nothing changed since the last successful
    full build (`TransformParams.skip_unchanged`): an idle refresh then costs the ingest scan,
    not a minute and a half of dbt holding the writer lock. Pass `skip_unchanged: false` to
    force a build.
    """
    started = time.perf_counter()
    settings = get_settings()
    ingest = ingest_flow(str(settings.landing_path))
    dbt = transform_flow(transform or TransformParams(skip_unchanged=True))
    return {
        "ingest": ingest,
        "dbt": dbt,
        "marts": count_marts(settings.warehouse_path),
        "duration_s": round(time.perf_counter() - started, 1),
    }
