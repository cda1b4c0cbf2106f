"""Metric rings, windows, ratios and targets with an injected clock."""

import pytest

from warroom.config import MetricConfig, RatioConfig, TargetConfig, parse_config
from warroom.engine import Engine
from warroom.metrics import MAX_LABELS, OTHER_LABEL, SECONDS_KEPT, MetricsStore


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock(1_000_000.0)


def store(clock, **kw):
    return MetricsStore(
        [
            MetricConfig(name="visits", split_by="channel"),
            MetricConfig(name="orders"),
            MetricConfig(name="latency", kind="last", field="ms"),
        ],
        [
            RatioConfig(name="conversion", numerator="orders", denominator="visits"),
            RatioConfig(name="conv_1m", numerator="orders", denominator="visits", window=60),
        ],
        [TargetConfig(metric="orders", value=100)],
        clock=clock,
        **kw,
    )


def test_no_data_is_none_not_zero(clock):
    m = store(clock)
    assert m.value("visits") is None
    assert m.rate("visits", 60) is None
    assert m.ratio("conversion") is None
    assert m.value("unknown") is None
    assert m.age("visits") is None


def test_rates_windows_and_offsets(clock):
    m = store(clock)
    for second in range(600):  # 10 minutes: 2/s for the first five, 5/s after
        m.add("visits", clock.now - 600 + second, 2 if second < 300 else 5, 1)
    assert m.value("visits") == pytest.approx(300 * 2 + 300 * 5)
    assert m.rate("visits", 60) == pytest.approx(5)
    assert m.rate("visits", 60, offset=400) == pytest.approx(2)
    assert m.window_sum("visits", 120) == pytest.approx(600)


def test_current_partial_second_is_not_counted(clock):
    m = store(clock)
    m.add("visits", clock.now + 0.5, 100, 100)
    assert m.rate("visits", 10) == 0
    clock.now += 1
    assert m.rate("visits", 10) == pytest.approx(10)


def test_ratio_over_zero_is_no_data_and_windowed_ratio(clock):
    m = store(clock)
    m.add("orders", clock.now - 5, 3, 3)
    assert m.ratio("conversion") is None
    m.add("visits", clock.now - 5, 30, 30)
    m.add("visits", clock.now - 500, 70, 70)
    assert m.ratio("conversion") == pytest.approx(3 / 100)
    assert m.ratio("conv_1m") == pytest.approx(3 / 30)


def test_gauge_keeps_latest_by_record_time(clock):
    m = store(clock)
    m.add("latency", clock.now - 2, 80.0, 1)
    m.add("latency", clock.now - 10, 500.0, 1)  # late arrival of an older sample
    assert m.value("latency") == 80.0
    assert m.rate("latency", 30) == pytest.approx(290.0)  # a gauge's window mean


def test_old_points_count_in_totals_but_not_windows(clock):
    m = store(clock)
    m.add("visits", clock.now - 10 * 86400, 5, 5)
    assert m.value("visits") == 5
    assert m.window_sum("visits", 3600) == 0


def test_launch_time_limits_totals(clock):
    m = store(clock)
    m.add("orders", clock.now - 100, 4, 4)
    m.add("orders", clock.now - 10, 6, 6)
    m.set_launch(clock.now - 50)
    assert m.value("orders") == 6
    m.add("orders", clock.now - 1, 1, 1)
    m.add("orders", clock.now - 70, 1, 1)  # a late record from before the launch
    assert m.value("orders") == 7


def test_labels_are_bounded(clock):
    m = store(clock)
    for n in range(MAX_LABELS + 20):
        m.add("visits", clock.now - 1, 1, 1, label=f"c{n}")
    labels = dict(m.top_labels("visits", 1000))
    assert len(labels) == MAX_LABELS + 1
    assert labels[OTHER_LABEL] == 20


def test_memory_is_bounded_by_the_rings(clock):
    m = store(clock)
    for second in range(3 * SECONDS_KEPT):
        m.add("visits", clock.now - 3 * SECONDS_KEPT + second, 1, 1)
    ring = m.series["visits"].seconds
    assert len(ring.sums) == SECONDS_KEPT
    assert m.value("visits") == 3 * SECONDS_KEPT
    assert m.window_sum("visits", 600) == 600
    # Beyond the per-second ring, windows fall back to the per-minute ring.
    assert m.window_sum("visits", 2 * 3600) == pytest.approx(7200, abs=60)


def test_target_projection(clock):
    m = store(clock)
    for second in range(300):
        m.add("orders", clock.now - 300 + second, 0.2, 1)
    (status,) = m.targets()
    assert status.actual == pytest.approx(60)
    assert status.progress == pytest.approx(0.6)
    assert status.eta_seconds == pytest.approx(40 / 0.2)
    m.add("orders", clock.now - 1, 50, 1)
    assert m.targets()[0].reached and m.targets()[0].eta_seconds == 0


def test_chart_bins_per_second_rate(clock):
    m = store(clock)
    for second in range(60):
        m.add("visits", clock.now - 60 + second, 3, 3)
    values = m.chart("visits", 60, 6)
    assert values == pytest.approx([3.0] * 6)


def test_before_launch_totals_show_the_warm_up(clock):
    m = store(clock)
    m.add("orders", clock.now - 10, 4, 4)
    m.set_launch(clock.now + 60)
    assert m.value("orders") == 4  # T-60s: the warm-up so far
    clock.now += 61
    assert m.value("orders") is not None and m.value("orders") == 0  # T0: counting afresh


def test_target_eta_uses_the_pace_of_the_last_five_minutes(clock):
    """The README's "when the target will be reached at the pace of the last five minutes",
    with the metrics the engine builds for the app."""
    config = parse_config(
        '[[sources]]\nname = "shop"\nkind = "http"\nurl = "http://127.0.0.1:9/stats"\n'
        '[[metrics]]\nname = "orders"\nsource = "shop"\n'
        '[[targets]]\nmetric = "orders"\nvalue = 1000\n'
    )
    metrics = Engine(config, clock=clock).metrics  # built as the app builds it
    # Three paces, so each window gives another answer: 2/s in the last minute, 0.5/s in
    # the four minutes before it, 1/s in the five minutes before those.
    for age in range(1, 601):
        per_second = 2.0 if age <= 60 else 0.5 if age <= 300 else 1.0
        metrics.add("orders", clock.now - age, per_second, 1)
    (status,) = metrics.targets()
    assert status.actual == pytest.approx(120 + 120 + 300)
    assert status.rate_per_s == pytest.approx((120 + 120) / 300)  # 60 s: 2.0, 600 s: 0.9
    assert status.eta_seconds == pytest.approx((1000 - 540) / 0.8)
