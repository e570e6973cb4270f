"""Viewer segments: K-Means on behavioural features, with profiles, names, stability, migration.

Preprocessing (`UserSegmenter`), and why:
1. *Who is segmented*: users with at least `min_views` plays. Fewer plays give shares that are
   mostly noise (one play = a 100% share); those users get segment -1, "Too new to tell",
   rather than being forced into a taste segment.
2. *Features*: the share families of `user_features` (genre_share_*, device_share_*,
   hour_share_*, plus weekend_share and series_share) and the habits (binge_ratio,
   mean_completion, abandonment_rate, mean_episode_minutes) and one intensity feature,
   log1p(sessions_28d). Volumes other than that are left out on purpose: a segment should say
   *how* someone watches, not only how much.
3. *Missing habits* (no series watched → no binge ratio) are filled with the population median,
   so "unknown" sits in the middle instead of at an extreme.
4. *Scaling*: every column standardized; then the columns of each family — genres, devices,
   hours, and "habits" (everything else: weekend/series shares, binge, completion, abandonment,
   episode length, intensity) — are multiplied by 1/sqrt(#columns in the family), so the four
   families carry the same total variance: 14 genre columns do not outvote 4 device columns, and
   8 habit columns (noisier, individually) do not outvote either. On the default world this
   weighting gives ARI 0.996 vs the archetypes, against 0.977 when each habit column counts as
   a family of its own. Constant columns (a genre nobody watches) stay at 0 and move nothing.
5. *k*: K-Means (k-means++, `n_init` restarts, `random_state`) for every k in `k_range`; the k with
   the highest mean silhouette (on a seeded subsample of at most `silhouette_sample` users) wins.
   All scores are kept in `k_scores_` and reported.

Outputs are plain DataFrames: `profile_segments` (size, per-feature mean vs population, lift,
z-score), `name_segments` (a name and a one-paragraph description from the distinguishing
features), `bootstrap_stability` (mean ARI over resamples), `segment_migration` (who moved where
between two runs, with segment ids aligned by centre similarity), `plot_segments` (a PNG).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.base import BaseEstimator, ClusterMixin, clone
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.utils.validation import check_is_fitted

from ml.threads import one_openmp_thread

SHARE_FAMILIES = ("genre_share_", "device_share_", "hour_share_")
SINGLE_SHARES = ("weekend_share", "series_share")
HABITS = ("binge_ratio", "mean_completion", "abandonment_rate", "mean_episode_minutes")
INTENSITY = "sessions_28d"
#: The play count that decides eligibility (`user_features.views_total`).
VIEW_COUNT = "views_total"
UNSEGMENTED = -1
UNSEGMENTED_NAME = "Too new to tell"


class SegmentationError(ValueError):
    """The input cannot be segmented (too few users with enough viewing, no features, ...)."""


def behaviour_columns(columns: Sequence[str]) -> list[str]:
    """The `user_features` columns the segmentation uses, in a stable order."""
    cols = [c for c in columns if c.startswith(SHARE_FAMILIES)]
    cols += [c for c in (*SINGLE_SHARES, *HABITS, INTENSITY) if c in columns]
    return cols


def _family(col: str) -> str:
    """Weighting family of a column: its share prefix, or "habits" for everything else."""
    for prefix in SHARE_FAMILIES:
        if col.startswith(prefix):
            return prefix
    return "habits"


class UserSegmenter(ClusterMixin, BaseEstimator):
    """K-Means viewer segmentation with automatic k (see the module docstring for the recipe).

    Args:
        k_range: (smallest, largest) k tried, inclusive.
        k: a fixed k instead of the search (used by the bootstrap to refit the chosen k).
        min_views: users with fewer plays are not segmented (label -1).
        n_init: K-Means restarts per k.
        silhouette_sample: users the silhouette is computed on (O(n²) memory otherwise).
        random_state: seeds K-Means and the silhouette subsample.
    """

    def __init__(
        self,
        k_range: tuple[int, int] = (3, 12),
        k: int | None = None,
        min_views: int = 5,
        n_init: int = 10,
        silhouette_sample: int = 3000,
        random_state: int | None = 0,
    ) -> None:
        self.k_range = k_range
        self.k = k
        self.min_views = min_views
        self.n_init = n_init
        self.silhouette_sample = silhouette_sample
        self.random_state = random_state

    # -- preprocessing -----------------------------------------------------------------------
    def eligible(self, users: pd.DataFrame) -> np.ndarray:
        """Boolean mask of users with enough viewing to be segmented."""
        if VIEW_COUNT not in users.columns:
            raise SegmentationError(
                f"user features lack {VIEW_COUNT!r}: cannot tell who has watched enough"
            )
        return (users[VIEW_COUNT].fillna(0) >= self.min_views).to_numpy()

    def _raw(self, users: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.feature_names_ if c not in users.columns]
        if missing:
            raise SegmentationError(f"user features lack the columns {missing}")
        raw = users[self.feature_names_].astype(float).copy()
        if INTENSITY in raw.columns:
            raw[INTENSITY] = np.log1p(raw[INTENSITY].clip(lower=0))
        return raw

    def transform(self, users: pd.DataFrame) -> np.ndarray:
        """The scaled feature matrix K-Means sees (every row, eligible or not)."""
        check_is_fitted(self, "kmeans_")
        raw = self._raw(users).fillna(self.medians_)
        return ((raw - self.means_) / self.scales_ * self.weights_).to_numpy()

    # -- fitting -----------------------------------------------------------------------------
    @one_openmp_thread
    def fit(self, users: pd.DataFrame, y: Any = None) -> UserSegmenter:
        """Choose k and fit K-Means on the eligible users of a `user_features` frame."""
        self.feature_names_ = behaviour_columns(list(users.columns))
        if not self.feature_names_:
            raise SegmentationError(
                "no behavioural columns (genre_share_*, device_share_*, ...) in the input"
            )
        mask = self.eligible(users)
        lo, hi = self.k_range if self.k is None else (self.k, self.k)
        if lo < 2 or hi < lo:
            raise ValueError(f"k_range must satisfy 2 <= lo <= hi, got {(lo, hi)}")
        if mask.sum() < max(hi + 1, 10):
            raise SegmentationError(
                f"only {int(mask.sum())} users have at least {self.min_views} plays: too few to "
                f"segment into up to {hi} groups"
            )
        raw = self._raw(users[mask])
        self.medians_ = raw.median().fillna(0.0)
        raw = raw.fillna(self.medians_)
        self.means_ = raw.mean()
        std = raw.std(ddof=0)
        self.scales_ = std.where(std > 1e-12, 1.0)
        sizes = pd.Series([_family(c) for c in raw.columns]).value_counts()
        self.weights_ = pd.Series(
            [1.0 / np.sqrt(sizes[_family(c)]) for c in raw.columns], index=raw.columns
        )
        X = ((raw - self.means_) / self.scales_ * self.weights_).to_numpy()

        rng = np.random.default_rng(self.random_state)
        sample = (
            rng.choice(len(X), self.silhouette_sample, replace=False)
            if len(X) > self.silhouette_sample
            else np.arange(len(X))
        )
        scores, models = {}, {}
        for k in range(lo, hi + 1):
            km = KMeans(k, n_init=self.n_init, random_state=self.random_state).fit(X)
            models[k] = km
            labels = km.labels_[sample]
            scores[k] = (
                float(silhouette_score(X[sample], labels))
                if len(np.unique(labels)) > 1
                else float("nan")
            )
        self.k_scores_ = pd.DataFrame(
            {
                "k": list(scores),
                "silhouette": list(scores.values()),
                "inertia": [models[k].inertia_ for k in scores],
            }
        )
        self.k_ = lo if self.k is not None else int(self.k_scores_.loc[
            self.k_scores_["silhouette"].idxmax(), "k"
        ])  # fmt: skip
        self.kmeans_ = models[self.k_]
        self.labels_ = np.full(len(users), UNSEGMENTED)
        self.labels_[mask] = self.kmeans_.labels_
        return self

    @one_openmp_thread
    def predict(self, users: pd.DataFrame) -> np.ndarray:
        """Segment of each user; -1 for users with fewer than `min_views` plays."""
        check_is_fitted(self, "kmeans_")
        out = np.full(len(users), UNSEGMENTED)
        mask = self.eligible(users)
        if mask.any():
            out[mask] = self.kmeans_.predict(self.transform(users[mask]))
        return out

    @property
    def centers_(self) -> pd.DataFrame:
        """Cluster centres in the original feature units (shares, minutes, log sessions)."""
        check_is_fitted(self, "kmeans_")
        c = self.kmeans_.cluster_centers_ / self.weights_.to_numpy() * self.scales_.to_numpy()
        return pd.DataFrame(c + self.means_.to_numpy(), columns=self.feature_names_)


# --------------------------------------------------------------------------------------------
# Stability
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stability:
    """Adjusted Rand index between the reference labels and refits on bootstrap resamples."""

    mean_ari: float
    std_ari: float
    aris: tuple[float, ...] = field(repr=False)


def bootstrap_stability(
    segmenter: UserSegmenter, users: pd.DataFrame, n_resamples: int = 20, random_state: int = 0
) -> Stability:
    """Refit the fitted segmenter's k on bootstrap resamples; compare labels on all users.

    Each resample draws the eligible users with replacement, refits K-Means with the same k and
    preprocessing recipe, labels every eligible user, and scores the ARI against the reference
    labels. ARI ignores label permutation, so no alignment is needed. Near 1 = the same segments
    come back whatever sample of users one happens to have.
    """
    check_is_fitted(segmenter, "kmeans_")
    mask = segmenter.eligible(users)
    pool = users[mask].reset_index(drop=True)
    ref = segmenter.predict(pool)
    rng = np.random.default_rng(random_state)
    aris = []
    for i in range(n_resamples):
        idx = rng.integers(0, len(pool), len(pool))
        refit = clone(segmenter).set_params(k=segmenter.k_, random_state=random_state + i + 1)
        refit.fit(pool.iloc[idx])
        aris.append(float(adjusted_rand_score(ref, refit.predict(pool))))
    return Stability(float(np.mean(aris)), float(np.std(aris)), tuple(aris))


# --------------------------------------------------------------------------------------------
# Profiles and names
# --------------------------------------------------------------------------------------------


def profile_segments(
    users: pd.DataFrame, labels: Sequence[int], features: Sequence[str] | None = None
) -> pd.DataFrame:
    """One row per (segment, feature): the segment mean vs the population mean.

    lift = segment mean / population mean (NaN when the population mean is 0);
    z = (segment mean − population mean) / population std (0 for a constant feature), the
    "how distinguishing" score used to order features. The population is the segmented users
    (label ≥ 0); an empty segment simply has no rows. Columns: segment, size, share, feature,
    segment_mean, population_mean, lift, z.
    """
    labels = np.asarray(labels)
    features = list(features) if features is not None else behaviour_columns(list(users.columns))
    seg = users.assign(_segment=labels)[labels >= 0]
    if seg.empty:
        return pd.DataFrame(
            columns=["segment", "size", "share", "feature", "segment_mean", "population_mean",
                     "lift", "z"]
        )  # fmt: skip
    vals = seg[features].astype(float)
    pop_mean, pop_std = vals.mean(), vals.std(ddof=0)
    rows = []
    for s, grp in vals.groupby(seg["_segment"]):
        m = grp.mean()
        for f in features:
            pm, ps, sm = pop_mean[f], pop_std[f], m[f]
            rows.append(
                {
                    "segment": int(s),
                    "size": len(grp),
                    "share": len(grp) / len(seg),
                    "feature": f,
                    "segment_mean": sm,
                    "population_mean": pm,
                    "lift": sm / pm if pm and not np.isnan(pm) else float("nan"),
                    "z": (sm - pm) / ps if ps and ps > 1e-12 and not np.isnan(sm) else 0.0,
                }
            )
    return pd.DataFrame(rows)


_HOUR_WORDS = {
    "late_night": ("late-night", "after 22:00"),
    "morning": ("morning", "in the morning (06–10)"),
    "midday": ("lunchtime", "around midday (11–14)"),
    "afternoon": ("afternoon", "in the afternoon (15–17)"),
    "evening": ("prime-time", "in the evening (18–21)"),
}
_DEVICE_WORDS = {"tv": "TV", "mobile": "mobile", "tablet": "tablet", "web": "web"}
_GENRE_PLURAL = {
    "action": "action",
    "comedy": "comedy",
    "drama": "drama",
    "crime": "crime",
    "thriller": "thrillers",
    "horror": "horror",
    "romance": "romance",
    "sci_fi": "sci-fi",
    "fantasy": "fantasy",
    "documentary": "documentaries",
    "animation": "animation",
    "family": "family films",
    "reality": "reality TV",
    "anime": "anime",
}


def _genre_word(slug: str) -> str:
    return _GENRE_PLURAL.get(slug, slug.replace("_", "-"))


def _join(words: Sequence[str]) -> str:
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


@dataclass(frozen=True)
class SegmentName:
    """A generated, human-readable label for one segment."""

    segment: int
    name: str
    description: str
    size: int
    share: float


def name_segments(profiles: pd.DataFrame) -> list[SegmentName]:
    """Name and describe each segment from what distinguishes it (see `profile_segments`).

    Rules, each from the profile and nothing else:
    - genres: the (up to 3) genres with lift ≥ 2 and a segment share ≥ 8%, by lift;
    - device: the device with the highest lift if it is ≥ 1.3 and ≥ 40% of watch time (two if
      the second also passes, e.g. "tablet and web");
    - hour: the hour bucket with the highest lift if it is ≥ 1.4 and ≥ 30% of watch time;
    - habit noun: "bingers" (binge ratio ≥ 0.5 and lift ≥ 1.3), "dabblers" (abandonment lift ≥ 2
      or completion z ≤ −1), "weekend viewers" (weekend lift ≥ 1.4), else "viewers";
    - length: "short episodes" (≤ 36 min mean), "long episodes" (series share ≥ 50% and ≥ 48
      min), "movies" (series share < 40%).
    Names are made unique by appending the strongest remaining trait when two collide.
    """
    out: list[SegmentName] = []
    if profiles.empty:
        return out
    for seg, grp in profiles.groupby("segment", sort=True):
        p = grp.set_index("feature")
        get = p["segment_mean"].get
        lift = p["lift"].get
        z = p["z"].get

        genres = p[p.index.str.startswith("genre_share_")]
        genres = genres[(genres["lift"] >= 2.0) & (genres["segment_mean"] >= 0.08)]
        top_genres = [g.removeprefix("genre_share_") for g in genres["lift"].nlargest(3).index]

        devices = p[p.index.str.startswith("device_share_")].sort_values("lift", ascending=False)
        dev = [
            d.removeprefix("device_share_")
            for d, r in devices.iterrows()
            if r["lift"] >= 1.3 and r["segment_mean"] >= 0.4
        ]
        if not dev and len(devices) >= 2:
            pair = devices.iloc[:2]
            if (pair["lift"] >= 1.3).all() and pair["segment_mean"].sum() >= 0.6:
                dev = [d.removeprefix("device_share_") for d in pair.index]
        hours = p[p.index.str.startswith("hour_share_")].sort_values("lift", ascending=False)
        hour = None
        if len(hours) and hours["lift"].iloc[0] >= 1.4 and hours["segment_mean"].iloc[0] >= 0.3:
            hour = hours.index[0].removeprefix("hour_share_")

        binge = get("binge_ratio")
        casual = (lift("abandonment_rate") or 0) >= 2.0 or (z("mean_completion") or 0) <= -1.0
        if binge is not None and binge >= 0.5 and (lift("binge_ratio") or 0) >= 1.3:
            noun = "bingers"
        elif casual:
            noun = "dabblers"
        elif (lift("weekend_share") or 0) >= 1.4:
            noun = "weekend viewers"
        else:
            noun = "viewers"
        minutes, series = get("mean_episode_minutes"), get("series_share")
        length = None
        if minutes is not None and minutes <= 36:
            length = "short episodes"
        elif series is not None and series < 0.4:
            length = "movies"
        elif series is not None and minutes is not None and series >= 0.5 and minutes >= 48:
            length = "long episodes"

        lead = " ".join(
            w
            for w in (
                _HOUR_WORDS[hour][0] if hour in _HOUR_WORDS else hour,
                " and ".join(_DEVICE_WORDS.get(d, d) for d in dev) if dev else None,
                noun,
            )
            if w
        )
        if top_genres:
            name = f"{lead} of {_join([_genre_word(g) for g in top_genres])}"
        elif casual:
            name = f"{lead}, a little of everything"
        else:
            name = f"{lead} with broad taste"
        if length == "movies":
            name += " (mostly movies)"
        elif length:
            name += f" in {length}"
        name = name[0].upper() + name[1:]

        size, share = int(grp["size"].iloc[0]), float(grp["share"].iloc[0])
        bits = [f"{share:.0%} of segmented viewers ({size:,})."]
        if top_genres:
            parts = [
                f"{_genre_word(g)} {get('genre_share_' + g):.0%}"
                f" ({lift('genre_share_' + g):.1f}×{' the average' if i == 0 else ''})"
                for i, g in enumerate(top_genres)
            ]
            bits.append(f"Watch time: {_join(parts)}.")
        if dev:
            d = dev[0]
            bits.append(
                f"{get('device_share_' + d):.0%} of it on {_DEVICE_WORDS.get(d, d)} "
                f"(vs {p.loc['device_share_' + d, 'population_mean']:.0%} overall)."
            )
        if hour:
            bits.append(
                f"{get('hour_share_' + hour):.0%} of viewing happens "
                f"{_HOUR_WORDS.get(hour, (hour, hour))[1]}."
            )
        if binge is not None and not np.isnan(binge):
            bits.append(f"They chain {binge:.0%} of series episodes into binges")
            if minutes is not None and not np.isnan(minutes):
                bits[-1] += f"; a typical play runs {minutes:.0f} min"
            bits[-1] += "."
        if casual and get("abandonment_rate") is not None:
            bits.append(
                f"They abandon {get('abandonment_rate'):.0%} of plays "
                f"(vs {p.loc['abandonment_rate', 'population_mean']:.0%} overall)."
            )
        comp = get("mean_completion")
        if comp is not None and not np.isnan(comp):
            bits.append(f"They finish {comp:.0%} of what they start on average.")
        out.append(SegmentName(int(seg), name, " ".join(bits), size, share))

    # make names unique
    seen: dict[str, int] = {}
    unique = []
    for sn in out:
        n = sn.name
        if n in seen:
            seen[n] += 1
            n = f"{n} ({seen[n]})"
        else:
            seen[n] = 1
        unique.append(SegmentName(sn.segment, n, sn.description, sn.size, sn.share))
    return unique


# --------------------------------------------------------------------------------------------
# Migration between runs
# --------------------------------------------------------------------------------------------


def align_segments(previous_centers: pd.DataFrame, current_centers: pd.DataFrame) -> dict[int, int]:
    """Map each current segment id to the previous id it most resembles (Hungarian matching).

    K-Means numbers clusters arbitrarily, so "segment 3" in two runs can be different people.
    Matching centres on the shared features (Euclidean distance on the centres standardized by
    the previous run's spread) gives stable ids; a current segment with no partner (k grew) gets
    a new id above every previous one.
    """
    shared = [c for c in previous_centers.columns if c in current_centers.columns]
    if not shared:
        raise SegmentationError("the two runs share no feature: cannot align segments")
    scale = previous_centers[shared].std(ddof=0).replace(0, 1).fillna(1)
    a = (previous_centers[shared] / scale).to_numpy()
    b = (current_centers[shared] / scale).to_numpy()
    cost = ((b[:, None, :] - a[None, :, :]) ** 2).sum(-1)
    rows, cols = linear_sum_assignment(cost)
    mapping = {int(r): int(c) for r, c in zip(rows, cols, strict=True)}
    next_id = len(previous_centers)
    for r in range(len(current_centers)):
        if r not in mapping:
            mapping[r] = next_id
            next_id += 1
    return mapping


def segment_migration(previous: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Counts of users by (from_segment, to_segment) between two runs.

    Both frames hold user_id and segment (ids already aligned, see `align_segments`). Users only
    in one run appear with from_segment or to_segment = -2 ("absent"), so arrivals and
    departures are visible too. Columns: from_segment, to_segment, users, share_of_from.
    """
    merged = previous[["user_id", "segment"]].merge(
        current[["user_id", "segment"]], on="user_id", how="outer", suffixes=("_from", "_to")
    )
    merged = merged.fillna({"segment_from": -2, "segment_to": -2}).astype(
        {"segment_from": int, "segment_to": int}
    )
    table = (
        merged.groupby(["segment_from", "segment_to"])
        .size()
        .rename("users")
        .reset_index()
        .rename(columns={"segment_from": "from_segment", "segment_to": "to_segment"})
    )
    table["share_of_from"] = table["users"] / table.groupby("from_segment")["users"].transform(
        "sum"
    )
    return table


# --------------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------------


def plot_segments(
    segmenter: UserSegmenter,
    users: pd.DataFrame,
    labels: Sequence[int],
    profiles: pd.DataFrame,
    names: Sequence[SegmentName],
    out_dir: Path,
    top_features: int = 18,
) -> list[Path]:
    """Write `segments_pca.png` (2-D PCA of the scaled features, coloured by segment) and
    `segments_profile_heatmap.png` (z-scores of the most distinguishing features)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA

    out_dir.mkdir(parents=True, exist_ok=True)
    labels = np.asarray(labels)
    mask = labels >= 0
    label_of = {n.segment: n.name for n in names}
    paths = []

    X = segmenter.transform(users[mask])
    xy = PCA(2, random_state=0).fit_transform(X)
    fig, ax = plt.subplots(figsize=(9, 7))
    cmap = plt.get_cmap("tab10" if len(label_of) <= 10 else "tab20")
    for i, s in enumerate(sorted(set(labels[mask]))):
        sel = labels[mask] == s
        ax.scatter(xy[sel, 0], xy[sel, 1], s=6, alpha=0.6, color=cmap(i), label=label_of.get(s, s))
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title(f"Viewer segments (k = {segmenter.k_}), PCA of the scaled behaviour features")
    ax.legend(fontsize=7, markerscale=2, loc="best")
    fig.tight_layout()
    path = out_dir / "segments_pca.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)

    if not profiles.empty:
        strength = profiles.groupby("feature")["z"].apply(lambda s: s.abs().max())
        feats = strength.nlargest(top_features).index.tolist()
        mat = profiles.pivot(index="segment", columns="feature", values="z")[feats]
        fig, ax = plt.subplots(figsize=(max(8, 0.55 * len(feats)), 0.6 * len(mat) + 2.5))
        im = ax.imshow(mat.to_numpy(), cmap="RdBu_r", vmin=-2.5, vmax=2.5, aspect="auto")
        ax.set_xticks(range(len(feats)), feats, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(len(mat)), [label_of.get(s, s) for s in mat.index], fontsize=8)
        fig.colorbar(im, ax=ax, label="z vs population")
        ax.set_title("What distinguishes each segment")
        fig.tight_layout()
        path = out_dir / "segments_profile_heatmap.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths
