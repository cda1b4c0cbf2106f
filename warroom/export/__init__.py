"""Retrospective export: the launch told in one document (Markdown, HTML, JSON).

Reads the room store only, so it works with or without a warroom running, and on a laptop
after copying the database from the server. Pure apart from reading the store and writing
the files: no Textual.

    from warroom.export import export_room
    paths = export_room("launch.db", "retro/", formats=("md", "html"),
                        targets=[("orders", 250, "orders"), ("revenue", 15000, "revenue")])

Layout: `retro.py` builds one `Retrospective` from the store; `markdown.py`, `html.py` and
`jsondoc.py` each turn it into a document, in chunks; this module picks the paths and writes
them.

A room can hold a million log entries, so no document is held whole: each is written, chunk
by chunk as the log is read, into a temporary file beside its target. Only when every
document is complete and fsynced are they renamed over their targets, so a failure leaves
either the previous files or none: never half a document, never a stray temporary file.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from warroom.config import Config, MetricConfig, RatioConfig, builtin_metrics
from warroom.export import html as html_doc
from warroom.export import jsondoc, markdown
from warroom.export.retro import Retrospective, Target, build
from warroom.store import RoomStore

__all__ = [
    "FORMATS",
    "Retrospective",
    "Target",
    "build",
    "export_room",
    "export_store",
    "options_from_config",
    "render",
    "write_atomic",
    "write_documents",
]

RENDERERS: dict[str, Callable[[Retrospective], Iterable[str]]] = {
    "md": markdown.chunks,
    "html": html_doc.chunks,
    "json": jsondoc.chunks,
}
FORMATS = tuple(RENDERERS)
SUFFIXES = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".json": "json"}


def options_from_config(config: Config | None) -> dict:
    """Targets, labels and units for `export_room`: the database does not hold them."""
    if config is None:
        return {}
    metrics: list[MetricConfig | RatioConfig] = [*config.metrics, *builtin_metrics(), *config.ratios]
    return {
        "targets": [(t.metric, t.value, t.label or t.metric) for t in config.targets],
        "labels": {m.name: m.title for m in metrics},
        "units": {m.name: m.unit for m in metrics},
    }


def render(retro: Retrospective, fmt: str) -> str:
    """One document as text; ValueError for an unknown format."""
    try:
        renderer = RENDERERS[fmt]
    except KeyError:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}") from None
    return "".join(renderer(retro))


def export_room(
    db_path: str | os.PathLike[str],
    out_dir_or_file: str | os.PathLike[str],
    formats: Iterable[str] = FORMATS,
    start: float | None = None,
    end: float | None = None,
    starred_only: bool = False,
    targets: Iterable[Target | Sequence] | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    units: Mapping[str, str] | None = None,
    now: float | None = None,
    full_timeline: bool = False,
) -> list[Path]:
    """Write the retrospective of the room database `db_path`; returns the paths written.

    - `out_dir_or_file`: a directory (created if missing; files are named
      `<launch-name>-retrospective.<md|html|json>`), or a file path with a suffix, whose stem
      names every format's file (`out/retro.md` with formats md and html writes `out/retro.md`
      and `out/retro.html`).
    - `formats`: any of "md", "html", "json" (unknown ones raise ValueError before anything
      is read or written).
    - `start`, `end`: UTC epoch seconds; default from the launch time (else the first log
      entry) to the last log entry or metric point.
    - `starred_only`: the timeline lists only starred entries (other sections are whole).
    - `full_timeline`: Markdown and HTML list every entry of the timeline; by default they
      list the notable ones (starred, then launch, decisions, lessons, actions, alerts and
      notes, at most 1,000) and count the others per hour and kind. JSON lists every entry.
    - `targets`: goals from the config, as Target or (metric, value[, label]) tuples; the
      actual figure is the metric's last history value at or before the end.
    - `labels`, `units`: metric name -> display label / unit ("%", "ms") from the config.

    Raises StoreError when the database cannot be opened, OSError when a file cannot be
    written (nothing half-written is left behind).
    """
    wanted = list(dict.fromkeys(formats))
    if not wanted:
        raise ValueError("no export format given")
    for fmt in wanted:
        if fmt not in RENDERERS:
            raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    db = Path(db_path)
    if not db.is_file():
        # RoomStore would create an empty database: an export must never write to the store
        raise FileNotFoundError(f"{db}: no room database there")
    with RoomStore(db) as store:
        return export_store(
            store,
            out_dir_or_file,
            wanted,
            start,
            end,
            starred_only,
            targets=targets,
            labels=labels,
            units=units,
            now=now,
            full_timeline=full_timeline,
        )


def export_store(
    store: RoomStore,
    out_dir_or_file: str | os.PathLike[str],
    formats: Sequence[str] = FORMATS,
    start: float | None = None,
    end: float | None = None,
    starred_only: bool = False,
    *,
    targets: Iterable[Target | Sequence] | None = None,
    labels: Mapping[str, str] | None = None,
    units: Mapping[str, str] | None = None,
    now: float | None = None,
    full_timeline: bool = False,
) -> list[Path]:
    """`export_room` on a room already open; the log is read from it while the files are
    written, so it must stay open until this returns."""
    wanted = list(dict.fromkeys(formats))
    for fmt in wanted:
        if fmt not in RENDERERS:
            raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    retro = build(
        store,
        start,
        end,
        starred_only=starred_only,
        targets=targets,
        labels=labels,
        units=units,
        now=now,
        full_timeline=full_timeline,
    )
    paths = output_paths(out_dir_or_file, retro.launch_name, wanted)
    write_documents([(paths[fmt], RENDERERS[fmt](retro)) for fmt in wanted])
    return [paths[fmt] for fmt in wanted]


def output_paths(out: str | os.PathLike[str], launch_name: str, formats: Sequence[str]) -> dict[str, Path]:
    target = Path(out)
    if target.suffix.lower() in SUFFIXES and not target.is_dir():
        base = target.with_suffix("")
    else:
        target.mkdir(parents=True, exist_ok=True)
        base = target / f"{slug(launch_name)}-retrospective"
    base.parent.mkdir(parents=True, exist_ok=True)
    return {fmt: base.with_name(f"{base.name}.{fmt}") for fmt in formats}


def slug(name: str) -> str:
    text = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return text[:60].strip("-") or "launch"


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` (UTF-8) in one step: temp file, fsync, rename, fsync dir."""
    write_documents([(path, [text])])


def write_documents(documents: Sequence[tuple[Path, Iterable[str]]]) -> None:
    """Write each document's chunks (UTF-8) to a temporary file beside its path; once all
    are complete and fsynced, rename each over its path and fsync the directories. On any
    failure every temporary file is removed and no target is touched."""
    written: list[tuple[str, Path]] = []
    try:
        for path, chunks in documents:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            written.append((tmp, path))
            _write_chunks(fd, chunks)
            os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give it an ordinary file's mode
        for tmp, path in written:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in written:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass  # renamed already, or never created
        raise
    for directory in dict.fromkeys(path.parent for _, path in written):
        _fsync_directory(directory)


def _write_chunks(fd: int, chunks: Iterable[str]) -> None:
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
        for chunk in chunks:
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())


def _fsync_directory(directory: Path) -> None:
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # some platforms cannot open a directory; the rename is done regardless
    try:
        os.fsync(dir_fd)
    except OSError:
        pass  # fsync of a directory is not supported everywhere; the file itself is synced
    finally:
        os.close(dir_fd)


def _read_umask() -> int:
    mask = os.umask(0o022)  # the only way to read it; done once, at import
    os.umask(mask)
    return mask


_UMASK = _read_umask()
