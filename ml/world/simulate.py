"""The day-by-day simulation: sittings, plays, ratings, impressions and the subscription lifecycle.

Memory stays proportional to users + titles + one day of events: each day is simulated for all
users at once with numpy and written to its own file before the next day starts. Titles are chosen
without a users x titles matrix: a genre is drawn from the user's genre preferences, a title from
that genre's popularity distribution of the day (one ``searchsorted`` on a concatenated CDF), and
the final pick among ``N_CANDIDATES`` such draws is made on the user's personal taste
(sampling-importance-resampling). ``README.md`` gives the formulas.
"""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ml.world.archetypes import ARCHETYPES
from ml.world.catalog import Catalog
from ml.world.config import WorldConfig
from ml.world.experiments import EXPERIMENTS, EXTRA_IMPRESSIONS, P_BROWSE, assign, base_ctr
from ml.world.nudges import MIN_TENURE_DAYS, NudgeLog, is_campaign_day
from ml.world.population import Population
from ml.world.vocab import (
    COUNTRIES,
    DEVICES,
    GENRE_INDEX,
    GENRE_SLUGS,
    HOUR_BUCKETS,
    PLAN_PRICES,
    PLANS,
)
from ml.world.writers import exposure_lines, local_timestamps, view_lines, write_lines

logger = logging.getLogger(__name__)

DAY = 86_400

# --- title choice -----------------------------------------------------------------------------
N_CANDIDATES = 16  # proposal draws per sitting; the pick is resampled among them on taste
TASTE_WEIGHT = 1.5  # weight of user·title factors in the resampling score
SEEN_PENALTY = 8.0  # score penalty of a title among the user's last RING picks
RING = 24  # how many recent picks a user remembers (rarely re-picks a finished movie)
POP_APPEAL = 1.3  # proposal weight: exp(POP_APPEAL*appeal + POP_QUALITY*quality + recency)
POP_QUALITY = 0.4
RECENCY_BOOST = 1.6  # recency = RECENCY_BOOST * exp(-days_since_release / RECENCY_DAYS)
RECENCY_DAYS = 21.0

# --- sittings and plays -----------------------------------------------------------------------
MAX_SITTINGS = 5  # per user and day
MAX_EPISODES = 12  # per sitting
GENRE_MATCH = 0.5  # match = GENRE_MATCH*(mean logit of the title's genres - mean logit) + taste
MATCH_ABANDON = 0.9  # abandon logit -= MATCH_ABANDON * match
DEVICE_ABANDON = np.array([-0.2, 0.5, 0.15, 0.1])  # tv, mobile, tablet, web
LATE_NIGHT_ABANDON = 0.4
LATE_NIGHT_HOURS = np.array([h in HOUR_BUCKETS[0][1] for h in range(24)])
ABANDONED_BELOW = 0.5  # a view with watch < 50% of duration counts as abandoned (churn feature)
P_DROP_SERIES = 0.5  # after abandoning an episode, the series is dropped with this probability
# Rating (stars, rounded to halves, clipped to 1..5) =
#   RATING_INTERCEPT + RATING_MATCH*match + RATING_QUALITY*quality + user bias + noise
RATING_INTERCEPT = 2.6
RATING_MATCH = 0.8
RATING_QUALITY = 0.5
RATING_NOISE = 0.7

# --- engagement fading and subscriptions --------------------------------------------------------
FADE_DAYS = 18.0  # a fading user's activity multiplier: exp(-days_fading / FADE_DAYS)
FADE_FLOOR = 0.05
P_RECOVER = 0.01  # daily probability that a fading user recovers
HISTORY = 56  # days of activity kept per user (two 28-day windows)
WINDOW = 28
CHURN_DECLINE = 2.0  # logit h += CHURN_DECLINE * clip(-log((r+.05)/(e+.05)), 0, 3)
CHURN_ABANDON = 3.0  # + CHURN_ABANDON * (abandon_rate - 0.3)
CHURN_PRICE = 0.6  # + CHURN_PRICE * (price - 15.49) / 7.5
CHURN_NEW = 1.0  # + CHURN_NEW * exp(-tenure_days / 60)
CHURN_DORMANT = 1.5  # + CHURN_DORMANT * [no views in the last 28 subscribed days]
P_PLAN_CHANGE = 0.035  # monthly
P_REACTIVATE_SAME_PLAN = 0.7

# --- drift (last 25% of days when WorldConfig.drift) ---------------------------------------------
DRIFT_DEVICE = {"mobile": 2.5}  # multiplier of a device's probability
DRIFT_GENRES = {"drama": 0.3}  # multiplier of P(genre | user)
# A trend: this share of candidate draws comes from the trending genres (uniformly) instead.
DRIFT_TREND = {"anime": 0.5, "reality": 0.5}
DRIFT_TREND_SHARE = 0.35

EVENT_CODES = ("signup", "cancel", "reactivate", "plan_change")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _sample_rows(cum: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One categorical draw per row of an (unnormalized) cumulative-weights matrix."""
    r = rng.random(cum.shape[0]) * cum[:, -1]
    return np.minimum((cum < r[:, None]).sum(axis=1), cum.shape[1] - 1)


def _group_starts(sizes: np.ndarray) -> np.ndarray:
    return np.cumsum(sizes) - sizes


@dataclass
class ChurnBatch:
    """One month-start evaluation of the cancel hazard: the inputs and the probability used."""

    day: int
    users: np.ndarray
    probability: np.ndarray
    cancelled: np.ndarray
    cancel_day: np.ndarray
    recent_rate: np.ndarray
    earlier_rate: np.ndarray
    log_ratio: np.ndarray
    abandon_rate: np.ndarray
    dormant: np.ndarray
    tenure: np.ndarray
    price: np.ndarray
    nudge_logit: np.ndarray  # cancel-logit shift from nudges in the last 30 days (in probability)


@dataclass
class SimResult:
    """What the day loop hands back besides the day files it already wrote."""

    views: int = 0
    exposures: int = 0
    # ratings as parallel arrays per batch: (local second, user, title, stars)
    ratings: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=list
    )
    # (local second, user, event code, plan index)
    subscriptions: list[tuple[int, int, int, int]] = field(default_factory=list)
    churn: list[ChurnBatch] = field(default_factory=list)
    # experiment index -> (archetype, variant) -> [exposures, clicks]
    exposure_stats: np.ndarray | None = None
    # period (0 before drift start, 1 after) x feature counts
    device_counts: np.ndarray | None = None
    genre_counts: np.ndarray | None = None
    hour_counts: np.ndarray | None = None
    first_fade_day: np.ndarray | None = None
    user_views: np.ndarray | None = None
    title_views: np.ndarray | None = None


class Simulator:
    """Runs the world day by day and writes ``landing/views`` and ``landing/exposures``."""

    def __init__(
        self,
        cfg: WorldConfig,
        catalog: Catalog,
        pop: Population,
        rng: np.random.Generator,
        landing: Path,
        nudge_rng: np.random.Generator | None = None,
    ) -> None:
        """Set up the state; ``nudge_rng`` (a separate stream) drives opt-outs and campaigns."""
        self.cfg = cfg
        self.cat = catalog
        self.pop = pop
        self.rng = rng
        self.landing = landing
        n = pop.n
        arch = pop.archetype
        A = ARCHETYPES
        self.sit_rate = np.array([a.sittings for a in A])[arch] * pop.engagement
        self.weekday_rate = np.array([a.weekday_rate for a in A])
        self.fade_rate = np.array([a.fade_rate for a in A])[arch]
        self.react_rate = np.array([a.reactivate_rate for a in A])[arch]
        self.churn_logit = np.array([a.churn_logit for a in A])[arch]
        self.rate_prob = np.array([a.rate_prob for a in A])[arch]
        self.ctr = base_ctr()[arch]
        self.assignment = np.stack([assign(e.experiment_id, pop.ids) for e in EXPERIMENTS])
        self.exp_windows = [e.window(cfg.days) for e in EXPERIMENTS]
        self.exp_lifts = np.stack([e.lifts() for e in EXPERIMENTS])
        self.offset_str = [COUNTRIES[c][1] for c in pop.country.tolist()]
        self.offset_sec = np.array([COUNTRIES[c][2] * 60 for c in pop.country.tolist()])
        self.mean_logit = pop.genre_logits.mean(axis=1)
        self.n_genres = catalog.genre_matrix.sum(axis=1)
        # Shares are tallied before/after the drift start in every world (a null baseline when
        # there is no drift); the shift itself is applied only when cfg.drift.
        self.drift_start = cfg.drift_start_day
        self.drift_on = cfg.drift
        self.trend = np.zeros(len(GENRE_SLUGS))
        for slug, share in DRIFT_TREND.items():
            self.trend[GENRE_INDEX[slug]] = share

        # Subscription state.
        self.subscribed = pop.signup_day < 0
        self.active_from = np.full(n, np.iinfo(np.int64).min // 2, dtype=np.int64)
        self.last_end = np.full(n, np.iinfo(np.int64).min // 2, dtype=np.int64)
        self.cancel_day = np.full(n, -1, dtype=np.int64)
        self.plan = pop.plan.copy()
        self.change_day = np.full(n, -1, dtype=np.int64)
        self.change_plan = np.zeros(n, dtype=np.int64)
        self.fading = np.zeros(n, dtype=bool)
        self.fade_start = np.zeros(n, dtype=np.int64)
        self.first_fade = np.full(n, -1, dtype=np.int64)
        # Viewing state.
        self.cur_series = np.full(n, -1, dtype=np.int64)
        self.cur_ep = np.zeros(n, dtype=np.int64)
        self.ring = np.full((n, RING), -1, dtype=np.int32)
        self.ring_ptr = np.zeros(n, dtype=np.int64)
        self.h_views = np.zeros((n, HISTORY), dtype=np.uint16)
        self.h_aband = np.zeros((n, HISTORY), dtype=np.uint16)
        self.h_sub = np.zeros((n, HISTORY), dtype=bool)
        self.rated: set[int] = set()

        self.result = SimResult(
            exposure_stats=np.zeros((len(EXPERIMENTS), len(A), 2, 2), dtype=np.int64),
            device_counts=np.zeros((2, len(DEVICES)), dtype=np.int64),
            genre_counts=np.zeros((2, len(GENRE_SLUGS)), dtype=np.int64),
            hour_counts=np.zeros((2, 24), dtype=np.int64),
            user_views=np.zeros(n, dtype=np.int64),
            title_views=np.zeros(catalog.n, dtype=np.int64),
        )
        self.view_counter = 0
        self.exposure_counter = 0
        self.nudges = NudgeLog(
            cfg.start_date,
            cfg.days,
            pop.ids,
            catalog.ids,
            pop.archetype,
            pop.country,
            pop.signup_day,
            pop.signup_second,
            nudge_rng if nudge_rng is not None else np.random.default_rng([cfg.seed, 4]),
        )
        for u in np.flatnonzero(pop.signup_day < 0):
            self._event(int(pop.signup_day[u]) * DAY + int(pop.signup_second[u]), int(u), 0)

    # ------------------------------------------------------------------------------------------
    def _event(self, local_second: int, user: int, code: int, plan: int | None = None) -> None:
        plan_idx = int(self.plan[user]) if plan is None else plan
        self.result.subscriptions.append((local_second, user, code, plan_idx))

    def run(self, progress: bool = False) -> SimResult:
        """Simulate every day, writing one views file and one exposures file per day."""
        for d in tqdm(range(self.cfg.days), desc="world days", unit="day", disable=not progress):
            self._day(d)
        self.result.first_fade_day = self.first_fade
        return self.result

    # ------------------------------------------------------------------------------------------
    def _day(self, d: int) -> None:
        cfg, pop, rng = self.cfg, self.pop, self.rng
        day_date = cfg.start_date + timedelta(days=d)
        slot = d % HISTORY
        self.h_views[:, slot] = 0
        self.h_aband[:, slot] = 0

        # Signups today: subscribed from their signup time on.
        new = np.flatnonzero(pop.signup_day == d)
        self.subscribed[new] = True
        self.active_from[new] = d * DAY + pop.signup_second[new] + 180
        for u in new.tolist():
            self._event(d * DAY + int(pop.signup_second[u]), u, 0)

        if d == 0 or day_date.day == 1:
            self._month_start(d)

        # Reactivations of lapsed subscribers (decided before today's cancels).
        lapsed = np.flatnonzero(~self.subscribed & (pop.signup_day < d))
        back = lapsed[rng.random(lapsed.size) < self.react_rate[lapsed]]
        if back.size:
            when = d * DAY + rng.integers(7 * 3600, 22 * 3600, size=back.size)
            keep_plan = rng.random(back.size) < P_REACTIVATE_SAME_PLAN
            self.plan[back] = np.where(keep_plan, self.plan[back], 0)
            self.subscribed[back] = True
            self.active_from[back] = when + 180
            self.fading[back] = False
            for u, t in zip(back.tolist(), when.tolist(), strict=True):
                self._event(t, u, 2)

        # Cancels scheduled for today: after the user's last play, no plays today.
        due = np.flatnonzero(self.cancel_day == d)
        if due.size:
            when = np.maximum(
                d * DAY + rng.integers(8 * 3600, 22 * 3600, size=due.size), self.last_end[due] + 60
            )
            for u, t in zip(due.tolist(), when.tolist(), strict=True):
                self._event(t, u, 1)
            self.subscribed[due] = False
            self.cancel_day[due] = -1
            self.change_day[due] = -1

        changing = np.flatnonzero((self.change_day == d) & self.subscribed)
        if changing.size:
            when = d * DAY + rng.integers(8 * 3600, 22 * 3600, size=changing.size)
            when = np.maximum(when, self.active_from[changing])
            self.plan[changing] = self.change_plan[changing]
            for u, t in zip(changing.tolist(), when.tolist(), strict=True):
                self._event(t, u, 3)
            self.change_day[changing] = -1

        # Engagement fading: onset, recovery, multiplier.
        start_fading = ~self.fading & self.subscribed & (rng.random(pop.n) < self.fade_rate)
        self.fading |= start_fading
        self.fade_start[start_fading] = d
        self.first_fade[start_fading & (self.first_fade < 0)] = d
        self.fading &= ~(rng.random(pop.n) < P_RECOVER)
        fade_mult = np.where(
            self.fading, np.maximum(FADE_FLOOR, np.exp(-(d - self.fade_start) / FADE_DAYS)), 1.0
        )
        self.h_sub[:, slot] = self.subscribed

        if d >= MIN_TENURE_DAYS and is_campaign_day(day_date):
            self._campaign(d)
        self._sittings(d, day_date.weekday(), fade_mult, slot)

    def _campaign(self, d: int) -> None:
        """Today's re-engagement campaign (logged, randomized); responders stop fading."""
        pop = self.pop
        eligible = np.flatnonzero(
            self.subscribed & (pop.signup_day <= d - MIN_TENURE_DAYS) & (self.cancel_day != d)
        )
        recent = np.array([(d - k) % HISTORY for k in range(1, 15)])
        earlier = np.array([(d - k) % HISTORY for k in range(15, 29)])
        v_r = self.h_views[eligible[:, None], recent[None, :]].sum(axis=1).astype(float)
        v_e = self.h_views[eligible[:, None], earlier[None, :]].sum(axis=1).astype(float)
        at_risk = (v_r == 0) | (v_r < 0.5 * v_e)
        responders = self.nudges.campaign(
            d, eligible, at_risk, lambda users, rng: self._teaser(d, users, rng),
            self.landing / "nudges",
        )  # fmt: skip
        self.fading[responders] = False

    def _teaser(self, d: int, users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A released title of each user's favourite genre, drawn by popularity (for teasers)."""
        cat = self.cat
        released = cat.release_day <= d
        weight = np.exp(POP_APPEAL * cat.appeal + POP_QUALITY * cat.quality) * released
        fav = self.pop.genre_probs[users].argmax(axis=1)
        out = np.empty(users.size, dtype=np.int64)
        for g in np.unique(fav).tolist():
            sel = np.flatnonzero(fav == g)
            w = weight * cat.genre_matrix[:, g]
            if w.sum() <= 0:
                w = weight
            cum = np.cumsum(w)
            pick = np.searchsorted(cum, rng.random(sel.size) * cum[-1], side="right")
            out[sel] = np.minimum(pick, cat.n - 1)
        return out

    # ------------------------------------------------------------------------------------------
    def _month_start(self, d: int) -> None:
        """Draw this month's cancels from the hazard, and plan changes among the stayers."""
        cfg, pop, rng = self.cfg, self.pop, self.rng
        day_date = cfg.start_date + timedelta(days=d)
        month_days = calendar.monthrange(day_date.year, day_date.month)[1]
        window = min(month_days - day_date.day + 1, cfg.days - d)
        elig = np.flatnonzero(self.subscribed & (pop.signup_day < d) & (self.cancel_day < 0))
        if elig.size == 0:
            return
        recent = np.array([(d - k) % HISTORY for k in range(1, WINDOW + 1) if d - k >= 0], int)
        earlier = np.array(
            [(d - k) % HISTORY for k in range(WINDOW + 1, 2 * WINDOW + 1) if d - k >= 0], int
        )

        def sums(arr: np.ndarray, cols: np.ndarray) -> np.ndarray:
            if cols.size == 0:
                return np.zeros(elig.size)
            return arr[elig[:, None], cols[None, :]].sum(axis=1).astype(float)

        v_r, v_e = sums(self.h_views, recent), sums(self.h_views, earlier)
        s_r, s_e = sums(self.h_sub, recent), sums(self.h_sub, earlier)
        a_all = sums(self.h_aband, recent) + sums(self.h_aband, earlier)
        rate_r = v_r / np.maximum(s_r, 1)
        rate_e = v_e / np.maximum(s_e, 1)
        comparable = (s_r >= 14) & (s_e >= 14)
        decline = np.where(comparable, np.log((rate_r + 0.05) / (rate_e + 0.05)), 0.0)
        abandon_rate = (a_all + 0.3 * 2) / (v_r + v_e + 2)
        dormant = (v_r == 0) & (s_r >= 14)
        price = np.array([PLAN_PRICES[PLANS[p]] for p in self.plan[elig].tolist()])
        tenure = d - pop.signup_day[elig]
        logit = (
            self.churn_logit[elig]
            + CHURN_DECLINE * np.clip(-decline, 0, 3)
            + CHURN_ABANDON * (abandon_rate - 0.3)
            + CHURN_PRICE * (price - 15.49) / 7.5
            + CHURN_NEW * np.exp(-tenure / 60.0)
            + CHURN_DORMANT * dormant
        )
        nudge_logit = self.nudges.hazard_shift(d, elig)
        logit = logit + nudge_logit
        monthly = _sigmoid(logit)
        prob = 1 - (1 - monthly) ** (window / month_days)
        cancel = rng.random(elig.size) < prob
        cancel_on = d + rng.integers(0, window, size=elig.size)
        self.cancel_day[elig[cancel]] = cancel_on[cancel]

        stay = elig[~cancel]
        move = stay[rng.random(stay.size) < P_PLAN_CHANGE * window / month_days]
        self.change_day[move] = d + rng.integers(0, window, size=move.size)
        self.change_plan[move] = (
            self.plan[move] + rng.integers(1, len(PLANS), size=move.size)
        ) % len(PLANS)
        self.result.churn.append(
            ChurnBatch(
                day=d,
                users=elig,
                probability=prob,
                cancelled=cancel,
                cancel_day=np.where(cancel, cancel_on, -1),
                recent_rate=rate_r,
                earlier_rate=rate_e,
                log_ratio=np.where(comparable, decline, np.nan),
                abandon_rate=abandon_rate,
                dormant=dormant,
                tenure=tenure,
                price=price,
                nudge_logit=nudge_logit,
            )
        )

    # ------------------------------------------------------------------------------------------
    def _proposal(self, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Today's title proposal: per-genre CDF keys, the title at each key, genre multipliers.

        Keys of genre g are ``g + cumulative weight share`` so one ``searchsorted(keys, g + u)``
        draws a title of genre g proportionally to ``w_t(d)``.
        """
        cat = self.cat
        available = cat.release_day <= d
        age = np.maximum(d - cat.release_day, 0)
        weight = np.exp(
            POP_APPEAL * cat.appeal
            + POP_QUALITY * cat.quality
            + RECENCY_BOOST * np.exp(-age / RECENCY_DAYS)
        )
        keys, titles = [], []
        gmult = np.ones(len(GENRE_SLUGS))
        for g in range(len(GENRE_SLUGS)):
            members = np.flatnonzero(available & cat.genre_matrix[:, g])
            if members.size == 0:
                gmult[g] = 0.0
                continue
            cum = np.cumsum(weight[members])
            share = cum / cum[-1]
            share[-1] = 1.0
            keys.append(g + share)
            titles.append(members)
        if self.drift_on and d >= self.drift_start:
            for slug, mult in DRIFT_GENRES.items():
                gmult[GENRE_INDEX[slug]] *= mult
        return np.concatenate(keys), np.concatenate(titles), gmult

    def _sittings(self, d: int, dow: int, fade_mult: np.ndarray, slot: int) -> None:
        pop, rng = self.pop, self.rng
        weekend = dow >= 5
        lam = self.sit_rate * self.weekday_rate[pop.archetype, dow] * fade_mult
        lam[~self.subscribed] = 0.0
        n_sit = np.minimum(rng.poisson(lam), MAX_SITTINGS)
        # A user who responded to a nudge plays (at least) one sitting on the chosen day.
        forced = (self.nudges.forced_day == d) & self.subscribed
        n_sit = np.where(forced, np.maximum(n_sit, 1), n_sit)
        users = np.repeat(np.arange(pop.n), n_sit)
        cum = (pop.hour_cum_weekend if weekend else pop.hour_cum_weekday)[users]
        hour = _sample_rows(cum, rng)
        start = d * DAY + hour * 3600 + rng.integers(0, 3600, size=users.size)
        ok = start >= self.active_from[users]
        users, start = users[ok], start[ok]
        order = np.lexsort((start, users))
        users, start = users[order], start[order]
        first = np.r_[True, users[1:] != users[:-1]]
        group_start = np.maximum.accumulate(np.where(first, np.arange(users.size), 0))
        rank = np.arange(users.size) - group_start

        keys, key_titles, gmult = self._proposal(d)
        period = int(d >= self.drift_start)
        views: list[tuple[np.ndarray, ...]] = []
        exposures: list[tuple[np.ndarray, ...]] = []
        for r in range(int(rank.max()) + 1 if rank.size else 0):
            sel = rank == r
            v, x = self._play(d, users[sel], start[sel], keys, key_titles, gmult, period, slot)
            views.append(v)
            exposures.append(x)
        self._write_day(d, views, exposures)

    # ------------------------------------------------------------------------------------------
    def _play(
        self,
        d: int,
        u: np.ndarray,
        start: np.ndarray,
        keys: np.ndarray,
        key_titles: np.ndarray,
        gmult: np.ndarray,
        period: int,
        slot: int,
    ) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
        """One sitting for each user in ``u`` (distinct users): pick, play episodes, browse."""
        cat, pop, rng = self.cat, self.pop, self.rng
        k = u.size
        rows = np.arange(k)
        start = np.maximum(start, self.last_end[u] + rng.integers(300, 1800, size=k))

        # Device, with the drift toward mobile late in a drifting world.
        dev_w = pop.device_probs[u].copy()
        if self.drift_on and period:
            for name, mult in DRIFT_DEVICE.items():
                dev_w[:, DEVICES.index(name)] *= mult
        device = _sample_rows(np.cumsum(dev_w, axis=1), rng)

        # Candidates: genre from the user's preferences, title from the genre's popularity.
        gprob = pop.genre_probs[u] * gmult[None, :]
        if self.drift_on and period:
            gprob /= gprob.sum(axis=1, keepdims=True)
            gprob = (1 - DRIFT_TREND_SHARE) * gprob + DRIFT_TREND_SHARE * self.trend[None, :]
        gcum = np.cumsum(gprob, axis=1)
        rg = rng.random((k, N_CANDIDATES)) * gcum[:, -1:]
        genre = np.minimum((gcum[:, None, :] < rg[:, :, None]).sum(axis=2), len(gmult) - 1)
        pos = np.searchsorted(keys, genre + rng.random((k, N_CANDIDATES)), side="right")
        cand = key_titles[np.minimum(pos, keys.size - 1)]
        score = TASTE_WEIGHT * np.einsum("kf,kmf->km", pop.taste[u], cat.factors[cand])
        score += np.take_along_axis(pop.length_pref[u], cat.length_class[cand], axis=1)
        score -= SEEN_PENALTY * (self.ring[u][:, None, :] == cand[:, :, None]).any(axis=2)
        score += rng.gumbel(size=score.shape)
        picked = cand[rows, score.argmax(axis=1)]

        resume = (self.cur_series[u] >= 0) & (rng.random(k) < pop.resume[u])
        title = np.where(resume, self.cur_series[u], picked)
        same = title == self.cur_series[u]
        ep0 = np.where(same, self.cur_ep[u], 0)
        series = cat.is_series[title]
        ep0 = np.where(ep0 >= cat.episodes[title], 0, ep0)
        remaining = cat.episodes[title] - ep0
        planned = np.minimum(rng.geometric(1 - pop.binge[u]), np.minimum(remaining, MAX_EPISODES))
        n_ep = np.where(series, planned, 1)

        # How well the title matches the user (drives abandonment and ratings).
        gm = (pop.genre_logits[u] * cat.genre_matrix[title]).sum(axis=1) / self.n_genres[title]
        taste = np.einsum("kf,kf->k", pop.taste[u], cat.factors[title])
        match = GENRE_MATCH * (gm - self.mean_logit[u]) + TASTE_WEIGHT * taste

        # Expand sittings into plays; a sitting ends at its first abandoned play.
        ps = np.repeat(rows, n_ep)
        within = np.arange(ps.size) - np.repeat(_group_starts(n_ep), n_ep)
        hour = (start % DAY) // 3600
        ab_logit = (
            pop.abandon[u]
            - MATCH_ABANDON * match
            + DEVICE_ABANDON[device]
            + LATE_NIGHT_ABANDON * LATE_NIGHT_HOURS[hour]
        )
        abandoned = rng.random(ps.size) < _sigmoid(ab_logit[ps])
        ab_int = abandoned.astype(np.int64)
        before = np.cumsum(ab_int) - ab_int
        before -= np.repeat(before[_group_starts(n_ep)], n_ep)
        keep = before == 0
        ps, within, abandoned = ps[keep], within[keep], abandoned[keep]
        n_play = np.bincount(ps, minlength=k)
        p_title = title[ps]
        episode = ep0[ps] + within

        frac = np.where(
            abandoned,
            rng.beta(1.2, 4.5, size=ps.size) * (rng.random(ps.size) > 0.02),
            1.0 - rng.beta(1.0, 25.0, size=ps.size),
        )
        base = cat.runtime_minutes[p_title] * 60
        jitter = cat.episode_jitter[(p_title * 31 + episode) % cat.episode_jitter.size]
        duration = np.where(cat.is_series[p_title], np.rint(base * jitter), base).astype(np.int64)
        watch = np.minimum(np.rint(frac * duration).astype(np.int64), duration)
        gap = rng.integers(5, 46, size=ps.size)
        step = watch + gap
        offset = np.cumsum(step) - step
        offset -= np.repeat(offset[_group_starts(n_play)], n_play)
        p_start = start[ps] + offset
        p_end = p_start + watch
        last = _group_starts(n_play) + n_play - 1
        self.last_end[u] = p_end[last]

        # Series progress and the memory of recent picks.
        last_ep = episode[last]
        next_ep = np.where(abandoned[last], last_ep, last_ep + 1)
        finished = next_ep >= cat.episodes[title]
        dropped = abandoned[last] & (rng.random(k) < P_DROP_SERIES)
        keep_series = series & ~finished & ~dropped
        self.cur_series[u] = np.where(keep_series, title, np.where(series, -1, self.cur_series[u]))
        self.cur_ep[u] = np.where(keep_series, next_ep, np.where(series, 0, self.cur_ep[u]))
        fresh = ~resume
        self.ring[u[fresh], self.ring_ptr[u[fresh]]] = title[fresh]
        self.ring_ptr[u[fresh]] = (self.ring_ptr[u[fresh]] + 1) % RING

        # Activity history (for the churn hazard) and bookkeeping.
        p_user = u[ps]
        is_ab = watch < ABANDONED_BELOW * duration
        self.h_views[u, slot] += n_play.astype(np.uint16)
        self.h_aband[u, slot] += np.bincount(ps, weights=is_ab, minlength=k).astype(np.uint16)
        res = self.result
        np.add.at(res.user_views, p_user, 1)
        np.add.at(res.title_views, p_title, 1)
        p_device = device[ps]
        res.device_counts[period] += np.bincount(p_device, minlength=len(DEVICES))
        res.genre_counts[period] += cat.genre_matrix[p_title].sum(axis=0)
        res.hour_counts[period] += np.bincount((p_start % DAY) // 3600, minlength=24)[:24]

        self._rate(p_user, p_title, p_end, frac, match[ps])
        exposures = self._browse(d, u, start, cand)
        return (p_user, p_title, p_device, p_start, watch, duration), exposures

    # ------------------------------------------------------------------------------------------
    def _rate(
        self,
        user: np.ndarray,
        title: np.ndarray,
        end: np.ndarray,
        frac: np.ndarray,
        match: np.ndarray,
    ) -> None:
        """Explicit ratings: some substantial plays, once per user and title."""
        rng = self.rng
        cand = np.flatnonzero((frac >= 0.5) & (rng.random(user.size) < self.rate_prob[user]))
        if cand.size == 0:
            return
        latent = (
            RATING_INTERCEPT
            + RATING_MATCH * match[cand]
            + RATING_QUALITY * self.cat.quality[title[cand]]
            + self.pop.rating_bias[user[cand]]
            + rng.normal(scale=RATING_NOISE, size=cand.size)
        )
        stars = np.clip(np.rint(latent * 2) / 2, 1.0, 5.0)
        when = end[cand] + rng.integers(10, 600, size=cand.size)
        keys = (user[cand] * self.cat.n + title[cand]).tolist()
        fresh = np.zeros(cand.size, dtype=bool)
        for j, key in enumerate(keys):
            if key not in self.rated:
                self.rated.add(key)
                fresh[j] = True
        pick = cand[fresh]
        self.result.ratings.append((when[fresh], user[pick], title[pick], stars[fresh]))

    def _browse(
        self, d: int, u: np.ndarray, start: np.ndarray, cand: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        """Home-page impressions before a sitting, logged for the experiments running today."""
        rng = self.rng
        running = [i for i, (a, b) in enumerate(self.exp_windows) if a <= d < b]
        browsing = np.flatnonzero(rng.random(u.size) < P_BROWSE)
        if not running or browsing.size == 0:
            empty = np.zeros(0, dtype=np.int64)
            return (empty,) * 7
        n_imp = 1 + rng.binomial(*EXTRA_IMPRESSIONS, size=browsing.size)
        s = np.repeat(browsing, n_imp)
        slot = np.arange(s.size) - np.repeat(_group_starts(n_imp), n_imp)
        user = u[s]
        exp = np.array(running)[rng.integers(0, len(running), size=s.size)]
        variant = self.assignment[exp, user].astype(np.int64)
        arch = self.pop.archetype[user]
        ctr = self.ctr[user] + self.exp_lifts[exp, arch] * variant
        clicked = rng.random(s.size) < ctr
        shown = (
            start[s]
            - rng.integers(20, 120, size=s.size)
            - (2 - slot) * rng.integers(1, 10, size=s.size)
        )
        np.add.at(self.result.exposure_stats, (exp, arch, variant, 0), 1)
        np.add.at(self.result.exposure_stats, (exp, arch, variant, 1), clicked.astype(np.int64))
        return (exp, variant, user, cand[s, slot], shown, clicked, arch)

    # ------------------------------------------------------------------------------------------
    def _write_day(
        self, d: int, views: list[tuple[np.ndarray, ...]], exposures: list[tuple[np.ndarray, ...]]
    ) -> None:
        """Write the day's plays (and impressions) in UTC order with fresh event ids."""
        cfg, pop, cat = self.cfg, self.pop, self.cat
        name = (cfg.start_date + timedelta(days=d)).isoformat()
        if views:
            user, title, device, start, watch, duration = (
                np.concatenate(c) for c in zip(*views, strict=True)
            )
        else:
            user = title = device = start = watch = duration = np.zeros(0, dtype=np.int64)
        if user.size:
            order = np.lexsort((start, user, start - self.offset_sec[user]))
            user, title, device, start = user[order], title[order], device[order], start[order]
            watch, duration = watch[order], duration[order]
            offsets = [self.offset_str[i] for i in user.tolist()]
            lines = view_lines(
                self.view_counter,
                [pop.ids[i] for i in user.tolist()],
                [cat.ids[i] for i in title.tolist()],
                [DEVICES[i] for i in device.tolist()],
                local_timestamps(cfg.start_date, start, offsets),
                watch,
                duration,
            )
            self.view_counter += write_lines(self.landing / "views" / f"{name}.jsonl", lines)

        parts = [x for x in exposures if x[0].size]
        if parts:
            exp, variant, user, title, shown, clicked, _ = (
                np.concatenate(c) for c in zip(*parts, strict=True)
            )
            order = np.lexsort((exp, user, shown - self.offset_sec[user]))
            exp, variant, user = exp[order], variant[order], user[order]
            title, shown, clicked = title[order], shown[order], clicked[order]
            offsets = [self.offset_str[i] for i in user.tolist()]
            lines = exposure_lines(
                self.exposure_counter,
                [EXPERIMENTS[i].experiment_id for i in exp.tolist()],
                [
                    EXPERIMENTS[e].variants[v]
                    for e, v in zip(exp.tolist(), variant.tolist(), strict=True)
                ],
                [pop.ids[i] for i in user.tolist()],
                [cat.ids[i] for i in title.tolist()],
                local_timestamps(cfg.start_date, shown, offsets),
                clicked,
            )
            self.exposure_counter += write_lines(
                self.landing / "exposures" / f"{name}.jsonl", lines
            )
        self.result.views = self.view_counter
        self.result.exposures = self.exposure_counter
