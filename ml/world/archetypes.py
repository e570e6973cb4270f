"""The user archetypes planted in the world: each one a distinct way of watching.

Every behavioural parameter of a user starts from its archetype and gets per-user noise (see
``population.py``). Archetypes are deliberately far apart on several observable axes at once
(genre, device, hour of day, binge, completion), so clustering simple per-user shares recovers them;
that is the ground truth the audience models are tested against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ml.world.vocab import GENRE_SLUGS, TONES

# Logit of a genre the archetype has no stated feeling about.
GENRE_BASELINE = -1.0


def _hours(peaks: dict[int, float], floor: float = 0.3) -> tuple[float, ...]:
    """24 local-hour weights: ``floor`` everywhere, ``peaks`` where the archetype watches."""
    weights = [floor] * 24
    for hour, weight in peaks.items():
        weights[hour] = weight
    return tuple(weights)


@dataclass(frozen=True)
class Archetype:
    """Parameters shared by all users of one archetype.

    Attributes:
        name: stable identifier written to ``truth/users.csv``.
        description: one human-readable sentence (``truth/world.json``).
        share: expected fraction of users.
        genres: genre slug → logit of P(genre | user); unlisted genres get ``GENRE_BASELINE``.
        devices: probabilities of (tv, mobile, tablet, web).
        hours_weekday / hours_weekend: relative weights of the 24 local start hours.
        weekday_rate: multiplier of the sitting rate per weekday (Mon..Sun).
        sittings: mean sittings per subscribed day at engagement 1.
        binge: P(next episode of the same series | an episode was finished) within a sitting.
        resume: P(a sitting resumes the series in progress) when there is one.
        length_pref: log weights of (short episode ≤30 min, long episode, movie).
        abandon: base logit of abandoning a play early.
        tones: tones this archetype's taste vectors lean towards.
        plans: probabilities of (basic, standard, premium) at signup.
        ages: probabilities of the five age bands.
        churn_logit: base logit of the monthly cancel hazard.
        fade_rate: daily probability that an engaged user starts fading.
        reactivate_rate: daily probability that a cancelled user comes back.
        ctr: base click-through rate of home-page artwork.
        warm_lift: absolute CTR lift of warm-toned artwork for this archetype.
        rate_prob: probability of leaving a rating after a substantial view.
    """

    name: str
    description: str
    share: float
    genres: dict[str, float]
    devices: tuple[float, float, float, float]
    hours_weekday: tuple[float, ...]
    hours_weekend: tuple[float, ...]
    weekday_rate: tuple[float, float, float, float, float, float, float]
    sittings: float
    binge: float
    resume: float
    length_pref: tuple[float, float, float]
    abandon: float
    tones: tuple[str, ...]
    plans: tuple[float, float, float]
    ages: tuple[float, float, float, float, float]
    churn_logit: float
    fade_rate: float
    reactivate_rate: float
    ctr: float
    warm_lift: float
    rate_prob: float

    def genre_logits(self) -> np.ndarray:
        """Logits over ``GENRE_SLUGS`` (in vocabulary order)."""
        return np.array([self.genres.get(slug, GENRE_BASELINE) for slug in GENRE_SLUGS])


ARCHETYPES: tuple[Archetype, ...] = (
    Archetype(
        name="late_night_binger",
        description=(
            "Late-night crime/thriller/horror bingers on mobile who chain short episodes "
            "after 22:00."
        ),
        share=0.14,
        genres={"crime": 2.6, "thriller": 2.5, "horror": 1.8, "action": 0.2, "drama": -0.2},
        devices=(0.12, 0.68, 0.10, 0.10),
        hours_weekday=_hours({22: 8, 23: 10, 0: 9, 1: 7, 2: 4, 3: 2, 4: 1, 20: 1.5, 21: 2.5}, 0.1),
        hours_weekend=_hours({22: 8, 23: 10, 0: 10, 1: 8, 2: 5, 3: 3, 4: 1, 20: 2, 21: 3}, 0.1),
        weekday_rate=(0.9, 0.9, 0.95, 1.0, 1.2, 1.3, 1.0),
        sittings=0.55,
        binge=0.78,
        resume=0.75,
        length_pref=(1.4, -0.2, -1.2),
        abandon=-1.6,
        tones=("dark", "tense"),
        plans=(0.45, 0.40, 0.15),
        ages=(0.35, 0.40, 0.15, 0.07, 0.03),
        churn_logit=-4.0,
        fade_rate=0.0040,
        reactivate_rate=0.006,
        ctr=0.10,
        warm_lift=-0.01,
        rate_prob=0.075,
    ),
    Archetype(
        name="family_weekend",
        description=(
            "Families watching family/animation movies on the TV, mostly weekend mornings and "
            "afternoons."
        ),
        share=0.15,
        genres={"family": 2.8, "animation": 2.7, "comedy": 0.8, "fantasy": 0.3},
        devices=(0.80, 0.05, 0.11, 0.04),
        hours_weekday=_hours({16: 3, 17: 5, 18: 6, 19: 4, 7: 1}, 0.1),
        hours_weekend=_hours({8: 3, 9: 5, 10: 6, 11: 4, 13: 4, 14: 6, 15: 8, 16: 8, 17: 6}, 0.1),
        weekday_rate=(0.45, 0.45, 0.5, 0.45, 0.7, 2.3, 2.1),
        sittings=0.55,
        binge=0.30,
        resume=0.40,
        length_pref=(0.2, -1.0, 1.1),
        abandon=-1.9,
        tones=("whimsical", "lighthearted"),
        plans=(0.15, 0.40, 0.45),
        ages=(0.03, 0.22, 0.50, 0.20, 0.05),
        churn_logit=-4.3,
        fade_rate=0.0024,
        reactivate_rate=0.007,
        ctr=0.12,
        warm_lift=0.09,
        rate_prob=0.090,
    ),
    Archetype(
        name="primetime_drama",
        description=(
            "Prime-time drama/romance viewers on the TV at 19:00-22:00 who prefer long episodes "
            "and movies."
        ),
        share=0.17,
        genres={"drama": 2.7, "romance": 2.4, "crime": 0.5, "comedy": 0.2},
        devices=(0.74, 0.09, 0.08, 0.09),
        hours_weekday=_hours({19: 6, 20: 10, 21: 10, 18: 2}, 0.1),
        hours_weekend=_hours({19: 6, 20: 9, 21: 9, 18: 3, 16: 2, 17: 2}, 0.1),
        weekday_rate=(1.0, 1.0, 1.05, 1.05, 0.9, 0.9, 1.1),
        sittings=0.62,
        binge=0.40,
        resume=0.60,
        length_pref=(-0.8, 1.1, 0.5),
        abandon=-2.2,
        tones=("heartfelt", "dark"),
        plans=(0.20, 0.50, 0.30),
        ages=(0.05, 0.15, 0.25, 0.30, 0.25),
        churn_logit=-4.4,
        fade_rate=0.0019,
        reactivate_rate=0.006,
        ctr=0.11,
        warm_lift=0.05,
        rate_prob=0.135,
    ),
    Archetype(
        name="commuter_comedy",
        description=(
            "Commuters snacking on short comedy/reality episodes on mobile in the morning and at "
            "lunch on weekdays."
        ),
        share=0.14,
        genres={"comedy": 2.6, "reality": 2.6, "romance": 0.2},
        devices=(0.05, 0.82, 0.05, 0.08),
        hours_weekday=_hours({7: 8, 8: 10, 9: 5, 12: 8, 13: 7, 6: 3}, 0.1),
        hours_weekend=_hours({9: 3, 10: 4, 11: 4, 12: 4, 13: 3}, 0.2),
        weekday_rate=(1.25, 1.25, 1.25, 1.25, 1.15, 0.4, 0.35),
        sittings=0.85,
        binge=0.18,
        resume=0.55,
        length_pref=(1.8, -0.8, -2.0),
        abandon=-1.1,
        tones=("lighthearted", "whimsical"),
        plans=(0.60, 0.32, 0.08),
        ages=(0.30, 0.42, 0.18, 0.07, 0.03),
        churn_logit=-3.9,
        fade_rate=0.0040,
        reactivate_rate=0.005,
        ctr=0.09,
        warm_lift=0.02,
        rate_prob=0.060,
    ),
    Archetype(
        name="documentary_learner",
        description=(
            "Documentary learners on web and tablet at midday and in the afternoon who finish "
            "what they start."
        ),
        share=0.11,
        genres={"documentary": 3.4, "drama": 0.3, "crime": 0.2},
        devices=(0.14, 0.09, 0.33, 0.44),
        hours_weekday=_hours({11: 6, 12: 7, 13: 7, 14: 6, 15: 5, 16: 4, 17: 3, 10: 3}, 0.2),
        hours_weekend=_hours({9: 4, 10: 6, 11: 7, 12: 6, 13: 5, 14: 5, 15: 4, 16: 3}, 0.2),
        weekday_rate=(1.0, 1.0, 1.0, 1.0, 0.9, 1.0, 1.1),
        sittings=0.45,
        binge=0.25,
        resume=0.45,
        length_pref=(-0.6, 0.6, 0.9),
        abandon=-2.6,
        tones=("cerebral",),
        plans=(0.30, 0.45, 0.25),
        ages=(0.04, 0.14, 0.22, 0.28, 0.32),
        churn_logit=-4.5,
        fade_rate=0.0019,
        reactivate_rate=0.007,
        ctr=0.08,
        warm_lift=0.02,
        rate_prob=0.180,
    ),
    Archetype(
        name="scifi_anime_binger",
        description=(
            "Sci-fi/fantasy/anime fans who binge many episodes in the evening on the TV and web."
        ),
        share=0.14,
        genres={"sci_fi": 2.6, "fantasy": 2.3, "anime": 2.6, "action": 1.0},
        devices=(0.46, 0.10, 0.06, 0.38),
        hours_weekday=_hours({18: 3, 19: 5, 20: 8, 21: 9, 22: 4, 23: 2}, 0.1),
        hours_weekend=_hours({14: 3, 15: 4, 16: 4, 17: 4, 18: 5, 19: 6, 20: 8, 21: 8, 22: 3}, 0.1),
        weekday_rate=(0.9, 0.9, 0.9, 0.95, 1.1, 1.3, 1.2),
        sittings=0.50,
        binge=0.82,
        resume=0.80,
        length_pref=(0.6, 0.8, -0.4),
        abandon=-1.9,
        tones=("epic", "cerebral"),
        plans=(0.25, 0.45, 0.30),
        ages=(0.38, 0.38, 0.15, 0.06, 0.03),
        churn_logit=-4.2,
        fade_rate=0.0024,
        reactivate_rate=0.008,
        ctr=0.11,
        warm_lift=0.01,
        rate_prob=0.120,
    ),
    Archetype(
        name="casual_dabbler",
        description=(
            "Low-engagement dabblers who sample a bit of everything on any device at any hour "
            "and abandon most plays."
        ),
        share=0.15,
        genres={"action": -0.2, "comedy": -0.2, "drama": -0.5, "thriller": -0.5},
        devices=(0.30, 0.30, 0.20, 0.20),
        hours_weekday=_hours({h: 1.0 for h in range(8, 24)}, 0.3),
        hours_weekend=_hours({h: 1.0 for h in range(8, 24)}, 0.3),
        weekday_rate=(1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
        sittings=0.13,
        binge=0.05,
        resume=0.15,
        length_pref=(0.0, 0.0, 0.0),
        abandon=0.6,
        tones=(),
        plans=(0.65, 0.28, 0.07),
        ages=(0.25, 0.30, 0.20, 0.15, 0.10),
        churn_logit=-3.2,
        fade_rate=0.0064,
        reactivate_rate=0.003,
        ctr=0.07,
        warm_lift=0.0,
        rate_prob=0.045,
    ),
)

ARCHETYPE_NAMES: tuple[str, ...] = tuple(a.name for a in ARCHETYPES)


def _check() -> None:
    """Fail loudly at import if a table above is inconsistent (a typo would silently skew truth)."""
    total = sum(a.share for a in ARCHETYPES)
    if abs(total - 1.0) > 1e-9:
        raise AssertionError(f"archetype shares sum to {total}, not 1")
    for a in ARCHETYPES:
        unknown = set(a.genres) - set(GENRE_SLUGS)
        if unknown:
            raise AssertionError(f"{a.name}: unknown genres {sorted(unknown)}")
        if set(a.tones) - set(TONES):
            raise AssertionError(f"{a.name}: unknown tones {a.tones}")
        for label, probs in (("devices", a.devices), ("plans", a.plans), ("ages", a.ages)):
            if abs(sum(probs) - 1.0) > 1e-9:
                raise AssertionError(f"{a.name}: {label} do not sum to 1")
        if len(a.hours_weekday) != 24 or len(a.hours_weekend) != 24:
            raise AssertionError(f"{a.name}: hour weights need 24 entries")


_check()
