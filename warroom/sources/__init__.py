"""Transports that turn remote systems into batches of records.

`build_source(config)` picks the class for a `[[sources]]` entry by its `kind`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from warroom.sources.base import Clock, EmitFn, Source, SourceHealth, SourceState

if TYPE_CHECKING:
    from warroom.config import SourceConfig

__all__ = ["EmitFn", "Source", "SourceHealth", "SourceState", "build_source"]


def build_source(config: SourceConfig, clock: Clock | None = None) -> Source[Any]:
    """The source object for one `[[sources]]` entry."""
    # Imported here so that importing one transport never pulls in the others' libraries.
    clock = time.time if clock is None else clock
    if config.kind == "websocket":
        from warroom.sources.websocket import WebSocketSource

        return WebSocketSource(config, clock)
    if config.kind == "http":
        from warroom.sources.http import HttpSource

        return HttpSource(config, clock)
    if config.kind == "prometheus":
        from warroom.sources.http import PrometheusSource

        return PrometheusSource(config, clock)
    from warroom.sources.file import FileSource

    return FileSource(config, clock)
