"""The title catalog: metadata as landed, plus the latent quality, appeal and taste factors.

Hits are partly predictable from metadata on purpose (the greenlight model's ground truth):
``appeal`` rises with the cast's star power and the director's skill, and ``quality`` with the
director's skill, so titles sharing a famous cast or a skilled director do well together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ml.world.vocab import (
    FIRST_NAMES,
    GENRE_INDEX,
    GENRE_NAMES,
    GENRE_SLUGS,
    GENRE_TEXT,
    LAST_NAMES,
    MOVIE_RATINGS,
    PRODUCTION_COUNTRIES,
    SERIES_RATINGS,
    TITLE_WORDS,
    TONE_TEXT,
    TONES,
)

N_FACTORS = 8
# Length classes of a title: short episode (<= 30 min), long episode, movie.
SHORT_EPISODE, LONG_EPISODE, MOVIE = 0, 1, 2
LENGTH_CLASSES = ("short_episode", "long_episode", "movie")

# Share of the catalog whose primary genre is each genre (vocabulary order).
_PRIMARY_SHARE = dict(
    action=0.10, comedy=0.10, drama=0.12, crime=0.08, thriller=0.08, horror=0.06, romance=0.07,
    sci_fi=0.06, fantasy=0.05, documentary=0.08, animation=0.05, family=0.05, reality=0.05,
    anime=0.05,
)  # fmt: skip
# Genres that plausibly accompany a primary genre.
_COMPANIONS = {
    "action": ("thriller", "sci_fi", "crime", "fantasy", "comedy"),
    "comedy": ("romance", "family", "drama", "animation"),
    "drama": ("romance", "crime", "thriller"),
    "crime": ("thriller", "drama", "action"),
    "thriller": ("crime", "horror", "action", "sci_fi"),
    "horror": ("thriller", "fantasy", "comedy"),
    "romance": ("comedy", "drama"),
    "sci_fi": ("action", "thriller", "fantasy", "horror"),
    "fantasy": ("action", "family", "animation", "romance"),
    "documentary": ("crime", "drama", "family"),
    "animation": ("family", "comedy", "fantasy"),
    "family": ("comedy", "animation", "fantasy"),
    "reality": ("comedy", "romance", "documentary"),
    "anime": ("action", "fantasy", "sci_fi", "comedy"),
}
# P(series | primary genre) and P(short episodes | series, primary genre).
_P_SERIES = dict(
    action=0.30, comedy=0.50, drama=0.50, crime=0.50, thriller=0.35, horror=0.30, romance=0.30,
    sci_fi=0.40, fantasy=0.40, documentary=0.45, animation=0.40, family=0.25, reality=0.90,
    anime=0.75,
)  # fmt: skip
_P_SHORT = dict(
    action=0.30, comedy=0.85, drama=0.20, crime=0.40, thriller=0.40, horror=0.40, romance=0.40,
    sci_fi=0.30, fantasy=0.20, documentary=0.30, animation=0.90, family=0.70, reality=0.60,
    anime=0.90,
)  # fmt: skip
# Tone distribution per primary genre, as {tone: weight}.
_TONES = {
    "action": {"tense": 0.4, "epic": 0.4, "dark": 0.2},
    "comedy": {"lighthearted": 0.6, "whimsical": 0.3, "heartfelt": 0.1},
    "drama": {"heartfelt": 0.5, "dark": 0.3, "cerebral": 0.2},
    "crime": {"dark": 0.5, "tense": 0.4, "cerebral": 0.1},
    "thriller": {"tense": 0.6, "dark": 0.3, "cerebral": 0.1},
    "horror": {"dark": 0.5, "tense": 0.4, "whimsical": 0.1},
    "romance": {"heartfelt": 0.6, "lighthearted": 0.4},
    "sci_fi": {"cerebral": 0.4, "epic": 0.4, "tense": 0.2},
    "fantasy": {"epic": 0.6, "whimsical": 0.3, "dark": 0.1},
    "documentary": {"cerebral": 0.7, "heartfelt": 0.2, "dark": 0.1},
    "animation": {"whimsical": 0.6, "lighthearted": 0.3, "heartfelt": 0.1},
    "family": {"lighthearted": 0.5, "heartfelt": 0.3, "whimsical": 0.2},
    "reality": {"lighthearted": 0.7, "tense": 0.3},
    "anime": {"epic": 0.5, "whimsical": 0.2, "dark": 0.2, "tense": 0.1},
}
# Genre-level appeal offsets (some genres draw bigger audiences per title).
_GENRE_APPEAL = dict(
    action=0.3, comedy=0.2, drama=0.0, crime=0.2, thriller=0.2, horror=-0.1, romance=0.0,
    sci_fi=0.1, fantasy=0.1, documentary=-0.3, animation=0.1, family=0.0, reality=0.0, anime=0.0,
)  # fmt: skip
# Maturity: index into (G, PG, PG-13, R) / (TV-Y, TV-PG, TV-14, TV-MA) probabilities by genre.
_MATURITY = {
    "family": (0.55, 0.40, 0.05, 0.0),
    "animation": (0.50, 0.40, 0.10, 0.0),
    "comedy": (0.05, 0.35, 0.45, 0.15),
    "romance": (0.0, 0.30, 0.55, 0.15),
    "documentary": (0.15, 0.45, 0.35, 0.05),
    "reality": (0.05, 0.40, 0.45, 0.10),
    "drama": (0.0, 0.15, 0.50, 0.35),
    "action": (0.0, 0.10, 0.60, 0.30),
    "sci_fi": (0.0, 0.15, 0.60, 0.25),
    "fantasy": (0.0, 0.30, 0.55, 0.15),
    "anime": (0.05, 0.25, 0.55, 0.15),
    "crime": (0.0, 0.0, 0.35, 0.65),
    "thriller": (0.0, 0.0, 0.45, 0.55),
    "horror": (0.0, 0.0, 0.25, 0.75),
}
# Appeal of a series relative to a movie (series pull repeated viewing).
SERIES_APPEAL = 0.3


@dataclass
class Catalog:
    """All titles, as parallel arrays indexed by title position (title_id = ``ids[i]``).

    ``release_day`` counts days from the world's start date (negative = released before it).
    """

    ids: list[str]
    names: list[str]
    is_series: np.ndarray  # bool
    genre_matrix: np.ndarray  # (n, n_genres) bool
    primary_genre: np.ndarray  # int
    runtime_minutes: np.ndarray  # int: movie length or typical episode length
    seasons: np.ndarray  # int, 0 for movies
    episodes: np.ndarray  # int: total episodes (1 for movies)
    length_class: np.ndarray  # int: SHORT_EPISODE | LONG_EPISODE | MOVIE
    release_day: np.ndarray  # int
    maturity: list[str]
    country: list[str]
    language: list[str]
    director: list[str]
    cast: list[list[str]]
    synopsis: list[str]
    tone: np.ndarray  # int index into TONES
    quality: np.ndarray
    appeal: np.ndarray
    director_skill: np.ndarray
    star_power: np.ndarray
    factors: np.ndarray  # (n, N_FACTORS)
    episode_jitter: np.ndarray  # (64,) multipliers of episode length around the runtime

    @property
    def n(self) -> int:
        return len(self.ids)

    def genres_display(self, i: int) -> str:
        """Pipe-separated display names, primary genre first."""
        primary = int(self.primary_genre[i])
        rest = [g for g in np.flatnonzero(self.genre_matrix[i]) if g != primary]
        return "|".join(GENRE_NAMES[g] for g in [primary, *rest])


def tone_embeddings(rng: np.random.Generator) -> np.ndarray:
    """Unit vectors (one per tone) in latent-factor space: the shared direction of a tone."""
    emb = rng.normal(size=(len(TONES), N_FACTORS))
    return emb / np.linalg.norm(emb, axis=1, keepdims=True)


def _person_names(rng: np.random.Generator, count: int) -> list[str]:
    """``count`` distinct person names (a middle initial once first x last combinations run out)."""
    combos = len(FIRST_NAMES) * len(LAST_NAMES)
    if count > combos * 27:
        raise ValueError(f"at most {combos * 27} distinct person names, asked for {count}")
    order = rng.permutation(combos if count <= combos else combos * 27)
    names = []
    for k in order[:count]:
        first = FIRST_NAMES[k % len(FIRST_NAMES)]
        last = LAST_NAMES[(k // len(FIRST_NAMES)) % len(LAST_NAMES)]
        block = k // combos
        names.append(f"{first} {chr(64 + block)}. {last}" if block else f"{first} {last}")
    return names


def _zipf_weights(count: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, count + 1) ** exponent
    return weights / weights.sum()


def _choice(rng: np.random.Generator, weights: dict[str, float]) -> str:
    keys = list(weights)
    probs = np.array([weights[k] for k in keys], dtype=float)
    return keys[int(rng.choice(len(keys), p=probs / probs.sum()))]


def make_catalog(
    n_titles: int, days: int, rng: np.random.Generator, tone_emb: np.ndarray
) -> Catalog:
    """Draw ``n_titles`` titles for a period of ``days`` days.

    Release dates: ~80% before the period (recent years more likely), ~15% during it, ~5% after
    its end (announced but upcoming: never viewed). The first 14 titles cover every genre once as
    primary genre and are released before the period, so every genre is watchable from day one.
    """
    n_genres = len(GENRE_SLUGS)
    primary_probs = np.array([_PRIMARY_SHARE[s] for s in GENRE_SLUGS])
    primary = rng.choice(n_genres, size=n_titles, p=primary_probs / primary_probs.sum())
    forced = rng.permutation(n_titles)[:n_genres]
    primary[forced] = np.arange(n_genres)

    # People: Zipf-popular pools; a famous actor is cast often and lends star power.
    n_directors = max(20, n_titles // 3)
    n_actors = min(max(60, n_titles * 3), 80_000)
    directors = _person_names(rng, n_directors)
    actors = _person_names(rng, n_actors)
    # Exponents chosen so the busiest director or star is in a few percent of titles, not most.
    dir_weights = _zipf_weights(n_directors, 0.6)
    act_weights = _zipf_weights(n_actors, 0.5)
    dir_skill = rng.normal(size=n_directors)
    # Star power of an actor: log popularity rank, standardized (rank 1 is the biggest star).
    act_star = -np.log(np.arange(1, n_actors + 1))
    act_star = (act_star - act_star.mean()) / act_star.std()

    is_series = np.zeros(n_titles, dtype=bool)
    genre_matrix = np.zeros((n_titles, n_genres), dtype=bool)
    runtime = np.zeros(n_titles, dtype=np.int64)
    seasons = np.zeros(n_titles, dtype=np.int64)
    episodes = np.ones(n_titles, dtype=np.int64)
    length_class = np.full(n_titles, MOVIE, dtype=np.int64)
    tone = np.zeros(n_titles, dtype=np.int64)
    maturity: list[str] = []
    country: list[str] = []
    language: list[str] = []
    director: list[str] = []
    cast: list[list[str]] = []
    synopsis: list[str] = []
    names: list[str] = []
    skill = np.zeros(n_titles)
    star = np.zeros(n_titles)
    seen_names: dict[str, int] = {}
    prod_probs = np.array([c[2] for c in PRODUCTION_COUNTRIES])
    prod_probs = prod_probs / prod_probs.sum()
    # Drawn up front, vectorized: a per-title weighted draw over a large pool would be O(pool).
    dir_idx = rng.choice(n_directors, size=n_titles, p=dir_weights)
    cast_draws = rng.choice(n_actors, size=(n_titles, 12), p=act_weights)
    cast_sizes = rng.integers(3, 7, size=n_titles)

    for i in range(n_titles):
        slug = GENRE_SLUGS[primary[i]]
        genre_matrix[i, primary[i]] = True
        n_extra = int(
            rng.choice(3, p=(0.7, 0.25, 0.05) if slug == "documentary" else (0.4, 0.4, 0.2))
        )
        companions = _COMPANIONS[slug]
        extra = rng.choice(len(companions), size=min(n_extra, len(companions)), replace=False)
        for e in extra:
            genre_matrix[i, GENRE_INDEX[companions[e]]] = True

        is_series[i] = rng.random() < _P_SERIES[slug]
        if is_series[i]:
            short = rng.random() < _P_SHORT[slug]
            length_class[i] = SHORT_EPISODE if short else LONG_EPISODE
            runtime[i] = rng.integers(20, 31) if short else rng.integers(40, 61)
            seasons[i] = min(10, int(rng.geometric(0.45)))
            per_season = rng.integers(8, 25) if short else rng.integers(6, 14)
            episodes[i] = min(200, int(seasons[i] * per_season))
        elif slug in ("family", "animation"):
            runtime[i] = rng.integers(78, 101)
        elif slug == "documentary":
            runtime[i] = rng.integers(80, 116)
        else:
            runtime[i] = int(np.clip(round(rng.normal(112, 15)), 85, 170))

        tone[i] = TONES.index(_choice(rng, _TONES[slug]))
        ratings = SERIES_RATINGS if is_series[i] else MOVIE_RATINGS
        maturity.append(ratings[int(rng.choice(4, p=_MATURITY[slug]))])

        if slug == "anime":
            country.append("JP")
            language.append("ja")
        else:
            c = int(rng.choice(len(PRODUCTION_COUNTRIES), p=prod_probs))
            country.append(PRODUCTION_COUNTRIES[c][0])
            language.append(PRODUCTION_COUNTRIES[c][1])

        d = int(dir_idx[i])
        director.append(directors[d])
        skill[i] = dir_skill[d]
        cast_idx = np.array(list(dict.fromkeys(cast_draws[i].tolist()))[: cast_sizes[i]])
        cast.append([actors[a] for a in cast_idx])
        star[i] = float(np.sort(act_star[cast_idx])[-2:].mean())

        first_words, second_words = TITLE_WORDS[slug]
        name = f"{rng.choice(first_words)} {rng.choice(second_words)}"
        if rng.random() < 0.25:
            name = f"The {name}"
        count = seen_names.get(name, 0) + 1
        seen_names[name] = count
        names.append(name if count == 1 else f"{name} {count}")

        synopsis.append(_synopsis(rng, slug, genre_matrix[i], primary[i], tone[i], is_series[i]))

    # Latent quality and appeal (standardized), then the taste factors.
    quality = 0.6 * skill + 0.8 * rng.normal(size=n_titles)
    quality = (quality - quality.mean()) / (quality.std() + 1e-12)
    star_z = (star - star.mean()) / (star.std() + 1e-12)
    genre_appeal = np.array([_GENRE_APPEAL[GENRE_SLUGS[g]] for g in primary])
    appeal = (
        0.45 * star_z
        + 0.25 * quality
        + genre_appeal
        + SERIES_APPEAL * is_series
        + 0.7 * rng.normal(size=n_titles)
    )
    factors = 0.6 * tone_emb[tone] + rng.normal(scale=0.4, size=(n_titles, N_FACTORS))

    # Release dates relative to the start: before (recent more likely), during, after.
    where = rng.choice(3, size=n_titles, p=(0.80, 0.15, 0.05))
    where[forced] = 0
    before = -(1 + np.minimum(rng.exponential(700.0, size=n_titles), 365 * 15)).astype(np.int64)
    during = rng.integers(0, days, size=n_titles)
    after = days + rng.integers(0, 120, size=n_titles)
    release_day = np.where(where == 0, before, np.where(where == 1, during, after))

    width = max(5, len(str(n_titles)))
    return Catalog(
        ids=[f"t{i + 1:0{width}d}" for i in range(n_titles)],
        names=names,
        is_series=is_series,
        genre_matrix=genre_matrix,
        primary_genre=primary.astype(np.int64),
        runtime_minutes=runtime,
        seasons=seasons,
        episodes=episodes,
        length_class=length_class,
        release_day=release_day.astype(np.int64),
        maturity=maturity,
        country=country,
        language=language,
        director=director,
        cast=cast,
        synopsis=synopsis,
        tone=tone,
        quality=quality,
        appeal=appeal,
        director_skill=skill,
        star_power=star_z,
        factors=factors,
        episode_jitter=rng.uniform(0.9, 1.1, size=64),
    )


def _synopsis(
    rng: np.random.Generator,
    slug: str,
    genres: np.ndarray,
    primary: int,
    tone: int,
    series: bool,
) -> str:
    """A two- or three-sentence synopsis built from the genres' and the tone's vocabulary."""
    protagonists, plots, settings = GENRE_TEXT[slug]
    adjectives, closings = TONE_TEXT[TONES[tone]]
    link = " " if slug == "documentary" else " in "
    noun = GENRE_NAMES[primary].lower()
    text = (
        f"A {rng.choice(adjectives)} {noun} {'series' if series else 'film'} in which "
        f"{rng.choice(protagonists)} {rng.choice(plots)}{link}{rng.choice(settings)}."
    )
    for g in np.flatnonzero(genres):
        if g == primary:
            continue
        other = GENRE_SLUGS[g]
        prot, plot, setting = GENRE_TEXT[other]
        link2 = " " if other == "documentary" else " in "
        text += (
            f" Along the way, {rng.choice(prot)} {rng.choice(plot)}{link2}{rng.choice(setting)}."
        )
    return f"{text} {rng.choice(closings)}"
