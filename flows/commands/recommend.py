"""Recommendation commands: `datasets`, `evaluate recommender`, `similar`, `recommend`,
`train recommender`.

Module-level imports stay light (typer only) so `tastemaker --help` is fast; pandas, Surprise
and scikit-learn are imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.cli_support import EXIT_FAILED, JsonOpt
from flows.cli_support import emit_json as _emit_json
from flows.cli_support import fail as _fail
from flows.cli_support import fail_busy as _fail_busy
from flows.cli_support import load_settings as _settings


def _group(app: typer.Typer, name: str, help_text: str) -> typer.Typer:
    """The sub-app `name`, reusing one another area registered first (e.g. `evaluate`)."""
    for info in app.registered_groups:
        if info.name == name and info.typer_instance is not None:
            return info.typer_instance
    group = typer.Typer(help=help_text, no_args_is_help=True)
    app.add_typer(group, name=name)
    return group


# --- datasets -------------------------------------------------------------------------------


def datasets_list(as_json: JsonOpt = False) -> None:
    """List the known public data sets and whether their files are present."""
    from ml.datasets.registry import DATASETS

    data_dir = _settings().resolved_data_dir
    rows = []
    for spec in DATASETS.values():
        present = [
            f.name
            for f in spec.files
            if data_dir is not None and (spec.path(data_dir) / f.name).is_file()
        ]
        rows.append(
            {
                "name": spec.name,
                "folder": str(spec.path(data_dir)) if data_dir else None,
                "files_present": present,
                "files_missing": [f.name for f in spec.files if f.name not in present],
                "url": spec.url,
            }
        )
    if as_json:
        _emit_json({"data_dir": str(data_dir) if data_dir else None, "datasets": rows})
        return
    typer.echo(f"data dir: {data_dir or '(none: set TASTEMAKER_DATA_DIR)'}")
    for row in rows:
        missing = ", ".join(row["files_missing"]) or "-"
        typer.echo(f"  {row['name']:<24} present: {len(row['files_present'])}  missing: {missing}")


def datasets_fetch(
    name: Annotated[str, typer.Argument(help="movielens-100k | movielens-1m | ...")],
    url: Annotated[
        str | None, typer.Option(help="Download from this URL instead of the publisher's.")
    ] = None,
    dest: Annotated[
        Path | None, typer.Option(help="Data folder (default: TASTEMAKER_DATA_DIR).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Download even if valid files exist.")] = False,
    timeout: Annotated[float, typer.Option(help="Download timeout, seconds.")] = 60.0,
    as_json: JsonOpt = False,
) -> None:
    """Download a data set from its publisher, verify every file's checksum, then install it."""
    from urllib.error import URLError

    from ml.datasets.fetch import fetch_dataset
    from ml.datasets.registry import ChecksumMismatch

    data_dir = dest or _settings().resolved_data_dir
    if data_dir is None:
        _fail("no data folder: set TASTEMAKER_DATA_DIR or pass --dest")
    try:
        result = fetch_dataset(name, data_dir, url=url, timeout_s=timeout, force=force)
    except KeyError as exc:
        _fail(str(exc.args[0]))
    except ChecksumMismatch as exc:
        _fail(f"checksum mismatch, nothing installed: {exc}", EXIT_FAILED)
    except (URLError, OSError, ValueError) as exc:
        _fail(f"could not fetch {name}: {exc}", EXIT_FAILED)
    payload = {
        "dataset": result.name,
        "folder": str(result.folder),
        "url": result.url,
        "files": list(result.files),
        "already_present": result.already_present,
    }
    if as_json:
        _emit_json(payload)
    elif result.already_present:
        typer.echo(f"{result.name}: already present and verified in {result.folder}")
    else:
        typer.echo(f"{result.name}: {len(result.files)} files verified into {result.folder}")


# --- evaluate recommender ---------------------------------------------------------------

EVAL_DATASETS = ("movielens-100k", "movielens-latest-small", "movielens-1m", "synthetic")
SHOWN = ("ndcg_at_k", "map_at_k", "precision_at_k", "recall_at_k", "coverage", "novelty", "arp")


def evaluate_recommender(
    dataset: Annotated[
        str,
        typer.Option(
            help="movielens-100k | movielens-latest-small | movielens-1m | synthetic (the "
            "configured home's warehouse, temporal split)"
        ),
    ] = "movielens-100k",
    protocol: Annotated[str, typer.Option(help="all | ranking | rating")] = "all",
    k: Annotated[int, typer.Option(help="List length for the ranking metrics.")] = 10,
    split_by: Annotated[
        str, typer.Option(help="Stratify the 75/25 split per user (default) or per item.")
    ] = "user",
    models: Annotated[
        str | None, typer.Option(help="Comma-separated subset of model names.")
    ] = None,
    seeds: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Ranking protocol: this many split seeds 42, 43, ... reported as mean ± sd "
            "(default: ml.recommend.evaluate.DEFAULT_SPLIT_SEEDS, 5); 1 = seed 42 alone.",
        ),
    ] = None,
    holdout_days: Annotated[
        int, typer.Option(min=1, help="synthetic: the last N days of history are the test period.")
    ] = 28,
    cut: Annotated[
        str | None,
        typer.Option(help="synthetic: test period start YYYY-MM-DD (instead of --holdout-days)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Offline evaluation: ranking (MS Recommenders protocol) and rating (Surprise 5-fold) on
    MovieLens; on `synthetic`, Top Picks vs popularity and random on a temporal split of the
    configured home's warehouse (train before a cut date, test after)."""
    if dataset not in EVAL_DATASETS:
        _fail(f"unknown data set {dataset!r}; choose from {', '.join(EVAL_DATASETS)}")
    if dataset == "synthetic":
        result = _evaluate_synthetic(k, holdout_days, models, cut)
        _print_evaluation(dataset, result, as_json)
        return
    if protocol not in ("all", "ranking", "rating"):
        _fail("--protocol must be all, ranking or rating")
    if split_by not in ("user", "item"):
        _fail("--split-by must be user or item")
    from ml.datasets import DatasetNotFound
    from ml.recommend.evaluate import evaluate_movielens, split_seeds

    chosen = [m.strip() for m in models.split(",")] if models else None
    try:
        result = evaluate_movielens(
            dataset,
            _settings().resolved_data_dir,
            protocol=protocol,
            k=k,
            seeds=split_seeds() if seeds is None else split_seeds(seeds),
            split_by=split_by,
            rating_models=chosen,
            rankers=chosen,
        )
    except DatasetNotFound as exc:  # configuration: where the data set lives (exit 2)
        _fail(str(exc))
    _print_evaluation(dataset, result, as_json)


def _evaluate_synthetic(k: int, holdout_days: int, models: str | None, cut: str | None) -> dict:
    """The temporal evaluation on the configured home's warehouse (see ml/recommend/training)."""
    import datetime as dt

    from ml.recommend.interactions import InteractionsError
    from ml.recommend.training import TOP_PICKS_MODELS, NotEnoughData, evaluate_temporal
    from warehouse.homepage import MissingMarts
    from warehouse.lock import WarehouseBusyError
    from warehouse.recommend import read_marts

    chosen = [m.strip() for m in models.split(",")] if models else None
    unknown = sorted(set(chosen or []) - {*TOP_PICKS_MODELS, "random"})
    if unknown:
        _fail(f"unknown model(s) {unknown}; choose from {', '.join(TOP_PICKS_MODELS)}, random")
    cut_date = None
    if cut is not None:
        try:
            cut_date = dt.date.fromisoformat(cut)
        except ValueError:
            _fail(f"--cut must be YYYY-MM-DD, got {cut!r}")
    try:
        marts = read_marts(_settings(), reader=True)
    except MissingMarts as exc:
        _fail(str(exc))
    except WarehouseBusyError as exc:
        _fail_busy(exc)
    try:
        return evaluate_temporal(
            marts.interactions,
            marts.title_features,
            holdout_days=holdout_days,
            k=k,
            models=chosen,
            cut=cut_date,
        )
    except (NotEnoughData, InteractionsError) as exc:
        _fail(str(exc), EXIT_FAILED)


RATING_ERRORS = ("rmse", "mae")


def _protocol_lines(protocol: dict) -> list[str]:
    """The protocol as indented `key: value` lines (it used to be one long JSON line)."""
    lines = []
    for section, fields in protocol.items():
        lines.append(f"{section} protocol:")
        for key, value in fields.items():
            if key == "rating_error":
                continue  # said under the table, beside the n/a cells it explains
            if isinstance(value, dict):
                value = ", ".join(f"{k} {v}" for k, v in value.items())
            elif isinstance(value, int) and not isinstance(value, bool):
                value = f"{value:,}"
            lines.append(f"  {key}: {value}")
    return lines


def _absent_notes(dataset: str, result: dict) -> list[str]:
    """Why cells read n/a: which metrics a model was not measured on, and the reason."""
    models = result["models"]
    no_error = [n for n, row in models.items() if all(row.get(c) is None for c in RATING_ERRORS)]
    no_rank = [n for n, row in models.items() if row.get("ndcg_at_k") is None]
    notes = []
    if no_error:
        temporal = result["protocol"].get("temporal", {})
        why = temporal.get("rating_error") or (
            "n/a: ranking models order titles and predict no rating"
            if "rating" in result["protocol"]
            else "n/a: the rating protocol did not run (--protocol all or rating runs it)"
        )
        notes.append(f"rmse, mae for {', '.join(no_error)}: {why}")
    if no_rank:
        why = (
            "n/a: rating models are judged by their 5-fold rating error only"
            if "ranking" in result["protocol"]
            else "n/a: the ranking protocol did not run (--protocol all or ranking runs it)"
        )
        notes.append(f"ranking metrics for {', '.join(no_rank)}: {why}")
    return notes


def _print_evaluation(dataset: str, result: dict, as_json: bool) -> None:
    if as_json:
        _emit_json(result)
        return
    typer.echo(f"{dataset}")
    for line in _protocol_lines(result["protocol"]):
        typer.echo(line)
    typer.echo("")
    header = f"{'model':<20}" + "".join(f"{c:>15}" for c in (*SHOWN, *RATING_ERRORS, "fit_s"))
    typer.echo(header)
    for name, row in result["models"].items():
        fit = row.get("fit_seconds", row.get("cv_fit_seconds"))
        cells = [*(row.get(c) for c in (*SHOWN, *RATING_ERRORS)), fit]
        typer.echo(
            f"{name:<20}"
            + "".join(f"{v:>15.4f}" if isinstance(v, float) else f"{'n/a':>15}" for v in cells)
        )
    notes = _absent_notes(dataset, result)
    if notes:
        typer.echo("")
    for note in notes:
        typer.echo(note)


# --- similar ----------------------------------------------------------------------------

CATALOGS = ("netflix-titles",)


def similar(
    title: Annotated[str, typer.Argument(help="A title (exact, id, or a unique substring).")],
    catalog: Annotated[str, typer.Option(help="netflix-titles")] = "netflix-titles",
    n: Annotated[int, typer.Option("-n", help="How many similar titles.")] = 10,
    as_json: JsonOpt = False,
) -> None:
    """ "More like this": titles closest in synopsis, genres, cast and director (TF-IDF)."""
    if catalog not in CATALOGS:
        _fail(f"unknown catalog {catalog!r}; choose from {', '.join(CATALOGS)}")
    from ml.datasets import DatasetNotFound, load_netflix_titles
    from ml.recommend.content import ContentModel, TitleNotFound

    try:
        titles = load_netflix_titles(_settings().resolved_data_dir)
    except DatasetNotFound as exc:  # configuration: where the data set lives (exit 2)
        _fail(str(exc))
    model = ContentModel().fit(titles)
    try:
        found = model.titles_[model.find(title)]
        table = model.similar(title, n)
    except TitleNotFound as exc:
        _fail(str(exc))
    if as_json:
        _emit_json({"catalog": catalog, "title": found, "similar": table.to_dict("records")})
        return
    typer.echo(f"More like {found}:")
    for rank, row in enumerate(table.itertuples(), start=1):
        typer.echo(f"{rank:>3}. {row.title}  ({row.score:.3f})")


# --- recommend / train recommender -------------------------------------------------------

MAX_USER_ID = 128


def recommend(
    user_id: Annotated[
        str,
        typer.Argument(
            help="A user id from the warehouse (e.g. u000042). An id without a published "
            "homepage (unknown, or signed up since the last build) gets the homepage for new "
            "visitors: popular, trending and new titles, with a note saying so."
        ),
    ],
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            help="Also write a homepage preview (HTML) here. The folder must exist: a typo "
            "is an error, not a new folder.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """That user's homepage rows from `ml.recommendations` (published by the recommender flow).

    Unknown users see the cold-start homepage rather than an error: a viewer who signed up
    after the nightly build is real and deserves a homepage; the note (stderr, and `shown_as`
    / `known_user` in --json) makes a mistyped id visible.
    """
    uid = user_id.strip()
    if not uid or len(uid) > MAX_USER_ID or not uid.isprintable():
        _fail(f"bad user id {user_id!r}: expected a printable id of 1-{MAX_USER_ID} characters")
    if html is not None:
        # Checked before reading anything: a mistyped folder should fail fast, and never be
        # created (a silent mkdir hides the typo until someone looks for the file).
        folder = html.expanduser().absolute().parent
        if not folder.is_dir():
            what = "is not a folder" if folder.exists() else "does not exist"
            _fail(f"--html {html}: the folder {folder} {what}; create it first")
    # warehouse.homepage, not flows.recommend: reading one homepage must not import Prefect,
    # pandas and scikit-learn (seconds) for a query of milliseconds.
    from warehouse.homepage import MissingMarts, NoRecommendations, homepage_html, load_homepage
    from warehouse.lock import WarehouseBusyError

    try:
        page = load_homepage(_settings(), uid, reader=True)
    except (MissingMarts, NoRecommendations) as exc:
        _fail(str(exc))
    except WarehouseBusyError as exc:
        _fail_busy(exc)
    if html is not None:
        try:
            html.write_text(homepage_html(page), encoding="utf-8")
        except OSError as exc:
            _fail(f"cannot write {html}: {exc}")
    if page["shown_as"] != uid:
        why = "a known user without a homepage yet" if page["known_user"] else "not a known user"
        typer.echo(f"note: {uid} is {why}: showing the homepage for new visitors", err=True)
    if as_json:
        _emit_json(page)
        return
    typer.echo(f"Homepage for {uid} (model {page['model_version']})")
    typer.echo(
        "relevance: each title's score relative to the best in its row (1.00); "
        "raw scores with --json"
    )
    width = max((len(t["title"]) for row in page["rows"] for t in row["titles"]), default=0)
    for row in page["rows"]:
        typer.echo(f"\n{row['position']}. {row['row_title']}  (ranked by {row['score_meaning']})")
        for t in row["titles"]:
            typer.echo(f"   {t['rank']:>2}. {t['title']:<{width}}  {t['relative_score']:.2f}")
    if html is not None:
        typer.echo(f"\npreview: {html}")


def train_recommender(
    model: Annotated[str, typer.Option(help="ease | item_knn | blend | popularity")] = "ease",
    k: Annotated[int, typer.Option(min=1, max=50, help="Titles per row.")] = 10,
    holdout_days: Annotated[int, typer.Option(min=1, help="Temporal holdout length.")] = 28,
    cut: Annotated[
        str | None, typer.Option(help="Test period start YYYY-MM-DD (instead of --holdout-days).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the recommender flow: evaluate, fit, register, publish every homepage."""
    from pydantic import ValidationError

    from flows.cli import _run_flow
    from flows.recommend import RecommendParams, recommend_flow

    try:
        params = RecommendParams(model=model, k=k, holdout_days=holdout_days, cut=cut)
    except ValidationError as exc:
        _fail(f"--{exc.errors()[0]['loc'][-1]}: {exc.errors()[0]['msg']}")
    _settings()
    result = _run_flow(recommend_flow, params, stage="recommend")
    if as_json:
        _emit_json({k: v for k, v in result.items() if k != "evaluation"})
        return
    m = result["metrics"]
    typer.echo(
        f"{result['candidate']}: nDCG@10 {m['ndcg_at_10']:.4f} (popularity "
        f"{m['popularity_ndcg_at_10']:.4f}, random {m['random_ndcg_at_10']:.4f}); "
        f"{'promoted' if result['promoted'] else 'not promoted'}: {result['decision']['reason']}"
    )
    typer.echo(
        f"published {result['rows_published']:,} rows for {result['users']:,} users "
        f"with {result['champion']}"
    )


def register(app: typer.Typer) -> None:
    """Add the recommendation commands to the main app."""
    datasets = _group(app, "datasets", "Public data sets: list, fetch.")
    datasets.command("list")(datasets_list)
    datasets.command("fetch")(datasets_fetch)
    evaluate = _group(app, "evaluate", "Offline evaluation of models.")
    evaluate.command("recommender")(evaluate_recommender)
    app.command("similar")(similar)
    app.command("recommend")(recommend)
    train = _group(app, "train", "Train models and publish their outputs.")
    train.command("recommender")(train_recommender)
