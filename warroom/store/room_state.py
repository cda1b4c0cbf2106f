"""The launch, its operators, the checklist and the metric history."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from warroom.config import parse_launch_offset
from warroom.store.base import StoreCore, _get_meta, _set_meta
from warroom.store.db import insert_ignore, upsert
from warroom.store.schema import (
    _ITEM_COLS,
    ChecklistItem,
    Launch,
    NotFound,
)

if TYPE_CHECKING:
    from warroom.config import ChecklistPhaseConfig


class RoomStateStore(StoreCore):
    """Launch time, operators, checklist items and metric history (a part of RoomStore)."""

    # ------------------------------------------------------------------ launch and operators

    def configure_launch(self, name: str, at: float | None) -> None:
        """Take the launch name and time from the config. A time set by an operator ("launch
        now") wins over the config, so a restart never moves the clock everyone sees."""
        with self._write() as db:
            _set_meta(db, "launch_name", name)
            if at is not None and _get_meta(db, "launch_set_by") is None:
                _set_meta(db, "launch_at", at)

    def set_launch(self, at: float, operator: str) -> None:
        """Start (or move) the launch clock for everyone, and log it."""
        now = self._clock()
        with self._write() as db:
            _set_meta(db, "launch_at", float(at))
            _set_meta(db, "launch_set_by", operator)
            self._seen_operator(db, operator, now)
            self._log(db, "launch", "info", f"launch time set to {_iso(at)}", operator, ts=now)

    def launch(self) -> Launch:
        return Launch(
            name=_get_meta(self._db, "launch_name") or "Launch",
            at=_get_meta(self._db, "launch_at"),
            set_by=_get_meta(self._db, "launch_set_by"),
        )

    def launch_time(self) -> float | None:
        return _get_meta(self._db, "launch_at")

    def register_operator(self, name: str) -> None:
        """Record that `name` works this launch (call once at start)."""
        with self._write() as db:
            self._seen_operator(db, name, self._clock())

    def operators(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT name FROM operators ORDER BY first_seen, name")]

    # ------------------------------------------------------------------ checklist

    def sync_checklist(self, phases: Sequence[ChecklistPhaseConfig]) -> None:
        """Insert or update the configured items, keyed by phase and title, keeping their done
        state. Items no longer in the config are hidden but kept (they may have been done)."""
        rows: list[tuple[str, str, int, str, str, float | None]] = []
        seen: set[str] = set()
        for phase in phases:
            for item in phase.items:
                key, n = json.dumps([phase.name, item.title]), 1
                while key in seen:  # the same title twice in a phase: number the repeats
                    n += 1
                    key = json.dumps([phase.name, item.title, n])
                seen.add(key)
                due = parse_launch_offset(item.due) if item.due is not None else None
                rows.append((key, phase.name, len(rows), item.title, item.owner, due))
        with self._write() as db:
            existing = {
                r[0]: tuple(r[1:])
                for r in db.execute("SELECT key, phase, position, owner, due_offset, active FROM checklist")
            }
            changed = [row for row in rows if existing.get(row[0]) != (*row[1:3], row[4], row[5], 1)]
            db.executemany(
                "INSERT INTO checklist(key, phase, position, title, owner, due_offset, active) "
                "VALUES (?, ?, ?, ?, ?, ?, 1) ON CONFLICT(key) DO UPDATE SET "
                "phase = excluded.phase, position = excluded.position, owner = excluded.owner, "
                "due_offset = excluded.due_offset, active = 1",
                changed,
            )
            gone = {k for (k,) in db.execute("SELECT key FROM checklist WHERE active = 1")} - seen
            db.executemany("UPDATE checklist SET active = 0 WHERE key = ?", [(k,) for k in gone])

    def checklist(self) -> list[ChecklistItem]:
        """The configured items, in config order."""
        rows = self._db.execute(f"SELECT {_ITEM_COLS} FROM checklist WHERE active = 1 ORDER BY position")
        return [ChecklistItem(*r) for r in rows]

    def set_item_done(self, item_id: int, done: bool, operator: str, at: float | None = None) -> ChecklistItem:
        """Mark an item done or not done, and log who did it. Asking for the state it is
        already in changes nothing and logs nothing (two operators ticking the same item)."""
        now = self._now(at)
        with self._write() as db:
            row = db.execute(f"SELECT {_ITEM_COLS} FROM checklist WHERE id = ?", (item_id,)).fetchone()
            if row is None:
                raise NotFound(f"no checklist item {item_id}")
            item = ChecklistItem(*row)
            if (item.done_at is not None) == done:
                return item
            done_at, done_by = (now, operator) if done else (None, None)
            db.execute("UPDATE checklist SET done_at = ?, done_by = ? WHERE id = ?", (done_at, done_by, item_id))
            text = f"{'done' if done else 'not done'}: {item.phase} / {item.title}"
            self._seen_operator(db, operator, now)
            self._log(db, "checklist", "info", text, operator, ts=now)
        return dataclasses.replace(item, done_at=done_at, done_by=done_by)

    def toggle_item(self, item_id: int, operator: str, at: float | None = None) -> ChecklistItem:
        """Mark an item done, or not done again if it was."""
        with self._write() as db:
            row = db.execute("SELECT done_at FROM checklist WHERE id = ?", (item_id,)).fetchone()
            if row is None:
                raise NotFound(f"no checklist item {item_id}")
            return self.set_item_done(item_id, row[0] is None, operator, at)

    # ------------------------------------------------------------------ metric history

    def write_metric_points(self, points: Iterable[tuple[float, str, float]]) -> int:
        """Store (ts, metric, value) rows in one transaction; returns how many were stored.

        A point for an existing (metric, ts) replaces it, so processes that align `ts` to the
        history interval do not duplicate each other. Non-finite values are skipped (gaps)."""
        rows = [(m, float(t), float(v)) for t, m, v in points if math.isfinite(v)]
        with self._write() as db:
            db.executemany(upsert("metric_points", ("metric", "ts", "value"), ("metric", "ts")), rows)
            db.executemany(insert_ignore("metric_names", ("name",)), sorted({(r[0],) for r in rows}))
        return len(rows)

    def metric_history(
        self, metric: str, start: float | None = None, end: float | None = None
    ) -> list[tuple[float, float]]:
        return self._db.execute(
            "SELECT ts, value FROM metric_points WHERE metric = ? AND ts >= ? AND ts <= ? ORDER BY ts",
            (metric, -1e300 if start is None else start, 1e300 if end is None else end),
        ).fetchall()

    def metric_names(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT name FROM metric_names ORDER BY name")]


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
