"""Logged re-engagement nudges and channel opt-outs, with planted per-archetype responses.

The streaming service in the synthetic world runs a re-engagement campaign every Monday. Each
campaign picks active subscribers not contacted in the last ``CONTACT_GAP_DAYS`` (at-risk users far
more often than the rest) and gives each one an action drawn AT RANDOM with known
probabilities: ``none`` (a logged control), ``email``, ``push``, ``discount`` or ``teaser``. The log
is therefore a randomized experiment: inverse-propensity estimates of any policy's value are
unbiased. Opted-out users are never given an action on that channel (the action is removed and the
other probabilities renormalized, so the logged propensity is the one actually used).

A nudge really acts in the simulation, differently per archetype:

* return: with probability ``RESPONSES[archetype][action].p_return`` the user responds: an
  engagement fade stops, and one extra sitting is played on a day 1..6 days after the nudge;
* cancel hazard: for month-start hazard evaluations within 30 days after the nudge, the cancel
  logit moves by ``cancel_logit`` (negative: fewer cancels) plus the action's annoyance, plus
  ``FATIGUE`` per contact beyond the first in those 30 days (over-contacting hurts).

Everything uses its own random stream, so the rest of the world moves only through these effects.
``truth/nudges.json`` records all of it (``truth()`` below).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from ml.world.archetypes import ARCHETYPES
from ml.world.vocab import ACTION_CHANNEL, COUNTRIES, NUDGE_ACTIONS, OPT_OUT_CHANNELS
from ml.world.writers import local_timestamps, write_csv

DAY = 86_400

ACTIONS = NUDGE_ACTIONS
CHANNEL_OF = ACTION_CHANNEL
#: The logging policy: probability of each action for a user who may receive every action.
LOGGING_PROPENSITY = {"none": 0.30, "email": 0.20, "push": 0.20, "discount": 0.10, "teaser": 0.20}
#: Cost of one action (currency of the plan prices): a discount is a third off a standard month.
COSTS = {"none": 0.0, "email": 0.02, "push": 0.01, "discount": 5.16, "teaser": 0.02}
VALUE_OF_RETAINED_MONTH = 15.49
#: Cancel-logit increase of every contact (action other than none), whatever the archetype.
ANNOYANCE = {"none": 0.0, "email": 0.05, "push": 0.08, "discount": 0.0, "teaser": 0.03}
#: Extra cancel logit per contact beyond the first within the 30 days before a hazard evaluation.
FATIGUE = 0.20
EFFECT_DAYS = 30  # a nudge moves hazard evaluations in (sent day, sent day + 30]
RETURN_DAYS = (1, 6)  # a responder's extra sitting is on one of these days after the nudge
MIN_TENURE_DAYS = 14  # users signed up less than this long ago are not in campaigns
P_SELECT = 0.06  # chance a subscriber is in a campaign ...
P_SELECT_AT_RISK = 0.90  # ... or this when at risk (14-day views below half the 14 days before)
#: The logging campaign's own contact cap: a user given an action other than none in the last
#: this many days is left out of a campaign (so the log rarely stacks contacts; fatigue is planted
#: all the same and hits any policy that contacts more often).
CONTACT_GAP_DAYS = 28
#: Share of users with an opt-out, by channel (one opt-out per user at most).
OPT_OUT_SHARE = {"email": 0.04, "push": 0.03, "all": 0.015}
OPT_OUT_LOOKBACK_DAYS = 365  # opt-outs happen between signup (at most a year back) and the end


@dataclass(frozen=True)
class Response:
    """The planted effect of one action on users of one archetype."""

    p_return: float  # P(the user responds: fade stops, an extra sitting within 6 days)
    cancel_logit: float  # shift of the cancel logit in the next 30 days (before annoyance)


def _responses(**by_action: tuple[float, float]) -> dict[str, Response]:
    out = {a: Response(0.0, 0.0) for a in ACTIONS}
    out.update({a: Response(*v) for a, v in by_action.items()})
    return out


#: Who responds to what: push for late-night bingers and commuters, e-mail for families, teasers
#: for drama and sci-fi/anime fans, discounts for casual dabblers, nothing for documentary learners.
RESPONSES: dict[str, dict[str, Response]] = {
    "late_night_binger": _responses(push=(0.55, -1.5), teaser=(0.25, -0.5)),
    "family_weekend": _responses(email=(0.50, -1.5), discount=(0.15, -0.6), teaser=(0.15, -0.2)),
    "primetime_drama": _responses(teaser=(0.55, -1.5), email=(0.20, -0.5)),
    "commuter_comedy": _responses(push=(0.60, -1.5), discount=(0.10, -0.2)),
    "documentary_learner": _responses(),
    "scifi_anime_binger": _responses(teaser=(0.50, -1.5), push=(0.15, -0.5)),
    "casual_dabbler": _responses(discount=(0.45, -2.0), email=(0.10, -0.2)),
}
assert set(RESPONSES) == {a.name for a in ARCHETYPES}

P_RETURN = np.array([[RESPONSES[a.name][x].p_return for x in ACTIONS] for a in ARCHETYPES])
CANCEL_SHIFT = np.array(
    [[RESPONSES[a.name][x].cancel_logit + ANNOYANCE[x] for x in ACTIONS] for a in ARCHETYPES]
)
BASE_PROPENSITY = np.array([LOGGING_PROPENSITY[x] for x in ACTIONS])
NUDGE_FIELDS = ("event_id", "user_id", "campaign_id", "sent_at", "action", "propensity", "title_id")
OPT_OUT_FIELDS = ("user_id", "channel", "opted_out_at")


def is_campaign_day(day: date) -> bool:
    """Campaigns run every Monday (weekly: four to five per month-start hazard evaluation)."""
    return day.weekday() == 0


@dataclass
class Campaign:
    """One campaign's decisions (indices into the population / ACTIONS) for later hazard effects."""

    day: int
    users: np.ndarray
    actions: np.ndarray


class NudgeLog:
    """Opt-outs, campaigns and the state through which nudges act on the simulation.

    The simulator calls ``campaign`` on campaign days, asks ``forced_today`` for responders' extra
    sittings and ``hazard_shift`` at every month-start hazard evaluation.
    """

    def __init__(
        self,
        start: date,
        days: int,
        ids: list[str],
        title_ids: list[str],
        archetype: np.ndarray,
        country: np.ndarray,
        signup_day: np.ndarray,
        signup_second: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        self.start, self.days, self.ids, self.rng = start, days, ids, rng
        self.title_ids = title_ids
        self.archetype = archetype
        n = len(ids)
        self.offset_str = [COUNTRIES[c][1] for c in country.tolist()]
        self.offset_sec = np.array([COUNTRIES[c][2] * 60 for c in country.tolist()], dtype=np.int64)
        self.forced_day = np.full(n, -1, dtype=np.int64)
        self.last_contact_day = np.full(n, -(10**6), dtype=np.int64)
        self.campaigns: list[Campaign] = []
        self.counter = 0
        # action x archetype counts of logged decisions and of responders (truth: realized)
        self.decisions = np.zeros((len(ARCHETYPES), len(ACTIONS)), dtype=np.int64)
        self.responders = np.zeros((len(ARCHETYPES), len(ACTIONS)), dtype=np.int64)

        # Opt-outs: a channel per chosen user, at a uniform second between signup (at most a year
        # before the period) and the end of the period.
        shares = np.array([OPT_OUT_SHARE[c] for c in OPT_OUT_CHANNELS])
        draw = rng.random(n)
        cum = np.cumsum(shares)
        self.opt_channel = np.where(draw < cum[-1], np.searchsorted(cum, draw, side="right"), -1)
        lo = np.maximum(signup_day * DAY + signup_second + 60, -OPT_OUT_LOOKBACK_DAYS * DAY)
        hi = days * DAY - 1
        self.opt_second = lo + (rng.random(n) * np.maximum(hi - lo, 1)).astype(np.int64)
        self.opt_second[self.opt_channel < 0] = np.iinfo(np.int64).max

    # ------------------------------------------------------------------------------------------
    def blocked(self, users: np.ndarray, when: np.ndarray) -> np.ndarray:
        """(len(users), len(ACTIONS)) bool: actions a user had opted out of at ``when``."""
        out = np.zeros((users.size, len(ACTIONS)), dtype=bool)
        opted = self.opt_second[users] <= when
        ch = self.opt_channel[users]
        for j, action in enumerate(ACTIONS):
            channel = CHANNEL_OF[action]
            if channel is None:
                continue
            idx = OPT_OUT_CHANNELS.index(channel)
            out[:, j] = opted & ((ch == idx) | (ch == OPT_OUT_CHANNELS.index("all")))
        return out

    def campaign(
        self,
        d: int,
        eligible: np.ndarray,
        at_risk: np.ndarray,
        teaser_pick: Any,
        folder: Path,
    ) -> np.ndarray:
        """Run day ``d``'s campaign over ``eligible`` users; write its file; return responders.

        Args:
            d: the simulated day.
            eligible: indices of subscribers who may be contacted today.
            at_risk: bool per eligible user (selected more often).
            teaser_pick: callable(users, rng) -> title index per user, for teasers.
            folder: ``landing/nudges``.
        """
        rng = self.rng
        rested = self.last_contact_day[eligible] <= d - CONTACT_GAP_DAYS
        eligible, at_risk = eligible[rested], at_risk[rested]
        p_sel = np.where(at_risk, P_SELECT_AT_RISK, P_SELECT)
        users = eligible[rng.random(eligible.size) < p_sel]
        sent = d * DAY + rng.integers(9 * 3600, 21 * 3600, size=users.size)
        blocked = self.blocked(users, sent)
        keep = ~blocked[:, 1:].all(axis=1)  # nothing but 'none' possible: no decision to log
        users, sent, blocked = users[keep], sent[keep], blocked[keep]
        probs = np.where(blocked, 0.0, BASE_PROPENSITY[None, :])
        probs /= probs.sum(axis=1, keepdims=True)
        cum = np.cumsum(probs, axis=1)
        draw = rng.random(users.size) * cum[:, -1]
        action = np.minimum((cum < draw[:, None]).sum(axis=1), len(ACTIONS) - 1)
        propensity = probs[np.arange(users.size), action]
        teaser = action == ACTIONS.index("teaser")
        title = np.full(users.size, -1, dtype=np.int64)
        if teaser.any():
            title[teaser] = teaser_pick(users[teaser], rng)

        arch = self.archetype[users]
        responded = rng.random(users.size) < P_RETURN[arch, action]
        return_day = d + rng.integers(RETURN_DAYS[0], RETURN_DAYS[1] + 1, size=users.size)
        self.forced_day[users[responded]] = return_day[responded]
        self.last_contact_day[users[action != 0]] = d
        np.add.at(self.decisions, (arch, action), 1)
        np.add.at(self.responders, (arch, action), responded.astype(np.int64))
        self.campaigns.append(Campaign(day=d, users=users, actions=action))

        order = np.lexsort((users, sent - self.offset_sec[users]))
        users, sent, action = users[order], sent[order], action[order]
        propensity, title = propensity[order], title[order]
        day = self.start + timedelta(days=d)
        campaign_id = f"reengage-{day.isoformat()}"
        stamps = local_timestamps(self.start, sent, [self.offset_str[u] for u in users.tolist()])
        rows = [
            (
                f"n{self.counter + k:010d}",
                self.ids[u],
                campaign_id,
                stamp,
                ACTIONS[a],
                f"{p:.6f}",
                "" if t < 0 else self.title_ids[t],
            )
            for k, (u, stamp, a, p, t) in enumerate(
                zip(
                    users.tolist(),
                    stamps,
                    action.tolist(),
                    propensity.tolist(),
                    title.tolist(),
                    strict=True,
                )
            )
        ]
        if rows:
            self.counter += write_csv(folder / f"{day.isoformat()}.csv", NUDGE_FIELDS, rows)
        return users[responded[order]]

    def hazard_shift(self, d: int, users: np.ndarray) -> np.ndarray:
        """Cancel-logit shift at the month-start evaluation on day ``d`` from recent nudges.

        Each nudge sent on a day in [d - 30, d) adds its archetype x action shift (response plus
        annoyance); every contact beyond the first in that window adds ``FATIGUE``.
        """
        n = self.archetype.size
        shift = np.zeros(n)
        contacts = np.zeros(n, dtype=np.int64)
        for c in self.campaigns:
            if not 0 < d - c.day <= EFFECT_DAYS:
                continue
            shift[c.users] += CANCEL_SHIFT[self.archetype[c.users], c.actions]
            contacts[c.users] += (c.actions != 0).astype(np.int64)
        shift += FATIGUE * np.maximum(contacts - 1, 0)
        return shift[users]

    def write_opt_outs(self, path: Path) -> int:
        """Write ``landing/opt_outs`` (one row per opted-out user, in user order)."""
        users = np.flatnonzero(self.opt_channel >= 0)
        stamps = local_timestamps(
            self.start, self.opt_second[users], [self.offset_str[u] for u in users.tolist()]
        )
        rows = (
            (self.ids[u], OPT_OUT_CHANNELS[self.opt_channel[u]], s)
            for u, s in zip(users.tolist(), stamps, strict=True)
        )
        return write_csv(path, OPT_OUT_FIELDS, rows)

    def truth(self) -> dict[str, Any]:
        """The planted truth for ``truth/nudges.json``."""
        return {
            "actions": list(ACTIONS),
            "channel_of_action": {a: c for a, c in CHANNEL_OF.items()},
            "opt_out_channels": list(OPT_OUT_CHANNELS),
            "opt_out_rule": "a user opted out of a channel (or of 'all') at or before sent_at is "
            "never given an action on that channel; the other actions' probabilities are "
            "renormalized and the logged propensity is the renormalized one; users opted out of "
            "all channels are not in campaigns",
            "opt_out_share": dict(OPT_OUT_SHARE),
            "opt_outs": {
                c: int((self.opt_channel == k).sum()) for k, c in enumerate(OPT_OUT_CHANNELS)
            },
            "logging_propensity": dict(LOGGING_PROPENSITY),
            "costs": dict(COSTS),
            "value_of_retained_month": VALUE_OF_RETAINED_MONTH,
            "campaigns": {
                "schedule": "every Monday from the 14th day of the period on; sent_at uniform "
                "09:00-21:00 local",
                "selection": f"subscribers with tenure >= {MIN_TENURE_DAYS} days and no action "
                f"other than none in the last {CONTACT_GAP_DAYS} days: P = "
                f"{P_SELECT_AT_RISK} when at risk (views in the last 14 days < half of the 14 "
                f"days before, or none), else {P_SELECT}",
                "campaign_ids": [
                    f"reengage-{(self.start + timedelta(days=c.day)).isoformat()}"
                    for c in self.campaigns
                    if c.users.size
                ],
            },
            "mechanism": {
                "return": "with probability p_return the user responds: an engagement fade stops "
                f"and one extra sitting is played {RETURN_DAYS[0]}-{RETURN_DAYS[1]} days after "
                "the nudge",
                "cancel": "every month-start cancel-hazard evaluation within "
                f"{EFFECT_DAYS} days after the nudge adds cancel_logit_shift to the logit "
                "(truth/churn.csv churn_probability includes it, column nudge_logit)",
                "fatigue": f"+{FATIGUE} cancel logit per contact beyond the first in those "
                f"{EFFECT_DAYS} days",
                "annoyance": dict(ANNOYANCE),
            },
            "effects": {
                a.name: {
                    x: {
                        "p_return": RESPONSES[a.name][x].p_return,
                        "cancel_logit_response": RESPONSES[a.name][x].cancel_logit,
                        "cancel_logit_shift": round(float(CANCEL_SHIFT[k, j]), 6),
                    }
                    for j, x in enumerate(ACTIONS)
                }
                for k, a in enumerate(ARCHETYPES)
            },
            "realized": {
                a.name: {
                    x: {
                        "decisions": int(self.decisions[k, j]),
                        "responders": int(self.responders[k, j]),
                    }
                    for j, x in enumerate(ACTIONS)
                }
                for k, a in enumerate(ARCHETYPES)
            },
        }
