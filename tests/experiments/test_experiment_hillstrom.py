"""The readout reproduces the known lifts of a real randomized test (Hillstrom's e-mail
campaign, read in place from the real-data folder; skipped with the reason when absent)."""

from __future__ import annotations

import pytest

from ml.experiments import SHIP
from ml.experiments.hillstrom import hillstrom_readout


def test_hillstrom_visit_lifts_srm_and_decision(real_data) -> None:
    data_dir = real_data.root()
    real_data("hillstrom", "SOURCE.md")
    r = hillstrom_readout(data_dir)
    assert r.srm.counts == {"No E-Mail": 21306, "Mens E-Mail": 21307, "Womens E-Mail": 21387}
    assert not r.srm.flagged
    by = {(m.variant, m.metric): m for m in r.metrics}
    # known visit lifts: Mens 0.0766 ± 0.007, Womens 0.0452 ± 0.006 (95 % half-widths)
    for variant, lift, half in (("Mens E-Mail", 0.0766, 0.007), ("Womens E-Mail", 0.0452, 0.006)):
        visit = by[(variant, "visit")]
        assert visit.lift_raw == pytest.approx(lift, abs=1e-4)
        assert visit.lift == pytest.approx(lift, abs=1e-3)  # CUPED moves it by noise only
        assert (visit.ci_high - visit.ci_low) / 2 == pytest.approx(half, abs=0.001)
        assert 0 <= visit.cuped_variance_reduction < 0.05  # history/recency barely predict visits
    # the published per-arm rates (SOURCE.md)
    assert by[("Mens E-Mail", "visit")].mean_variant == pytest.approx(0.18276, abs=1e-5)
    assert by[("Womens E-Mail", "conversion")].mean_variant == pytest.approx(0.00884, abs=1e-5)
    assert by[("Mens E-Mail", "spend")].mean_control == pytest.approx(0.65279, abs=1e-5)
    assert all(m.p_adjusted < 0.01 for m in r.metrics)
    assert r.decision.verdict == SHIP and r.decision.variant == "Mens E-Mail"
    assert {m.segment for m in r.segments} == {"Multichannel", "Phone", "Web"}
