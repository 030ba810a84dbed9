"""`sfq bench overhead`'s figures from hand-made step timings."""

from __future__ import annotations

import pytest

from streamflow_quantum.bench.overhead import figures


def test_round_trip_is_the_median_step_less_the_median_backend_job() -> None:
    result = figures("serial", brokered=[1.0, 3.0, 2.0], backend=[0.1, 0.5, 0.2], direct=[4.0, 6.0])
    assert result == pytest.approx(
        {
            "packing": "serial",
            "steps": 3,
            "step_wall_s": 2.0,
            "backend_job_s": 0.2,
            "overhead_s": 1.8,
            "direct_step_wall_s": 5.0,
            "direct_over_brokered": 2.5,
        }
    )


def test_medians_ignore_one_slow_step() -> None:
    result = figures(
        "space-time", brokered=[0.3, 0.3, 9.0, 0.3], backend=[0.05] * 4, direct=[3.0, 3.0]
    )
    assert result["step_wall_s"] == pytest.approx(0.3)
    assert result["overhead_s"] == pytest.approx(0.25)
    assert result["direct_over_brokered"] == pytest.approx(10.0)
