"""Notifications in the room's recorder: decide on the tick, queue in the room, deliver.

The recorder is the only process that sends, so a notification goes out once however many
dashboards are attached. `RecorderNotifications` is its part of the recorder:

- `restore()` when the recorder opens the room: the routing state and the outbox as the
  previous recorder left them;
- `tick(now, alerts)` on every recorder tick: the routing (warroom.notify.routing) runs on
  the alerts as they are, and what it decides is queued in the room together with the state
  that decided it (`RoomStore.queue_notifications`);
- `queue_breaches(...)` inside the SLA sweep's transaction, so a breach marked is a breach
  notified;
- `run()`, a task on the recorder's event loop: one delivery loop per receiver, sending its
  queue in order (see warroom/store/outbox.py for the claim, the retries and the log);
- `view()` for the snapshot: each receiver's deliveries and the inhibited alerts.

Times: routing runs on the recorder's clock, like the alert rules it follows; delivery
(backoff, rate limits, the give-up time) on the wall clock, which is what the receivers
live by, so a simulated clock cannot hurry a retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from warroom.model import format_duration
from warroom.notify.message import Notification
from warroom.notify.receivers import DeliveryError, Receiver, make_client
from warroom.notify.routing import Breach, Notifier
from warroom.notify.view import FAILING, IDLE, OK, RETRYING, WAITING, DeliveriesView, ReceiverView
from warroom.store.outbox import FAILED, PENDING, SENDING, SENT, OutboxEntry, Queued

if TYPE_CHECKING:
    from warroom.alerts import AlertEngine
    from warroom.config import Config
    from warroom.door import Door
    from warroom.store import RoomStore

log = logging.getLogger(__name__)

T = TypeVar("T")
IDLE_CHECK = 5.0
"""Seconds a delivery loop with nothing to send waits before it looks at the room again
(it is woken at once when this recorder queues something)."""
STOP_GRACE = 3.0
"""Seconds a send under way may still take when the recorder stops."""
RATE_WINDOW = 60.0


@dataclass
class _Stats:
    """One receiver's deliveries, kept for the screen."""

    last_sent_at: float | None = None
    last_attempt_at: float | None = None
    last_error: str = ""
    failures: int = 0
    waiting: int = 0
    given_up: int = 0
    sent: int = 0
    limited: bool = False
    recent: deque[float] = field(default_factory=deque)
    """Wall-clock times of the deliveries of the last minute."""


class RecorderNotifications:
    """See the module docstring."""

    def __init__(
        self,
        config: Config,
        door: Door,
        session_id: str,
        *,
        clock: Callable[[], float] = time.time,
        wall: Callable[[], float] = time.time,
        fence: tuple[int, str] | None = None,
    ) -> None:
        settings = config.notify
        self.settings = settings
        self.enabled = bool(settings.receivers and settings.routes)
        self.door = door
        self.session_id = session_id
        self.fence = fence
        """(pid, host) the room checks before a PostgreSQL recorder's writes (LiveStore.check_fence)."""
        self.clock = clock
        self.wall = wall
        self.notifier = Notifier(settings, config.launch.name)
        base_dir = config.path.parent if config.path is not None else Path.cwd()
        self.receivers = {r.name: Receiver(r, base_dir=base_dir, scrub=config.scrub) for r in settings.receivers}
        self.stats = {name: _Stats() for name in self.receivers}
        self.inhibited: dict[str, str] = {}
        self.undelivered: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: dict[str, asyncio.Event] = {}

    # ------------------------------------------------------------------ deciding

    def restore(self) -> None:
        """Read the routing state and the outbox the previous recorder left."""
        if not self.enabled:
            return
        since = self.wall() - RATE_WINDOW

        def read(store: RoomStore) -> tuple[dict[str, str], Any, set[str]]:
            return store.notify_states(), store.receiver_summaries(since), store.undelivered_groups()

        states, summaries, self.undelivered = self.door.read(read).result()
        self.notifier.restore(states)
        for name, summary in summaries.items():
            stats = self.stats.get(name)
            if stats is not None:
                stats.waiting, stats.given_up, stats.last_sent_at = (
                    summary.waiting,
                    summary.failed,
                    summary.last_sent_at,
                )
                stats.recent.extend(summary.recent_sends)

    def tick(self, now: float, alerts: AlertEngine) -> None:
        """Route the alerts as they are now; queue what is due (one write)."""
        if not self.enabled:
            return
        outcome = self.notifier.evaluate(now, alerts.alerts(now, include_inactive=True), self.undelivered)
        self.inhibited = outcome.inhibited
        if not (outcome.notifications or outcome.states or outcome.logs):
            return
        queued = [Queued(n.id, n.receiver, group, now, n.to_json()) for group, n in outcome.notifications]
        self.undelivered |= {q.group_key for q in queued}
        for q in queued:
            self.stats[q.receiver].waiting += 1
        states, logs, wall = outcome.states, outcome.logs, self.wall()
        future = self.door.write(
            lambda s: s.queue_notifications(queued, states, logs, at=now, queued_at=wall, fence=self.fence)
        )
        future.add_done_callback(lambda f: self._woken({q.receiver for q in queued}))

    def queue_breaches(self, store: RoomStore, mark: Callable[[], Sequence[Any]], now: float) -> Sequence[Any]:
        """Run the SLA sweep `mark` (returns store Breach rows) and queue a notification for
        each breach it marks, in one transaction. Runs on the room's writer thread."""
        if not self.enabled:
            return mark()

        def decide(breaches: Sequence[Any]) -> list[Queued]:
            found = []
            for b in breaches:
                ticket = store.get_ticket(b.ticket_id)
                found.append(
                    Breach(
                        b.ticket_id,
                        b.kind,
                        b.due,
                        b.priority,
                        ticket.subject if ticket else "",
                        ticket.category if ticket else "",
                    )
                )
            notes = self.notifier.breaches(now, found)
            if notes:
                self._on_loop(self._woken, {n.receiver for n in notes})
            return [Queued(n.id, n.receiver, n.id, now, n.to_json()) for n in notes]

        return store.queue_with(mark, decide, at=now, queued_at=self.wall(), fence=self.fence)

    # ------------------------------------------------------------------ delivering

    async def run(self) -> None:
        """Deliver every receiver's queue until cancelled."""
        if not self.enabled:
            return
        self._loop = asyncio.get_running_loop()
        self._wake = {name: asyncio.Event() for name in self.receivers}
        tasks = [asyncio.create_task(self._deliver(r), name=f"notify:{r.name}") for r in self.receivers.values()]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _deliver(self, receiver: Receiver) -> None:
        client = make_client(receiver.config) if receiver.config.url else None
        try:
            while True:
                try:
                    await self._next(receiver, client)
                except asyncio.CancelledError:
                    raise
                except Exception:  # a room that cannot be read just now, a bug: never a tight loop
                    log.exception("notify %s: delivery loop failed; trying again", receiver.name)
                    await asyncio.sleep(IDLE_CHECK)
        finally:
            if client is not None:
                await client.aclose()

    async def _next(self, receiver: Receiver, client: Any) -> None:
        """Deliver (or wait for) the head of the receiver's queue."""
        name, stats = receiver.name, self.stats[receiver.name]
        entry = await self._room(self.door.read(lambda s: s.next_notification(name)))
        if entry is None:
            stats.waiting = 0
            await self._sleep(name, IDLE_CHECK)
            return
        wall = self.wall()
        delay = max(entry.next_at - wall, self._rate_delay(receiver, wall))
        if delay > 0:
            await self._sleep(name, delay)
            return
        note = Notification.from_json(entry.body)
        in_flight = None
        if entry.state == SENDING and entry.claimed_by != self.session_id:
            claimed_by = entry.claimed_by or ""
            who = await self._room(self.door.read(lambda s: s.session_who(claimed_by))) or "another recorder"
            in_flight = (
                "warning",
                f"notify {name}: {_what(note)} was being sent when recorder {who} stopped; "
                f"sending it again (the receiver may get it twice, with the same id)",
                _alert(note),
            )
        at = self.clock()
        claimed = await self._room(
            self.door.write(
                lambda s: s.claim_notification(entry.id, self.session_id, at=at, in_flight=in_flight, fence=self.fence)
            )
        )
        if not claimed:
            return
        stats.last_attempt_at = self.wall()
        send = asyncio.ensure_future(receiver.send(note, client))
        try:
            error = await _outcome(asyncio.shield(send))
        except asyncio.CancelledError:  # stopping: let the send under way finish, and say how it went
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(send), STOP_GRACE)
            if send.done() and not send.cancelled():
                self._finish(receiver, entry, note, send.exception())
            else:
                send.cancel()
            raise
        await self._room(self._finish(receiver, entry, note, error))
        self._refresh()

    def _refresh(self) -> None:
        """Read which groups and how many notifications still wait (after a delivery)."""

        def read(store: RoomStore) -> tuple[set[str], Any]:
            return store.undelivered_groups(), store.receiver_summaries(None)

        self.door.read(read).add_done_callback(lambda f: self._on_loop(self._refreshed, f))

    def _refreshed(self, future: Future[tuple[set[str], Any]]) -> None:
        if future.cancelled() or future.exception() is not None:
            return
        self.undelivered, summaries = future.result()
        for name, stats in self.stats.items():
            summary = summaries.get(name)
            stats.waiting = summary.waiting if summary else 0
            stats.given_up = summary.failed if summary else stats.given_up

    def _finish(
        self, receiver: Receiver, entry: OutboxEntry, note: Notification, error: BaseException | None
    ) -> Future[None]:
        """Record how a send went (one write, its log line with it); returns the write."""
        name, stats, settings = receiver.name, self.stats[receiver.name], self.settings
        wall, at, attempts = self.wall(), self.clock(), entry.attempts + 1
        head = f"notify {name} ({receiver.config.kind})"
        if error is None:
            recovered = stats.failures
            stats.failures, stats.last_error, stats.last_sent_at = 0, "", wall
            stats.sent += 1
            stats.waiting = max(0, stats.waiting - 1)
            stats.recent.append(wall)
            text = f"{head}: sent {_what(note)}" + (f" (attempt {attempts})" if attempts > 1 else "")
            if recovered >= settings.failing_after:
                text += f"; it takes notifications again after {recovered} failures"
            return self._record(entry.id, SENT, ("info", text, _alert(note)), at, wall)
        reason = error.reason if isinstance(error, DeliveryError) else receiver.safe(f"{type(error).__name__}: {error}")
        stats.failures += 1
        stats.last_error = reason
        waited = wall - entry.queued_at
        if waited >= settings.give_up_after:
            stats.given_up += 1
            stats.waiting = max(0, stats.waiting - 1)
            text = f"{head}: gave up on {_what(note)} after {attempts} attempts in {format_duration(waited)}: {reason}"
            return self._record(entry.id, FAILED, ("critical", text, _alert(note)), at, wall, reason)
        backoff = min(settings.retry_backoff * 2 ** (attempts - 1), settings.retry_max_backoff)
        if isinstance(error, DeliveryError) and error.retry_after is not None:
            backoff = max(backoff, min(error.retry_after, settings.retry_max_backoff))
        text = f"{head}: {_what(note)} not delivered (attempt {attempts}): {reason}; next try in {backoff:g} s"
        if stats.failures == settings.failing_after:
            text += f"; {name} is failing ({stats.failures} failures in a row)"
        severity = "warning" if stats.failures >= settings.failing_after else "info"
        return self._record(entry.id, PENDING, (severity, text, _alert(note)), at, wall, reason, wall + backoff)

    def _record(
        self,
        entry_id: int,
        state: str,
        line: tuple[str, str, str | None],
        at: float,
        wall: float,
        error: str | None = None,
        next_at: float | None = None,
    ) -> Future[None]:
        return self.door.write(
            lambda s: s.finish_notification(entry_id, state, line, at=at, wall=wall, error=error, next_at=next_at)
        )

    def _rate_delay(self, receiver: Receiver, wall: float) -> float:
        """Seconds until the receiver's rate limit lets the next one go (logged once a burst)."""
        stats, limit = self.stats[receiver.name], receiver.config.max_per_minute
        recent = stats.recent
        while recent and recent[0] <= wall - RATE_WINDOW:
            recent.popleft()
        if len(recent) < limit:
            stats.limited = False
            return 0.0
        delay = recent[-limit] + RATE_WINDOW - wall
        if not stats.limited:
            stats.limited = True
            text = (
                f"notify {receiver.name}: {limit} notifications in the last minute, its limit; "
                f"the next waits {delay:.0f} s"
            )
            at = self.clock()
            self.door.write(lambda s: s.add_log("notify", "warning", text, "notify", ts=at))
        return delay

    async def _sleep(self, receiver: str, seconds: float) -> None:
        event = self._wake[receiver]
        event.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)

    def _woken(self, receivers: Iterable[str]) -> None:
        self._on_loop(self._wake_now, set(receivers))

    def _wake_now(self, receivers: set[str]) -> None:
        for name in receivers:
            event = self._wake.get(name)
            if event is not None:
                event.set()

    def _on_loop(self, callback: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(callback, *args)

    async def _room(self, future: Future[T]) -> T:
        return await asyncio.wrap_future(future)

    # ------------------------------------------------------------------ the screen

    def view(self) -> DeliveriesView | None:
        if not self.enabled:
            return None
        receivers = []
        failing_after = self.settings.failing_after
        for name, receiver in self.receivers.items():
            s = self.stats[name]
            if s.failures >= failing_after:
                state = FAILING
            elif s.failures:
                state = RETRYING
            elif s.limited and s.waiting:
                state = WAITING
            else:
                state = OK if s.last_sent_at is not None else IDLE
            receivers.append(
                ReceiverView(
                    name,
                    receiver.config.kind,
                    receiver.target(),
                    state,
                    s.last_sent_at,
                    s.last_attempt_at,
                    s.last_error,
                    s.failures,
                    s.waiting,
                    s.given_up,
                    s.sent,
                )
            )
        return DeliveriesView(receivers, dict(self.inhibited))


async def _outcome(send: Any) -> BaseException | None:
    """None when the send went through, else its error (the send's own cancellation is
    passed on)."""
    try:
        await send
    except asyncio.CancelledError:
        raise
    except Exception as error:
        return error
    return None


def _what(note: Notification) -> str:
    return f"{note.title} (id {note.id})"


def _alert(note: Notification) -> str | None:
    """The alert a log line is about, when there is one."""
    return note.alerts[0].name if len(note.alerts) == 1 else None
