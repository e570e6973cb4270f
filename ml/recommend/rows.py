"""What the homepage's rows are called and what their scores mean, without the heavy imports.

`ml.recommend.homepage` builds the rows (numpy, pandas, scikit-learn); readers of a published
homepage (`tastemaker recommend`) need only these names, so they live here and load in
milliseconds. Each score is only comparable within its row: a row of popular titles is ranked
by viewer counts (hundreds), a "Because You Watched" row by a similarity in [0, 1].
"""

from __future__ import annotations

#: The homepage published for a visitor without history (and shown for unknown user ids).
ANONYMOUS_USER = "__anonymous__"
#: The Top Picks row of a user without history: all-time popularity, not the model.
POPULAR_ROW_TITLE = "Popular on Tastemaker"

#: row_name → what its `score` is (`because_you_watched_2` etc. share the first one's meaning).
SCORE_MEANING = {
    "continue_watching": "how recently you played it (1 = today, halving about every 5 days)",
    "top_picks": "the Top Picks model's score for you",
    "because_you_watched": "how often its viewers also watched the title the row names "
    "(item-item cosine similarity)",
    "trending_now": "recent viewers, each counted less the longer ago they watched (1 = the most "
    "trending title)",
    "new_for_you": "how close its synopsis, genres and credits are to what you watch (cosine)",
    "context": "how well it suits your usual device and hour, weighted by your Top Picks rank",
}
POPULAR_SCORE_MEANING = "viewers of the title, all time"


def score_meaning(row_name: str, row_title: str | None = None) -> str:
    """What the scores of one published row mean (for a reader of `ml.recommendations`)."""
    if row_name == "top_picks" and row_title == POPULAR_ROW_TITLE:
        return POPULAR_SCORE_MEANING
    base = "because_you_watched" if row_name.startswith("because_you_watched") else row_name
    return SCORE_MEANING.get(base, "the row's ranking score")


def relative_scores(scores: list[float]) -> list[float]:
    """A row's scores on one scale: 1.0 = the row's best, 0.0 = nothing (a zero score).

    s' = (s − m) / (max − m) with m = min(0, lowest score): for the usual non-negative scores
    this is s / max (a title with half the viewers of the first shows 0.50); a row holding
    negative model scores is shifted so its lowest is 0. A row of equal scores is all 1.0."""
    if not scores:
        return []
    low = min(0.0, min(scores))
    span = max(scores) - low
    return [1.0 if span <= 0 else (s - low) / span for s in scores]
