"""The simulated launch: a seeded generator of business events and access-log lines.

The scenario is a pure function of (seed, simulated time): `advance(now)` simulates every
whole simulated second up to `now` and returns the events that fall in them, so the stream is
the same whether it is pulled in 100 ms steps at speed 60 or one second at a time at speed 1.
Each visitor's whole journey (landing page, static asset, rules and reward pages, sign-up,
checkout, session end) is drawn when the visitor arrives and queued on a heap by event
time; a ticket's later updates are queued the same way.

The launch arc, in simulated time relative to the launch (T0), is written as keyframes
(`VISITORS_PER_MIN`, `SERVER_ERROR_SHARE`, ...) interpolated linearly between points, so
the story can be read and tuned in one place:

    T-10m  warm-up: a trickle of early visitors
    T0     launch: the push notification goes out, traffic jumps
    T+2m   surge: up to ~3x the launch level until T+8m; the launch e-mail at T+5m
    T+10m  problem: 5xx share and bounce rate climb, latency up, "page error" tickets flood;
           checkout fails outright from T+12m to T+15m (no orders at all)
    T+16m  recovery: errors and bounces fall back by T+25m
    T+25m  steady tail, forever, with a slow wave

A bounce is a session with a single page view. The log alone cannot say that a visitor left,
so the feed sends one `session` event per visitor as soon as that is known: `bounced` true
when the visitor leaves after the landing page, false at their second page view. The bounce
rate is bounces / sessions over those events.
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Record = dict[str, Any]

# --------------------------------------------------------------------------- the clock


class SimClock:
    """Simulated epoch seconds: `start_sim_epoch` at the anchor, `speed` simulated seconds
    per real second after it. The whole demo (record times, windows, the launch clock)
    runs on one of these."""

    def __init__(self, start_sim_epoch: float, speed: float = 1.0, real: Callable[[], float] = time.monotonic) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.start_sim_epoch = float(start_sim_epoch)
        self.speed = float(speed)
        self._real = real
        self._anchor = real()

    def anchor(self) -> None:
        """Restart the simulation at `start_sim_epoch` from this real moment."""
        self._anchor = self._real()

    def __call__(self) -> float:
        return self.start_sim_epoch + (self._real() - self._anchor) * self.speed

    def spec(self) -> str:
        """The clock as text, for another process of the demo (`from_spec`). Only a clock on
        the wall time (`real=time.time`) means the same in another process."""
        return f"{self.start_sim_epoch!r},{self._anchor!r},{self.speed!r}"

    @classmethod
    def from_spec(cls, spec: str) -> SimClock:
        """The clock `spec()` described, on the wall time."""
        try:
            start, anchor, speed = (float(part) for part in spec.split(","))
        except ValueError:
            raise ValueError(f"not a demo clock: {spec!r}") from None
        clock = cls(start, speed, real=time.time)
        clock._anchor = anchor
        return clock


# --------------------------------------------------------------------------- the arc

Keyframes = list[tuple[float, float]]

VISITORS_PER_MIN: Keyframes = [
    (-600, 16),
    (-1, 20),
    (0, 70),
    (60, 80),
    (120, 95),
    (240, 210),
    (330, 220),
    (480, 130),
    (600, 115),
    (960, 100),
    (1500, 80),
]
SERVER_ERROR_SHARE: Keyframes = [  # of dynamic requests (pages and API calls)
    (-600, 0.002),
    (600, 0.004),
    (690, 0.04),
    (810, 0.14),
    (930, 0.25),
    (960, 0.22),
    (1080, 0.04),
    (1260, 0.004),
]
BOUNCE_PROBABILITY: Keyframes = [
    (-600, 0.38),
    (600, 0.36),
    (780, 0.52),
    (930, 0.72),
    (960, 0.68),
    (1200, 0.42),
    (1500, 0.36),
]
LATENCY_MS: Keyframes = [  # p95 reported by the stats endpoint
    (-600, 70),
    (0, 90),
    (180, 160),
    (330, 240),
    (480, 140),
    (600, 150),
    (840, 700),
    (930, 980),
    (1020, 520),
    (1200, 160),
    (1500, 90),
]
PAGE_ERROR_TICKETS_PER_MIN: Keyframes = [
    (-600, 0.0),
    (600, 0.05),
    (720, 3.0),
    (870, 10.0),
    (960, 6.0),
    (1080, 0.6),
    (1500, 0.05),
]
OTHER_TICKETS_PER_MIN: Keyframes = [(-600, 0.1), (0, 0.6), (360, 1.5), (960, 1.0), (1500, 0.6)]
CHECKOUT_DOWN = (720.0, 900.0)  # T+12m..T+15m: every order call fails
TAIL_FROM = 1500.0
PREREGISTERED = 1800  # participants signed up before launch day (teaser campaign)


def interpolate(frames: Keyframes, t: float) -> float:
    """Piecewise-linear value of `frames` at `t`, flat before the first and after the last."""
    times = [f[0] for f in frames]
    i = bisect.bisect_right(times, t)
    if i == 0:
        return frames[0][1]
    if i == len(frames):
        return frames[-1][1]
    (t0, v0), (t1, v1) = frames[i - 1], frames[i]
    return v0 + (v1 - v0) * (t - t0) / (t1 - t0)


def visitors_per_min(t: float) -> float:
    base = interpolate(VISITORS_PER_MIN, t)
    if t >= TAIL_FROM:  # the tail breathes a little so the chart never goes flat
        base *= 1.0 + 0.12 * math.sin((t - TAIL_FROM) / 180.0)
    return base


def phase_of(t: float) -> str:
    """Name of the scenario phase at `t` seconds from launch."""
    for end, name in (
        (0, "warm-up"),
        (120, "launch"),
        (480, "surge"),
        (600, "steady"),
        (960, "problem"),
        (1500, "recovery"),
    ):
        if t < end:
            return name
    return "tail"


# Where visitors come from: (channel, weight, utm_source or None, referrer choices).
# utm-tagged links carry their channel in the URL; the others only in the referrer.
SEARCH_REFERRERS = [
    "https://www.google.com/search?q=spring+drop",
    "https://www.bing.com/search?q=spring+drop",
    "https://duckduckgo.com/",
]
SOCIAL_REFERRERS = ["https://www.facebook.com/", "https://l.instagram.com/", "https://t.co/xYz12"]


def channel_weights(t: float) -> list[tuple[str, float]]:
    push = 0.08 + (0.45 if 0 <= t < 180 else 0.0)  # the push notification at T0
    email = 0.06 + (0.35 if 300 <= t < 540 else 0.0)  # the launch e-mail at T+5m
    return [
        ("social", 0.24),
        ("social_ref", 0.08),
        ("search", 0.16),
        ("push", push),
        ("email", email),
        ("partner", 0.11),
        ("direct", 0.14),
    ]


USER_AGENTS = [  # real browsers' strings, whole
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",  # noqa: E501
    "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15",  # noqa: E501
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
]
STATIC_ASSETS = [("/static/app.3f9c1e.js", 48211), ("/static/launch.8a2b.css", 9120), ("/static/hero.webp", 183404)]
ORDER_AMOUNTS = [(19.0, 3), (29.0, 4), (49.0, 5), (79.0, 2), (129.0, 1)]
TICKET_SUBJECTS = {
    "page error": [
        "Page shows an error when I open the offer",
        "Error 502 on the launch page",
        "The reward page does not load",
        "Checkout says something went wrong",
    ],
    "reward not received": [
        "I did not get my reward",
        "Reward code missing after purchase",
        "Where is my welcome gift?",
    ],
    "rules question": ["Can I take part twice?", "Does the offer apply in my country?", "How is the winner chosen?"],
    "complaint": ["Your site was down during the launch", "Too many notifications", "The offer ended too fast"],
}
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def nginx_time(epoch: float) -> str:
    """`$time_local` in UTC, independent of the locale: 25/Nov/2026:15:30:01 +0000."""
    t = time.gmtime(epoch)
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"


# --------------------------------------------------------------------------- the generator


@dataclass
class Batch:
    """What one step of simulated time produced, per transport, in time order."""

    events: list[Record] = field(default_factory=list)  # for the websocket feed
    log_lines: list[str] = field(default_factory=list)  # for the access log, no newline

    def __len__(self) -> int:
        return len(self.events) + len(self.log_lines)


class Scenario:
    """Seeded generator of the launch. Uses only its own `random.Random`."""

    def __init__(self, seed: int, launch_at: float, begin_at: float | None = None) -> None:
        self.seed = seed
        self.launch_at = float(launch_at)
        begin = self.launch_at - 600 if begin_at is None else begin_at
        self._rng = random.Random(seed)
        self._until = math.floor(begin)  # every second before this has been simulated
        self._heap: list[tuple[float, int, str, Any]] = []
        self._seq = 0
        self._visitors = 0
        self._next_ticket = 4101
        self._orders = 0
        self.registrations = 0  # emitted so far; feeds the participants gauge

    # ------------------------------------------------------------------ public

    def advance(self, now: float) -> Batch:
        """Simulate every whole second up to `now` and return the events due by then."""
        end = math.floor(now)
        for second in range(self._until, end):
            self._simulate_second(second)
        self._until = max(self._until, end)
        batch = Batch()
        heap = self._heap
        while heap and heap[0][0] < self._until:
            ts, _, kind, payload = heapq.heappop(heap)
            if kind == "log":
                batch.log_lines.append(payload(ts))
            else:
                record = payload(ts) if callable(payload) else payload
                if record.get("kind") == "registration":
                    self.registrations += 1
                batch.events.append(record)
        return batch

    def stats(self, now: float) -> Record:
        """The backend's own figures at simulated time `now`, as the stats endpoint serves them.

        Noise comes from a generator seeded by the second, so polling never disturbs the
        event stream and two runs answer alike."""
        t = now - self.launch_at
        rng = random.Random(self.seed * 1_000_003 + int(now))
        latency = interpolate(LATENCY_MS, t) * (0.9 + 0.2 * rng.random())
        load = visitors_per_min(t) / 60.0
        queue = max(0, round(load * latency / 1000.0 * 4 + rng.uniform(-1, 1)))
        return {
            "ts": round(now, 3),
            "participants": PREREGISTERED + self.registrations,
            "online": round(visitors_per_min(t) * 3.5 * (0.95 + 0.1 * rng.random())),
            "latency_ms": round(latency, 1),
            "queue_depth": queue,
        }

    # ------------------------------------------------------------------ simulation

    def _push(self, ts: float, kind: str, payload: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (ts, self._seq, kind, payload))

    def _simulate_second(self, second: int) -> None:
        rng = self._rng
        t = second - self.launch_at
        arrivals = _draw_count(rng, visitors_per_min(t) / 60.0)
        for _ in range(arrivals):
            self._visitor(second + rng.random())
        for category_rate, categories in (
            (interpolate(PAGE_ERROR_TICKETS_PER_MIN, t) / 60.0, ["page error"]),
            (
                interpolate(OTHER_TICKETS_PER_MIN, t) / 60.0,
                ["reward not received", "rules question", "complaint", "reward not received"],
            ),
        ):
            for _ in range(_draw_count(rng, category_rate)):
                self._ticket(second + rng.random(), rng.choice(categories))

    def _visitor(self, start: float) -> None:
        rng = self._rng
        t = start - self.launch_at
        self._visitors += 1
        session = f"s{self._visitors:06d}"
        user = f"u{self.seed % 100:02d}{self._visitors:06d}"
        channel, shown_by = _pick_channel(rng, t)
        ip = f"{rng.choice(('192.0.2', '198.51.100', '203.0.113'))}.{rng.randrange(1, 255)}"
        agent = rng.choice(USER_AGENTS)
        if shown_by == "utm":
            landing, referrer = f"/launch?utm_source={channel}&utm_campaign=spring_drop", "-"
        elif channel == "search":
            landing, referrer = "/launch", rng.choice(SEARCH_REFERRERS)
        elif channel == "social":
            landing, referrer = "/launch", rng.choice(SOCIAL_REFERRERS)
        else:
            landing, referrer = "/launch", "-"
        error_share = interpolate(SERVER_ERROR_SHARE, t)
        latency = interpolate(LATENCY_MS, t) / 1000.0
        site = "https://shop.example.com"

        def hit(at: float, method: str, path: str, size: int, ref: str, fail: bool = False) -> bool:
            # Static assets come from the CDN and never fail; pages and API calls can.
            failed = fail or (not path.startswith("/static/") and rng.random() < error_share)
            status = rng.choice((502, 503, 504, 500)) if failed else (200 if method == "GET" else 201)
            body = rng.randrange(150, 600) if failed else size + rng.randrange(0, 400)
            took = latency * rng.uniform(0.3, 1.1) * (4.0 if failed else 1.0)
            line = f'{ip} - - [{{time}}] "{method} {path} HTTP/1.1" {status} {body} "{ref}" "{agent}" {took:.3f}'
            self._push(at, "log", lambda ts, line=line: line.replace("{time}", nginx_time(ts), 1))
            return not failed

        landed = hit(start, "GET", landing, 24_000, referrer)
        now = start + rng.uniform(0.05, 0.4)
        if landed and rng.random() < 0.4:
            asset, size = rng.choice(STATIC_ASSETS)
            hit(now, "GET", asset, size, site + "/launch")
        bounced = not landed or rng.random() < interpolate(BOUNCE_PROBABILITY, t)
        if bounced:
            self._push(
                start + rng.uniform(8, 45),
                "event",
                self._record("session", session=session, channel=channel, bounced=True),
            )
            return
        now = start + rng.uniform(5, 30)
        self._push(now, "event", self._record("session", session=session, channel=channel, bounced=False))
        if rng.random() < 0.5:
            hit(now, "GET", "/launch/rules", 12_000, site + "/launch")
            now += rng.uniform(5, 40)
        ok = hit(now, "GET", "/reward", 18_000, site + "/launch")
        for action, p in (("like", 0.35), ("comment", 0.08), ("share", 0.06)):
            if rng.random() < p:
                self._push(
                    now + rng.uniform(1, 20),
                    "event",
                    self._record(action, user=user, channel=channel, post="launch-post"),
                )
        if ok and rng.random() < 0.45:
            now += rng.uniform(10, 60)
            if hit(now, "POST", "/api/register", 350, site + "/reward"):
                self._push(now, "event", self._record("registration", user=user, channel=channel))
                if rng.random() < 0.42:
                    now += rng.uniform(15, 90)
                    hit(now, "GET", "/checkout", 15_000, site + "/reward")
                    now += rng.uniform(10, 45)
                    down = CHECKOUT_DOWN[0] <= now - self.launch_at < CHECKOUT_DOWN[1]
                    amount = _weighted(rng, ORDER_AMOUNTS)
                    if hit(now, "POST", "/api/order", 420, site + "/checkout", fail=down):
                        self._orders += 1
                        self._push(
                            now,
                            "event",
                            self._record(
                                "order",
                                order_id=f"o{self._orders:06d}",
                                user=user,
                                channel=channel,
                                amount=amount,
                                currency="EUR",
                            ),
                        )
                        if rng.random() < 0.03:  # a few never see their reward arrive
                            self._ticket(now + rng.uniform(120, 600), "reward not received")

    def _ticket(self, at: float, category: str) -> None:
        rng = self._rng
        t = at - self.launch_at
        ticket_id = f"T-{self._next_ticket}"
        self._next_ticket += 1
        if category == "page error":
            priority = "urgent" if rng.random() < 0.3 else "high"
        elif category == "reward not received":
            priority = rng.choice(("high", "normal", "normal"))
        elif category == "complaint":
            priority = rng.choice(("normal", "low"))
        else:
            priority = rng.choice(("normal", "low", "low"))
        ticket = {
            "id": ticket_id,
            "subject": rng.choice(TICKET_SUBJECTS[category]),
            "customer": f"C-{rng.randrange(10_000, 99_999)}",
            "category": category,
            "priority": priority,
            "status": "new",
            "opened": round(at, 3),
        }
        self._push(at, "event", self._ticket_event(ticket))
        # The help desk works the ticket: opened within minutes, some solved later; page
        # errors raised during the problem are escalated once the incident is known.
        later = at + rng.uniform(90, 420)
        ticket = dict(ticket, status="open")
        if category == "page error" and 660 <= t < 960 and priority == "high" and rng.random() < 0.4:
            ticket["priority"] = "urgent"
        self._push(later, "event", self._ticket_event(ticket))
        if rng.random() < 0.6:
            solved_at = max(later, self.launch_at + 1000 if category == "page error" else later)
            self._push(solved_at + rng.uniform(120, 900), "event", self._ticket_event(dict(ticket, status="solved")))

    @staticmethod
    def _ticket_event(ticket: Record) -> Callable[[float], Record]:
        return lambda ts: {"kind": "ticket", "ts": round(ts, 3), **ticket}

    @staticmethod
    def _record(kind: str, **fields: Any) -> Callable[[float], Record]:
        return lambda ts: {"kind": kind, "ts": round(ts, 3), **fields}


def _draw_count(rng: random.Random, mean: float) -> int:
    """A Poisson-like count with this mean: cheap, and never negative."""
    if mean <= 0:
        return 0
    if mean < 30:
        # Knuth's method; fine for the small per-second means used here.
        limit, k, p = math.exp(-mean), 0, rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k
    return max(0, round(rng.gauss(mean, math.sqrt(mean))))


def _pick_channel(rng: random.Random, t: float) -> tuple[str, str]:
    """(channel, how it shows): "utm" in the landing URL, else "referrer" or "none"."""
    weights = channel_weights(t)
    name = _weighted(rng, weights)
    if name == "social_ref":
        return "social", "referrer"
    if name in ("social", "push", "email", "partner"):
        return name, "utm"
    return name, "referrer" if name == "search" else "none"


def _weighted(rng: random.Random, choices: Sequence[tuple[Any, float]]) -> Any:
    total = sum(w for _, w in choices)
    pick = rng.random() * total
    for value, weight in choices:
        pick -= weight
        if pick < 0:
            return value
    return choices[-1][0]
