"""Key image thumbnails: the image a measurement was made on, rendered by the PACS (WADO-RS
`/rendered`, fetched by the server: the browser never holds PACS credentials), scaled, cached on
disk, with the measurement's mark drawn over it where it was made.

The cache is a folder (under the instance folder) of PNG files keyed by instance, frame and
size; each file carries its scale (thumbnail pixels per image pixel) in a PNG text chunk, so a
cached image places a mark without asking the PACS. It holds at most `max_files` files: past
that, the least recently used are deleted. The mark is drawn on each request (cheap), so a
corrected mark never meets a stale picture.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import os
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, PngImagePlugin

from tracker.config import Settings
from tracker.pacs.client import THUMBNAIL_PX, InstanceRef, PacsClient, Rendered
from tracker.pacs.models import KeyImage

MAX_FILES = 2000       # about 60 KB each: some 120 MB at most
MARK_RGB = (255, 196, 0)   # amber: stands out on a grey radiograph, and is not a grey
SCALE_KEY = "calcitrack-scale"
ELLIPSE_POINTS = 72
CACHE_FOLDER = "thumbnails"


def _draw(image: Image.Image, graphic_type: str, points: Sequence[tuple[float, float]],
          scale: float) -> None:
    """A SCOORD mark ((column, row) in image pixels) drawn on the thumbnail."""
    draw = ImageDraw.Draw(image)
    width = max(2, round(image.width / 128))
    at = [(c * scale, r * scale) for c, r in points]
    reach = 3 * width
    if graphic_type in ("POINT", "MULTIPOINT"):
        for x, y in at:
            draw.line([(x - reach, y), (x + reach, y)], fill=MARK_RGB, width=width)
            draw.line([(x, y - reach), (x, y + reach)], fill=MARK_RGB, width=width)
    elif graphic_type == "CIRCLE" and len(at) >= 2:
        (cx, cy), (px, py) = at[:2]
        radius = math.hypot(px - cx, py - cy)
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], outline=MARK_RGB,
                     width=width)
    elif graphic_type == "ELLIPSE" and len(at) >= 4:
        (ax, ay), (bx, by), (cx, cy), (dx, dy) = at[:4]  # major axis ends, then minor axis
        mx, my = (ax + bx) / 2, (ay + by) / 2
        major, minor = math.hypot(bx - ax, by - ay) / 2, math.hypot(dx - cx, dy - cy) / 2
        angle = math.atan2(by - ay, bx - ax)
        outline = [(mx + major * math.cos(t) * math.cos(angle) - minor * math.sin(t) *
                    math.sin(angle),
                    my + major * math.cos(t) * math.sin(angle) + minor * math.sin(t) *
                    math.cos(angle))
                   for t in (2 * math.pi * i / ELLIPSE_POINTS for i in range(ELLIPSE_POINTS))]
        draw.line([*outline, outline[0]], fill=MARK_RGB, width=width, joint="curve")
    elif len(at) >= 2:  # POLYLINE (and anything else with a path)
        draw.line(at, fill=MARK_RGB, width=width, joint="curve")
        for x, y in (at[0], at[-1]):
            draw.ellipse([x - width, y - width, x + width, y + width], fill=MARK_RGB)


def with_mark(rendered: Rendered, graphic_type: str | None,
              points: Sequence[tuple[float, float]]) -> bytes:
    """The thumbnail as PNG, with the mark drawn when there is one."""
    if not graphic_type or not points:
        return rendered.png
    image = Image.open(io.BytesIO(rendered.png)).convert("RGB")
    _draw(image, graphic_type, points, rendered.scale)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


class Thumbnails:
    """Rendered key images from one PACS, cached in one folder."""

    def __init__(self, client: PacsClient, folder: Path, *, size_px: int = THUMBNAIL_PX,
                 max_files: int = MAX_FILES) -> None:
        self.client = client
        self.folder = folder
        self.size_px = size_px
        self.max_files = max_files

    @classmethod
    def from_settings(cls, settings: Settings) -> Thumbnails | None:
        """The configured PACS's thumbnails, cached under the instance folder; None without
        a PACS."""
        client = PacsClient.from_settings(settings)
        if client is None:
            return None
        return cls(client, settings.instance_path / CACHE_FOLDER)

    def _path(self, image: KeyImage) -> Path:
        key = f"{image.sop_instance_uid}|{image.frame}|{self.size_px}".encode()
        return self.folder / f"{hashlib.sha256(key).hexdigest()[:40]}.png"

    def rendered(self, image: KeyImage) -> Rendered:
        """The image as the PACS renders it, scaled (from the cache when there)."""
        path = self._path(image)
        try:
            data = path.read_bytes()
            cached = Image.open(io.BytesIO(data))
            scale = float(cached.info[SCALE_KEY])
            os.utime(path)  # recently used
            return Rendered(data, cached.width, cached.height, scale)
        except (OSError, KeyError, ValueError):
            pass  # not cached (or a damaged file: fetched again)
        ref = InstanceRef(image.study_uid, image.series_uid, image.sop_instance_uid,
                          image.sop_class_uid)
        rendered = self.client.rendered(ref, frame=image.frame or None, size_px=self.size_px)
        self._keep(path, rendered)
        return rendered

    def png(self, image: KeyImage) -> bytes:
        """The thumbnail with the measurement drawn on it. Raises PacsUnavailable or
        PacsRefused when the PACS cannot give the image."""
        return with_mark(self.rendered(image), image.graphic_type, image.points)

    def _keep(self, path: Path, rendered: Rendered) -> None:
        """Write the file beside its name and rename it (a reader never sees half a file);
        then drop the least recently used past `max_files`."""
        info = PngImagePlugin.PngInfo()
        info.add_text(SCALE_KEY, repr(rendered.scale))
        out = io.BytesIO()
        Image.open(io.BytesIO(rendered.png)).save(out, format="PNG", pnginfo=info)
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        partial.write_bytes(out.getvalue())
        partial.replace(path)
        files = list(self.folder.glob("*.png"))
        if len(files) <= self.max_files:
            return
        used: list[tuple[float, Path]] = []
        for file in files:
            with contextlib.suppress(OSError):  # another process may have dropped it
                used.append((file.stat().st_mtime, file))
        for _, old in sorted(used)[: max(0, len(used) - self.max_files)]:
            with contextlib.suppress(OSError):
                old.unlink()
