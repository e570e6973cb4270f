"""The subscribers: archetype, demographics, signup, and their latent tastes and habits.

Each user's parameters are the archetype's plus individual noise, so users of one archetype look
alike without being copies (a clustering has real work to do, but the archetypes stay separable).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ml.world.archetypes import ARCHETYPES
from ml.world.catalog import N_FACTORS
from ml.world.vocab import COUNTRIES, GENRE_INDEX, PLANS, TONES

# Country tilts of genre taste (small, so archetypes stay the dominant signal).
_COUNTRY_GENRE_TILT = {"JP": {"anime": 0.6}, "BR": {"reality": 0.3}, "IN": {"romance": 0.3}}
# Standard deviations of the individual noise around archetype parameters.
GENRE_NOISE = 0.45
DEVICE_CONCENTRATION = 40.0
ENGAGEMENT_SIGMA = 0.35
TASTE_SCALE = 0.45
TONE_LOADING = 0.6


@dataclass
class Population:
    """All users, as parallel arrays indexed by user position (user_id = ``ids[i]``).

    ``signup_day`` counts days from the start date (negative = signed up before the period).
    """

    ids: list[str]
    archetype: np.ndarray  # int index into ARCHETYPES
    country: np.ndarray  # int index into COUNTRIES
    age_band: np.ndarray  # int index into AGE_BANDS
    signup_day: np.ndarray  # int
    signup_second: np.ndarray  # int: local second of the signup day
    plan: np.ndarray  # int index into PLANS, at signup
    engagement: np.ndarray  # multiplier of the archetype's sitting rate
    genre_logits: np.ndarray  # (n, n_genres)
    genre_probs: np.ndarray  # (n, n_genres): softmax of the logits
    device_probs: np.ndarray  # (n, 4)
    hour_cum_weekday: np.ndarray  # (n, 24) cumulative probabilities
    hour_cum_weekend: np.ndarray  # (n, 24)
    binge: np.ndarray
    resume: np.ndarray
    abandon: np.ndarray  # base logit of abandoning a play
    length_pref: np.ndarray  # (n, 3)
    taste: np.ndarray  # (n, N_FACTORS)
    rating_bias: np.ndarray

    @property
    def n(self) -> int:
        return len(self.ids)


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1 - p))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def make_population(
    n_users: int, days: int, rng: np.random.Generator, tone_emb: np.ndarray
) -> Population:
    """Draw ``n_users`` users.

    ~78% signed up before the period (tenure exponential, mean ~14 months, at most 5 years),
    ~22% sign up on a uniformly drawn day of the period.
    """
    n_arch = len(ARCHETYPES)
    shares = np.array([a.share for a in ARCHETYPES])
    archetype = rng.choice(n_arch, size=n_users, p=shares)
    country_p = np.array([c[4] for c in COUNTRIES])
    country = rng.choice(len(COUNTRIES), size=n_users, p=country_p / country_p.sum())

    age = np.empty(n_users, dtype=np.int64)
    plan = np.empty(n_users, dtype=np.int64)
    for k, arch in enumerate(ARCHETYPES):
        members = archetype == k
        m = int(members.sum())
        age[members] = rng.choice(5, size=m, p=arch.ages)
        plan[members] = rng.choice(len(PLANS), size=m, p=arch.plans)

    during = rng.random(n_users) < 0.22
    before = -(1 + np.minimum(rng.exponential(420.0, size=n_users), 5 * 365)).astype(np.int64)
    signup_day = np.where(during, rng.integers(0, days, size=n_users), before)
    # Signups happen in waking hours, local time.
    signup_second = rng.integers(8 * 3600, 22 * 3600, size=n_users)

    arch_genre = np.stack([a.genre_logits() for a in ARCHETYPES])
    genre_logits = arch_genre[archetype] + rng.normal(
        scale=GENRE_NOISE, size=(n_users, len(arch_genre[0]))
    )
    for code, tilts in _COUNTRY_GENRE_TILT.items():
        in_country = country == [c[0] for c in COUNTRIES].index(code)
        for slug, tilt in tilts.items():
            genre_logits[in_country, GENRE_INDEX[slug]] += tilt
    genre_probs = np.exp(genre_logits - genre_logits.max(axis=1, keepdims=True))
    genre_probs /= genre_probs.sum(axis=1, keepdims=True)

    arch_devices = np.array([a.devices for a in ARCHETYPES])
    device_probs = rng.gamma(DEVICE_CONCENTRATION * arch_devices[archetype] + 0.05)
    device_probs /= device_probs.sum(axis=1, keepdims=True)

    # Hours: the archetype's curve, shifted by a personal chronotype (-1, 0, +1 hour) and jittered.
    shift = rng.choice(3, size=n_users, p=(0.25, 0.5, 0.25)) - 1
    cums = []
    for attr in ("hours_weekday", "hours_weekend"):
        base = np.array([getattr(a, attr) for a in ARCHETYPES])[archetype]
        rows = np.arange(n_users)[:, None]
        cols = (np.arange(24)[None, :] - shift[:, None]) % 24
        w = base[rows, cols] * rng.lognormal(sigma=0.25, size=(n_users, 24))
        cum = np.cumsum(w, axis=1)
        cums.append(cum / cum[:, -1:])

    binge = _sigmoid(
        _logit(np.array([a.binge for a in ARCHETYPES]))[archetype]
        + rng.normal(scale=0.3, size=n_users)
    )
    resume = np.array([a.resume for a in ARCHETYPES])[archetype]
    abandon = np.array([a.abandon for a in ARCHETYPES])[archetype] + rng.normal(
        scale=0.3, size=n_users
    )
    length_pref = np.array([a.length_pref for a in ARCHETYPES])[archetype] + rng.normal(
        scale=0.25, size=(n_users, 3)
    )
    engagement = rng.lognormal(
        mean=-(ENGAGEMENT_SIGMA**2) / 2, sigma=ENGAGEMENT_SIGMA, size=n_users
    )

    # Taste factors: a personal random vector plus the archetype's preferred tone directions.
    tone_dir = np.zeros((n_arch, N_FACTORS))
    for k, arch in enumerate(ARCHETYPES):
        if arch.tones:
            tone_dir[k] = tone_emb[[TONES.index(t) for t in arch.tones]].mean(axis=0)
    taste = TONE_LOADING * tone_dir[archetype] + rng.normal(
        scale=TASTE_SCALE, size=(n_users, N_FACTORS)
    )

    width = max(6, len(str(n_users)))
    return Population(
        ids=[f"u{i + 1:0{width}d}" for i in range(n_users)],
        archetype=archetype.astype(np.int64),
        country=country.astype(np.int64),
        age_band=age,
        signup_day=signup_day.astype(np.int64),
        signup_second=signup_second.astype(np.int64),
        plan=plan,
        engagement=engagement,
        genre_logits=genre_logits,
        genre_probs=genre_probs,
        device_probs=device_probs,
        hour_cum_weekday=cums[0],
        hour_cum_weekend=cums[1],
        binge=binge,
        resume=resume,
        abandon=abandon,
        length_pref=length_pref,
        taste=taste,
        rating_bias=rng.normal(scale=0.3, size=n_users),
    )
