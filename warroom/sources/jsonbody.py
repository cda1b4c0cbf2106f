"""Picking records out of a decoded JSON document, shared by the network sources.

Feeds and APIs rarely send bare records: they wrap them (`{"data": {"items": [...]}}`), so
every source takes a dotted `records_path` that names where the records are. What is found
there decides the batch: a list gives one record per item, an object gives one record, and
`null` gives none (many APIs say "nothing new" that way). An item that is not an object is a
bad record: it is counted, not emitted, and the rest of the batch goes on, because one odd
item must not cost the operator the whole batch.

A path that does not lead anywhere is a different fault: the whole document has the wrong
shape (often the wrong endpoint or an error page in JSON), so it is reported as one error
rather than as bad records.
"""

from __future__ import annotations

from typing import Any

from warroom.model import Record

__all__ = ["RecordsPathError", "records_at"]


class RecordsPathError(ValueError):
    """The document has nothing at `records_path`; the message says where the path stopped."""


def records_at(document: Any, path: str = "") -> tuple[list[Record], int]:
    """The records at dotted `path` inside `document`, and how many items were not objects.

    Path steps are object keys; a step made of digits also indexes a list ("data.0.items").
    An empty path means the document itself.
    """
    found = document
    walked: list[str] = []
    for step in path.split(".") if path else ():
        if isinstance(found, dict) and step in found:
            found = found[step]
        elif isinstance(found, list) and step.isdigit() and int(step) < len(found):
            found = found[int(step)]
        else:
            where = ".".join(walked) or "the top level"
            raise RecordsPathError(f"no {step!r} at {where} (records_path = {path!r})")
        walked.append(step)
    if found is None:
        return [], 0
    if isinstance(found, dict):
        return [found], 0
    if isinstance(found, list):
        records = [item for item in found if isinstance(item, dict)]
        return records, len(found) - len(records)
    return [], 1
