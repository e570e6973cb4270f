"""The fast tier and the full run, as the Hypothesis property tests see them.

The fast tier is `pytest -m "not slow"` (README): unit tests a developer runs on every change,
under a minute on two cores. It runs every property test, on a fifth of the examples its
decorator names (`max_examples(25)` is 5 there). The full run (README's `uv run --locked
pytest`, CI's `.ci/run`, `-m slow`, or any other selection) runs each test's full count. Nothing
to set: tests/conftest.py loads the `fast-tier` Hypothesis profile when the `-m` expression is
the fast tier's (`pytest -v` prints `hypothesis profile 'fast-tier'` in its header).
"""

from __future__ import annotations

import pytest

#: The `-m` expression of the fast tier (whitespace aside).
FAST_TIER_MARKEXPR = "not slow"
#: The Hypothesis profile loaded in the fast tier.
FAST_TIER_PROFILE = "fast-tier"
#: The fast tier runs 1/FAST_TIER_DIVISOR of each property test's examples (at least one).
FAST_TIER_DIVISOR = 5


def is_fast_tier(config: pytest.Config) -> bool:
    """True when this run selects exactly the fast tier (`-m "not slow"`)."""
    markexpr = config.getoption("markexpr", default="") or ""
    return " ".join(markexpr.split()) == FAST_TIER_MARKEXPR


def load_hypothesis_profile(config: pytest.Config) -> None:
    """In the fast tier, load the `fast-tier` profile: the active one (`default`, or `ci` when
    Hypothesis detects CI) with a fifth of its examples for tests that name no count."""
    if not is_fast_tier(config):
        return
    from hypothesis import settings

    active = settings()
    settings.register_profile(
        FAST_TIER_PROFILE, active, max_examples=max(1, active.max_examples // FAST_TIER_DIVISOR)
    )
    settings.load_profile(FAST_TIER_PROFILE)


def max_examples(full: int) -> int:
    """A property test's example count: `full` in the full run, a fifth of it in the fast tier.

    Call it in the decorator (`@settings(max_examples=max_examples(150))`): decorators run when
    the module is imported, after tests/conftest.py has chosen the profile."""
    from hypothesis import settings

    if settings.get_current_profile_name() == FAST_TIER_PROFILE:
        return max(1, full // FAST_TIER_DIVISOR)
    return full
