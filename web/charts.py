"""Charts served to the pages: a rendered chart (drawn by `reporting.charts`) is cached under a
key of what it depends on (the lesions' data_version and assessed_version, the format and the
drawing's STYLE), so a cached chart is served without touching matplotlib, and the key's hash
is the ETag.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

from flask import Flask, current_app

from reporting.charts import FORMATS, STYLE, stage_css
from reporting.report import draw_lesion_svg
from tracker.models import Lesion

# --------------------------------------------------------------------------- cache


@dataclass
class ChartCache:
    """A small thread-safe LRU of rendered charts; `renders` counts matplotlib calls."""

    size: int = 256
    renders: int = 0
    _items: OrderedDict[Hashable, bytes] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get_or_render(self, key: Hashable, render: Callable[[], bytes]) -> bytes:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        body = render()
        with self._lock:
            self.renders += 1
            self._items[key] = body
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return body

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items


def cache() -> ChartCache:
    found: ChartCache = current_app.extensions["calcitrack_charts"]
    return found


def lesion_key(lesion_id: int, versions: tuple[int, int | None], today: date,
               narrow: bool) -> tuple[Hashable, ...]:
    """What a lesion's chart depends on: its data and assessment versions, the day (the
    "today" line) and the width."""
    return ("lesion", lesion_id, *versions, today, narrow)


def full_key(key: Hashable, fmt: str) -> tuple[Hashable, ...]:
    """A chart's cache key: what it depends on, its format and the drawing's STYLE."""
    return (*(key if isinstance(key, tuple) else (key,)), fmt, STYLE)


def cached_lesion_svg(lesion: Lesion, today: date) -> bytes:
    """The lesion's wide SVG chart from the cache the lesion pages fill (the report's)."""
    key = lesion_key(lesion.id, (lesion.data_version, lesion.assessed_version), today, False)
    return cache().get_or_render(full_key(key, "svg"), lambda: draw_lesion_svg(lesion, today))


def etag_of(key: Hashable) -> str:
    return hashlib.sha256(repr(key).encode()).hexdigest()[:32]


def init_app(app: Flask) -> None:
    app.extensions["calcitrack_charts"] = ChartCache(size=int(app.config["CHART_CACHE_SIZE"]))
    css = stage_css()

    def stages_css() -> Any:
        from flask import Response

        return Response(css, mimetype="text/css", headers={"Cache-Control": "max-age=3600"})

    hidden = cast(Any, app).doc(hide=True)  # a page asset, not part of the API document
    app.add_url_rule("/stages.css", "stages_css", hidden(stages_css))


# --------------------------------------------------------------------------- serving


def serve(key: Hashable, render: Callable[[], bytes], fmt: str, filename: str,
          *, download: bool) -> Any:
    """A chart response with ETag: 304 when the client has it, the cached bytes when we do,
    and only otherwise a render. `private, no-cache`: patient data, always revalidated."""
    from flask import Response, abort, request

    if fmt not in FORMATS:
        abort(404)
    cached = full_key(key, fmt)
    tag = etag_of(cached)
    headers = {"ETag": f'"{tag}"', "Cache-Control": "private, no-cache",
               "X-Content-Type-Options": "nosniff"}
    if download:
        headers["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    if tag in request.if_none_match:
        return Response(status=304, headers=headers)
    body = cache().get_or_render(cached, render)
    return Response(body, mimetype=FORMATS[fmt], headers=headers)
