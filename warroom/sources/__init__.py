"""Transports that turn remote systems into batches of records.

`build_source(config)` picks the class for a `[[sources]]` entry by its `kind`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from warroom.sources.base import EmitFn, Source, SourceHealth, SourceState

if TYPE_CHECKING:
    from warroom.config import SourceConfig

__all__ = ["EmitFn", "Source", "SourceHealth", "SourceState", "build_source"]


def build_source(config: SourceConfig, clock=None) -> Source:
    """The source object for one `[[sources]]` entry."""
    # Imported here so that importing one transport never pulls in the others' libraries.
    if config.kind == "websocket":
        from warroom.sources.websocket import WebSocketSource as cls
    elif config.kind == "http":
        from warroom.sources.http import HttpSource as cls
    elif config.kind == "prometheus":
        from warroom.sources.http import PrometheusSource as cls
    elif config.kind == "file":
        from warroom.sources.file import FileSource as cls
    else:  # pragma: no cover - config validation rejects unknown kinds first
        raise ValueError(f"unknown source kind {config.kind!r}")
    return cls(config) if clock is None else cls(config, clock=clock)
