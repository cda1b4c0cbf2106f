"""The notification outbox in the room, on SQLite and on PostgreSQL: queued once, claimed
before a send, finished with its log line, and SLA breaches queued in their own transaction."""

from __future__ import annotations

import pytest

from tests.room.conftest import Backend
from warroom.config import SlaConfig
from warroom.store import Session, StoreError
from warroom.store.outbox import FAILED, PENDING, SENDING, SENT, Queued

T0 = 1_795_600_800.0


def queued(key: str, receiver: str = "ops", group: str = "g1") -> Queued:
    return Queued(key, receiver, group, T0, {"id": key, "title": f"message {key}"})


def test_a_notification_is_queued_once_with_the_state_that_decided_it(backend: Backend) -> None:
    with backend.open() as store:
        count = store.queue_notifications(
            [queued("g1-1"), queued("g1-2")],
            {"g1": '{"seq": 2}'},
            [("info", "orders_stalled inhibited by high_error_rate", "orders_stalled")],
            at=T0,
            queued_at=100.0,
        )
        again = store.queue_notifications(
            [queued("g1-2"), queued("g1-3")], {"g1": '{"seq": 3}'}, [], at=T0, queued_at=101.0
        )
        assert (count, again) == (2, 1)
        assert [e.key for e in store.outbox()] == ["g1-1", "g1-2", "g1-3"]
        assert store.notify_states() == {"g1": '{"seq": 3}'}
        assert store.undelivered_groups() == {"g1"}
        (entry,) = store.log_entries(kinds=["notify"])
        assert (entry.author, entry.alert, entry.ts) == ("notify", "orders_stalled", T0)


def test_claim_then_finish_in_order_with_the_log(backend: Backend) -> None:
    with backend.open() as store:
        store.queue_notifications(
            [queued("a"), queued("b"), queued("c", receiver="lead")], {}, [], at=T0, queued_at=100.0
        )
        head = store.next_notification("ops")
        assert head is not None and (head.key, head.state, head.attempts) == ("a", PENDING, 0)
        assert store.claim_notification(head.id, "rec-1", at=T0)
        claimed = store.next_notification("ops")
        assert claimed is not None and (claimed.state, claimed.attempts, claimed.claimed_by) == (SENDING, 1, "rec-1")
        store.finish_notification(
            head.id,
            PENDING,
            ("info", "notify ops: a not delivered", None),
            at=T0 + 1,
            wall=101.0,
            error="HTTP 503",
            next_at=106.0,
        )
        retry = store.next_notification("ops")
        assert retry is not None and (retry.key, retry.state, retry.next_at) == ("a", PENDING, 106.0)
        store.claim_notification(head.id, "rec-1", at=T0 + 6)
        store.finish_notification(head.id, SENT, ("info", "notify ops: sent a", None), at=T0 + 6, wall=106.5)
        after = store.next_notification("ops")
        assert after is not None and after.key == "b"
        summary = store.receiver_summaries(100.0)
        assert (summary["ops"].waiting, summary["ops"].last_sent_at, summary["ops"].recent_sends) == (1, 106.5, [106.5])
        assert summary["lead"].waiting == 1
        assert [e.text for e in store.log_entries(kinds=["notify"])] == [
            "notify ops: a not delivered",
            "notify ops: sent a",
        ]


def test_a_send_another_recorder_started_is_claimed_again_and_logged(backend: Backend) -> None:
    with backend.open() as store:
        store.open_session(Session("rec-1", "recorder", "ana", "host-a", 11, T0, T0))
        store.queue_notifications([queued("a")], {}, [], at=T0, queued_at=100.0)
        head = store.next_notification("ops")
        assert head is not None and store.claim_notification(head.id, "rec-1", at=T0)
        assert store.session_who("rec-1") == "ana@host-a"
        line = ("warning", "notify ops: a was being sent when recorder ana@host-a stopped; sending it again", None)
        assert store.claim_notification(head.id, "rec-2", at=T0 + 5, in_flight=line)
        again = store.next_notification("ops")
        assert again is not None and (again.attempts, again.claimed_by) == (2, "rec-2")
        store.finish_notification(
            head.id, FAILED, ("critical", "notify ops: gave up on a", None), at=T0 + 6, wall=200.0, error="HTTP 503"
        )
        assert store.next_notification("ops") is None and store.undelivered_groups() == set()
        assert store.receiver_summaries(None)["ops"].failed == 1
        assert [(e.severity, e.text) for e in store.log_entries(kinds=["notify"])] == [
            ("warning", line[1]),
            ("critical", "notify ops: gave up on a"),
        ]


SLA = {"urgent": SlaConfig(respond=600, resolve=3600)}


def test_a_breach_is_marked_and_queued_together_or_not_at_all(backend: Backend) -> None:
    with backend.open() as store:
        ticket = store.create_ticket("reward not received", "ana", priority="urgent", at=T0)

        def decide(breaches: list) -> list[Queued]:
            raise StoreError("the disk is full")

        with pytest.raises(StoreError):
            store.queue_with(lambda: store.check_sla(T0 + 601, SLA), decide, at=T0 + 601, queued_at=1.0)
        after_failure = store.get_ticket(ticket.id)
        assert after_failure is not None and after_failure.respond_breached_at is None  # rolled back with it
        assert store.outbox() == []
        breaches = store.queue_with(
            lambda: store.check_sla(T0 + 601, SLA),
            lambda found: [queued(f"sla-{b.ticket_id}-{b.kind}", group="sla") for b in found],
            at=T0 + 601,
            queued_at=1.0,
        )
        assert [(b.ticket_id, b.kind) for b in breaches] == [(ticket.id, "respond")]
        assert [e.key for e in store.outbox()] == [f"sla-{ticket.id}-respond"]
        assert store.queue_with(lambda: store.check_sla(T0 + 700, SLA), lambda found: [], at=T0, queued_at=1.0) == []
