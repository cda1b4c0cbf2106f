"""What the recorder's snapshot says numbers mean: levels against bounds (configured or read
from the alert rules), alert values in their rule's unit, an honest chart peak, the queue's
figures; and that it survives the trip through the room."""

from tests.ui.appfixtures import LAUNCH, NOW, UiRoom
from warroom import snapshot as snap
from warroom.config import parse_config

RULES = """
[[alerts]]
name = "surge"
expr = "change(visits, 1m, 5m) > 50%"
severity = "info"
summary = "visits up {value}"

[[alerts]]
name = "errors_high"
expr = "value(error_rate) > 0.1% and rate(requests, 1m) > 0"
severity = "warning"
summary = "error rate at {value}"
"""


def published(room: UiRoom) -> snap.Snapshot:
    with room.store() as store:
        return snap.decode(store.snapshot()[2])


def test_levels_units_and_peak_reach_every_screen(tmp_path):
    room = UiRoom(tmp_path, extra=RULES)
    # A burst of 40 visits in one second, 30 s ago: the busiest second of the window.
    burst = [{"path": "/landing?utm_source=push", "status": 200, "ts": NOW - 30} for _ in range(40)]
    room.recorder.engine.pipeline.ingest("web", burst, NOW)
    room.tick()
    shown = published(room)

    error_rate = shown.metric("error_rate")
    assert error_rate.value > 0.001 and error_rate.level == "warn"  # the warning rule's bound
    assert shown.metric("visits").level == ""  # nothing bounds it

    surge = next(a for a in shown.alerts if a.name == "surge")
    assert surge.value_text.endswith("%") and surge.summary == f"visits up {surge.value_text}"
    assert shown.alert_units == {"errors_seen": "", "surge": "%", "errors_high": "%"}

    chart = shown.chart
    assert chart.peak == 41.0  # the burst and the visit of that second, not a bin's mean
    assert chart.peak_at == NOW - 30
    assert chart.unit == "/s"
    assert max(chart.binned(40)) < chart.peak  # a 40-column chart averages it away
    assert shown.queue == snap.QueueView(0, 0, 0)


def test_configured_bounds_win_over_the_rules():
    config = parse_config(
        """
[[metrics]]
name = "errors"
[[metrics]]
name = "requests"
[[metrics]]
name = "stock"
kind = "last"
field = "n"
warn = "< 100"
crit = "< 10"
[[ratios]]
name = "error_rate"
numerator = "errors"
denominator = "requests"
warn = "> 2%"
[[alerts]]
name = "a"
expr = "error_rate > 5% and error_rate > 4%"
severity = "critical"
[[alerts]]
name = "b"
expr = "error_rate > 1%"
severity = "warning"
[[alerts]]
name = "c"
expr = "not (stock > 1) or open_tickets > 50"
severity = "critical"
[[alerts]]
name = "d"
expr = "20 < sla_breaches"
severity = "critical"
"""
    )
    meaning = snap.meaning(config)
    rate = meaning.bounds["error_rate"]
    assert rate.warn == (">", 0.02)  # configured, not the rule's 1%
    assert rate.crit == (">", 0.04)  # from rule a: the first of its two bounds to be passed
    assert [rate.level(v) for v in (0.01, 0.03, 0.045, None)] == ["ok", "warn", "crit", ""]
    stock = meaning.bounds["stock"]
    assert [stock.level(v) for v in (500, 50, 5)] == ["ok", "warn", "crit"]
    assert "open_tickets" not in meaning.bounds  # under `or`: not a bound of its own
    assert meaning.bounds["sla_breaches"].crit == (">", 20.0)  # written the other way round


def test_a_snapshot_survives_the_room(tmp_path):
    room = UiRoom(tmp_path, extra=RULES)
    shown = published(room)
    assert snap.decode(snap.encode(shown)) == shown
    assert shown.version == snap.VERSION == 2
    assert shown.launch_at == LAUNCH
