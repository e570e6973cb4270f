"""Content model: TF-IDF over synopsis, genres, cast and director.

Collaborative models cannot place a title nobody has watched; its text and credits can.
Each field is vectorized on its own, so a shared actor is a token of its own rather than two
words, and weighted:

    v(t) = normalize( w_s·tfidf_words(synopsis) ⊕ w_g·tfidf(genres) ⊕ w_c·tfidf(cast)
                      ⊕ w_d·tfidf(director) ),      sim(a, b) = v(a)·v(b)  (cosine)

with tf-idf = (1 + log tf)·(log((1+n)/(1+df)) + 1) and each block L2-normalised before
weighting. "More like this" ranks titles by sim to one title; cold start scores candidates
by sim to the mean vector of what a user watched.
"""

from __future__ import annotations

import difflib

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize


class TitleNotFound(LookupError):
    """No catalogue title matches the query."""


def _pipe_tokens(text: str) -> list[str]:
    return [t.strip().lower() for t in str(text).split("|") if t.strip()]


class ContentModel(BaseEstimator):
    """TF-IDF title vectors for similar-title lookups and cold-start scoring.

    Args:
        synopsis_weight, genres_weight, cast_weight, director_weight: block weights w_*.
        max_cast: only the first `max_cast` credited actors count (billing order matters).
        min_df: minimum document frequency for synopsis words.
    """

    def __init__(
        self,
        synopsis_weight: float = 1.0,
        genres_weight: float = 1.0,
        cast_weight: float = 0.6,
        director_weight: float = 0.6,
        max_cast: int = 8,
        min_df: int = 2,
    ):
        self.synopsis_weight = synopsis_weight
        self.genres_weight = genres_weight
        self.cast_weight = cast_weight
        self.director_weight = director_weight
        self.max_cast = max_cast
        self.min_df = min_df

    def fit(self, titles: pd.DataFrame, y: None = None) -> ContentModel:
        """Fit on a catalogue with `title_id`, `title` and any of `synopsis`, `genres`, `cast`,
        `director` (pipe-separated lists, as in the titles contract)."""
        frame = titles.reset_index(drop=True)
        blocks = []
        self.vectorizers_ = {}
        n = len(frame)
        if "synopsis" in frame and self.synopsis_weight:
            vec = TfidfVectorizer(
                stop_words="english", sublinear_tf=True, min_df=min(self.min_df, n)
            )
            blocks.append(
                self.synopsis_weight * normalize(vec.fit_transform(frame["synopsis"].fillna("")))
            )
            self.vectorizers_["synopsis"] = vec
        for field, weight, limit in (
            ("genres", self.genres_weight, None),
            ("cast", self.cast_weight, self.max_cast),
            ("director", self.director_weight, None),
        ):
            if field not in frame or not weight:
                continue
            vec = TfidfVectorizer(
                analyzer=lambda s, limit=limit: _pipe_tokens(s)[:limit], sublinear_tf=True
            )
            try:
                block = vec.fit_transform(frame[field].fillna("").astype(str))
            except ValueError:  # the field is empty everywhere
                continue
            blocks.append(weight * normalize(block))
            self.vectorizers_[field] = vec
        if not blocks:
            raise ValueError("no text fields to fit on (synopsis, genres, cast, director)")
        self.vectors_ = normalize(sp.hstack(blocks).tocsr())
        self.title_ids_ = frame["title_id"].to_numpy()
        self.titles_ = frame["title"].astype(str).to_numpy()
        self._pos = {t: k for k, t in enumerate(self.title_ids_.tolist())}
        return self

    def find(self, query: str) -> int:
        """Row of a title by id, exact title (case-insensitive), or a unique substring."""
        if query in self._pos:
            return self._pos[query]
        lowered = np.char.lower(self.titles_.astype(str))
        exact = np.flatnonzero(lowered == query.lower())
        if len(exact):
            return int(exact[0])
        partial = np.flatnonzero(np.char.find(lowered, query.lower()) >= 0)
        if len(partial) == 1:
            return int(partial[0])
        if len(partial):
            raise TitleNotFound(
                f"{query!r} is part of {len(partial)} titles; did you mean: "
                f"{', '.join(self.titles_[partial[:5]])}" + (", ..." if len(partial) > 5 else "")
            )
        # A misspelling matches no substring: suggest the closest titles by spelling.
        first_row = {title: i for i, title in reversed(list(enumerate(lowered.tolist())))}
        close = difflib.get_close_matches(query.lower(), list(first_row), n=3, cutoff=0.6)
        hint = f"; did you mean: {', '.join(self.titles_[first_row[c]] for c in close)}"
        raise TitleNotFound(f"no title matches {query!r}" + (hint if close else ""))

    def similar(self, query: str, n: int = 10) -> pd.DataFrame:
        """The n titles most like `query` (itself excluded), best first."""
        row = self.find(query)
        scores = (self.vectors_ @ self.vectors_[row].T).toarray().ravel()
        scores[row] = -np.inf
        order = np.lexsort((np.arange(len(scores)), -scores))[:n]
        return pd.DataFrame(
            {
                "title_id": self.title_ids_[order],
                "title": self.titles_[order],
                "score": scores[order],
            }
        )

    def profile_scores(
        self, watched: list, candidates: list | None = None, weights: list | None = None
    ) -> np.ndarray:
        """Cosine of each candidate to the (weighted) mean vector of `watched` title ids.

        Unknown watched ids are ignored; with nothing known, every score is 0.
        """
        rows = [self._pos[t] for t in watched if t in self._pos]
        cand = (
            np.arange(len(self.title_ids_))
            if candidates is None
            else np.array([self._pos.get(t, -1) for t in candidates])
        )
        out = np.zeros(len(cand))
        if not rows:
            return out
        w = np.ones(len(rows)) if weights is None else np.asarray(weights, dtype=float)[: len(rows)]
        profile = normalize(sp.csr_matrix(w @ self.vectors_[rows].toarray()))
        known = cand >= 0
        out[known] = (self.vectors_[cand[known]] @ profile.T).toarray().ravel()
        return out
