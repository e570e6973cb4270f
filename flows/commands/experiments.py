"""Experiment commands: `experiments list [--json]` and `experiments readout [ID] [--json]`.

Both read dbt's experiment marts through `warehouse.experiments` as readers and compute the
readout in `ml.experiments` on the spot (a second or two per experiment); nothing is published.
Errors (no warehouse, marts not built, an unknown id, a busy warehouse) print one `error:` line
and exit 2. Module-level imports stay light (typer only).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flows.cli_support import JsonOpt
from flows.cli_support import emit_json as _emit_json
from flows.cli_support import fail as _fail
from flows.cli_support import fail_busy as _fail_busy
from flows.cli_support import load_settings as _settings

if TYPE_CHECKING:
    from ml.experiments import Readout


def _reading(call: Any, *args: Any) -> Any:
    """`call(settings, *args)`, with the known failures as one `error:` line."""
    from ml.experiments import ReadoutError
    from warehouse.db import MissingTable
    from warehouse.experiments import UnknownExperiment
    from warehouse.lock import WarehouseBusyError

    try:
        return call(_settings(), *args)
    except (MissingTable, UnknownExperiment, ReadoutError) as exc:
        _fail(str(exc.args[0]) if exc.args else str(exc))
    except WarehouseBusyError as exc:
        _fail_busy(exc)


def experiments_list(as_json: JsonOpt = False) -> None:
    """The experiments with exposures in the warehouse: variants, users, start and days."""
    from warehouse.experiments import list_experiments

    summaries = _reading(list_experiments)
    rows = [
        {
            "experiment_id": s.experiment_id,
            "variants": list(s.variants),
            "users": s.users,
            "multi_variant_users": s.multi_variant_users,
            "started_on": s.started_on.isoformat(),
            "days": s.days,
        }
        for s in summaries
    ]
    if as_json:
        _emit_json({"experiments": rows})
        return
    if not rows:
        typer.echo("no experiments in the warehouse")
        return
    typer.echo(f"{'experiment':<24} {'started':<10} {'days':>4}  users per variant")
    for r in rows:
        users = ", ".join(f"{v} {n:,}" for v, n in r["users"].items())
        multi = f" ({r['multi_variant_users']} in two variants)" if r["multi_variant_users"] else ""
        typer.echo(f"{r['experiment_id']:<24} {r['started_on']:<10} {r['days']:>4}  {users}{multi}")


def _json_number(x: Any) -> Any:
    return None if isinstance(x, float) and not math.isfinite(x) else x


def _as_dict(result: Readout) -> dict[str, Any]:
    table = result.table()
    rows = [
        {k: _json_number(v) for k, v in row.items()}
        for row in table.astype(object).where(table.notna(), None).to_dict("records")
    ]
    return {
        "experiment_id": result.experiment_id,
        "decision": result.decision.__dict__,
        "variant_decisions": [d.__dict__ for d in result.variant_decisions],
        "sample_ratio": {k: _json_number(v) for k, v in result.srm.__dict__.items()},
        "days_observed": result.days_observed,
        "correction": result.correction,
        "excluded_users": result.excluded_users,
        "flags": list(result.flags),
        "metrics": rows,
    }


def _pct(x: float | None) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:+.1%}"


def _print(result: Readout) -> None:
    d = result.decision
    srm = result.srm
    counts = ", ".join(f"{v} {n:,}" for v, n in srm.counts.items())
    typer.echo(f"{result.experiment_id}: {d.verdict.upper()}")
    typer.echo(f"  {d.reason}")
    typer.echo(
        f"  users: {counts}; sample ratio p = {srm.p_value:.3g}"
        + (" (MISMATCH)" if srm.flagged else "")
        + f"; {result.days_observed:g} days; p-values corrected by {result.correction}"
    )
    typer.echo(
        f"  {'metric':<14} {'variant':<10} {'control':>9} {'variant':>9} {'lift':>9} "
        f"{'95% CI':>21} {'rel':>7} {'p adj':>8} {'seq p':>7} {'cuped':>6}  guardrail"
    )
    for r in result.metrics:
        seq = r.sequential.last_p if r.sequential else float("nan")
        cuped = _pct(r.cuped_variance_reduction).lstrip("+")
        p_adj = "-" if math.isnan(r.p_adjusted) else f"{r.p_adjusted:.3g}"
        typer.echo(
            f"  {r.metric:<14} {r.variant:<10} {r.mean_control:>9.4g} {r.mean_variant:>9.4g} "
            f"{r.lift:>+9.4g} {f'[{r.ci_low:+.3g}, {r.ci_high:+.3g}]':>21} "
            f"{_pct(r.relative_lift):>7} {p_adj:>8} {seq:>7.3g} {cuped:>6}  {r.guardrail or ''}"
        )
    for flag in result.flags:
        typer.echo(f"  flag: {flag}")


def _readout(settings: Any, experiment_id: str) -> Readout:
    from ml.experiments import readout
    from ml.experiments.catalog import standard_spec
    from warehouse.experiments import load_experiment

    data = load_experiment(settings, experiment_id)
    spec = standard_spec(data.experiment_id, data.variants)
    return readout(data.frame, spec, looks=data.looks)


def experiments_readout(
    experiment_id: Annotated[
        str | None,
        typer.Argument(help="Experiment id (see `tastemaker experiments list`); all if omitted."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Read out experiments: lift with 95 % interval per metric and variant (CUPED, delta
    method for ratios), sample-ratio check, always-valid p over the daily looks, corrected
    p-values, the abandonment guardrail, and the decision with its reason."""
    from warehouse.experiments import list_experiments

    if experiment_id is None:
        ids = [s.experiment_id for s in _reading(list_experiments)]
    else:
        ids = [experiment_id]
    results = [_reading(_readout, i) for i in ids]
    if as_json:
        _emit_json({"readouts": [_as_dict(r) for r in results]})
        return
    if not results:
        typer.echo("no experiments in the warehouse")
    for i, result in enumerate(results):
        if i:
            typer.echo("")
        _print(result)


def register(app: typer.Typer) -> None:
    """Add the `experiments` group (`list`, `readout`) to the main CLI."""
    group = typer.Typer(help="A/B experiments: list them and read them out.", no_args_is_help=True)
    group.command("list")(experiments_list)
    group.command("readout")(experiments_readout)
    app.add_typer(group, name="experiments")
