"""The PACS over DICOMweb: a thin adapter over `dicomweb-client`.

What calcitrack asks of a PACS, and nothing else: find the TID 1500 measurement reports (SR)
written since a date (QIDO-RS), fetch one (WADO-RS), fetch an image rendered for a thumbnail
(WADO-RS `/rendered`) and store SRs (STOW-RS). Every failure comes out as one of two errors:
`PacsUnavailable` (cannot connect, timed out, or a 5xx: try again later; the CLI exits 3) or
`PacsRefused` (a 4xx: the request or the settings are wrong; trying again will not help).
The client never retries by itself: callers own their retry and back-off.

Server behaviour this relies on (checked on Orthanc 1.10 with its DICOMweb plugin 1.7):
- QIDO-RS at instance level across studies (`/instances`) filters on SOPClassUID with a
  comma-separated list (a backslash-separated list matches nothing), on Modality, and on a
  ContentDate range (`YYYYMMDD-`); these filters combine.
- DICOMweb has no "received at" date: `since` is the SR's ContentDate, the day the report was
  written, which a viewer sets when it saves the measurement. Callers keep an overlap window.
- `/rendered` answers PNG or JPEG at the image's own size. Orthanc reads the `viewport` size
  parameter only with a literal comma, which dicomweb-client percent-encodes, so the image is
  scaled here (Pillow) instead of asking the server.
- STOW-RS answers 200 with a ReferencedSOPSequence (stored) and a FailedSOPSequence.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from dicomweb_client.api import DICOMwebClient
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.uid import (
    Comprehensive3DSRStorage,
    ComprehensiveSRStorage,
    EnhancedSRStorage,
)
from pydicom.valuerep import DA

from tracker.config import Settings
from tracker.errors import CalcitrackError, InvalidInput, Problem, ServiceUnavailable

# The SR storage classes a TID 1500 measurement report is saved as.
MEASUREMENT_REPORT_CLASSES = (EnhancedSRStorage, ComprehensiveSRStorage,
                              Comprehensive3DSRStorage)
# QIDO-RS page: large enough for a day's reports in a few requests.
PAGE_SIZE = 200
THUMBNAIL_PX = 256


class PacsUnavailable(ServiceUnavailable):
    """The PACS cannot be reached, did not answer in time, or failed (5xx). Nothing was done;
    trying again later is safe."""


class PacsRefused(CalcitrackError):
    """The PACS refused the request (4xx): wrong credentials, an unknown instance, a dataset
    it does not accept. `status` is the HTTP status."""

    def __init__(self, message: str, status: int) -> None:
        self.status = status
        super().__init__(message)


@dataclass(frozen=True)
class InstanceRef:
    """Where an instance is in the PACS."""

    study_uid: str
    series_uid: str
    sop_instance_uid: str
    sop_class_uid: str = ""
    content_date: date | None = None  # for a report: the day it was written


@dataclass(frozen=True)
class Rendered:
    """A rendered frame scaled to fit a square: PNG bytes, its size, and how many thumbnail
    pixels one image pixel is (to place a measurement's SCOORD points on it)."""

    png: bytes
    width: int
    height: int
    scale: float


@dataclass(frozen=True)
class StoreResult:
    stored: tuple[str, ...]                  # SOP Instance UIDs
    failed: tuple[tuple[str, str], ...]      # (SOP Instance UID, failure reason)


def check_settings(settings: Settings) -> list[Problem]:
    """What is wrong with the PACS settings (empty when DICOMWEB_URL is unset)."""
    if not settings.dicomweb_url:
        return []
    problems = []
    parts = urlsplit(settings.dicomweb_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        problems.append(Problem("DICOMWEB_URL", "must be an http(s) URL (the DICOMweb root)"))
    if bool(settings.dicomweb_username) != bool(settings.dicomweb_password):
        problems.append(Problem("DICOMWEB_USERNAME", "and DICOMWEB_PASSWORD go together"))
    if settings.dicomweb_token and settings.dicomweb_username:
        problems.append(Problem("DICOMWEB_TOKEN", "set either a token or a username and "
                                "password, not both"))
    if settings.dicomweb_timeout_seconds <= 0:
        problems.append(Problem("DICOMWEB_TIMEOUT_SECONDS", "must be more than 0"))
    return problems


def _redacted(url: str) -> str:
    """The URL without any user:password@ part, for messages and logs."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port
                                                              else "")
                                     if parts.hostname else parts.netloc))


def _dicom_date(value: Any) -> date | None:
    try:
        day = DA(str(value or "")[:8]) if value else None
    except ValueError:
        return None
    return date(day.year, day.month, day.day) if day else None


class PacsClient:
    """One PACS connection (a requests Session with the credentials and the timeout)."""

    def __init__(self, url: str, *, username: str | None = None, password: str | None = None,
                 token: str | None = None, timeout_seconds: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self.session = requests.Session()
        if username and password:
            self.session.auth = (username, password)
        elif token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self._dicomweb = DICOMwebClient(self.url, session=self.session,
                                        timeout=(timeout_seconds, timeout_seconds))
        # Retries (with back-off) belong to the caller, which knows what else waits.
        self._dicomweb.set_http_retry_params(retry=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> PacsClient | None:
        """The configured PACS, or None when DICOMWEB_URL is unset."""
        if not settings.dicomweb_url:
            return None
        problems = check_settings(settings)
        if problems:
            raise InvalidInput(problems)
        return cls(settings.dicomweb_url, username=settings.dicomweb_username,
                   password=settings.dicomweb_password, token=settings.dicomweb_token,
                   timeout_seconds=settings.dicomweb_timeout_seconds)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> PacsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _asking(self, what: str) -> Iterator[None]:
        """Turn whatever the transport or the server says into PacsUnavailable/PacsRefused."""
        where = f"the PACS at {_redacted(self.url)}"
        try:
            yield
        except requests.Timeout as exc:
            raise PacsUnavailable(f"{where} did not answer within {self.timeout_seconds:g} s"
                                  f" ({what}); see DICOMWEB_TIMEOUT_SECONDS") from exc
        except requests.ConnectionError as exc:
            raise PacsUnavailable(f"{where} cannot be reached ({what}); check DICOMWEB_URL"
                                  " and that the PACS is running") from exc
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status >= 500 or status == 0:
                raise PacsUnavailable(f"{where} failed with HTTP {status} ({what})") from exc
            hint = {401: "; check DICOMWEB_USERNAME/DICOMWEB_PASSWORD or DICOMWEB_TOKEN",
                    403: "; the configured account may not do this"}.get(status, "")
            raise PacsRefused(f"{where} refused {what}: HTTP {status}{hint}", status) from exc
        except requests.RequestException as exc:
            raise PacsUnavailable(f"{where}: {what} failed ({exc.__class__.__name__})") from exc

    def search_reports(self, since: date, *, page_size: int = PAGE_SIZE) -> list[InstanceRef]:
        """Every measurement report (SR of the TID 1500 classes) written on or after `since`,
        all pages."""
        filters = {"Modality": "SR", "SOPClassUID": ",".join(MEASUREMENT_REPORT_CLASSES),
                   "ContentDate": f"{since:%Y%m%d}-"}
        with self._asking("the search for measurement reports"):
            found = self._dicomweb.search_for_instances(
                search_filters=filters, limit=page_size, get_remaining=True,
                fields=["ContentDate"])
        refs = []
        for item in found:
            ds = Dataset.from_json(item)
            refs.append(InstanceRef(str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID),
                                    str(ds.SOPInstanceUID), str(ds.SOPClassUID),
                                    _dicom_date(ds.get("ContentDate"))))
        return refs

    def retrieve(self, ref: InstanceRef) -> Dataset:
        """One instance, whole (a pydicom Dataset)."""
        with self._asking(f"instance {ref.sop_instance_uid}"):
            ds: Dataset = self._dicomweb.retrieve_instance(
                ref.study_uid, ref.series_uid, ref.sop_instance_uid)
        return ds

    def rendered(self, ref: InstanceRef, *, frame: int | None = None,
                 size_px: int = THUMBNAIL_PX) -> Rendered:
        """The image (or `frame` of a multi-frame one) as the PACS renders it, scaled to fit
        `size_px` x `size_px` (never enlarged), as PNG."""
        with self._asking(f"the rendered image of {ref.sop_instance_uid}"):
            if frame is None:
                data = self._dicomweb.retrieve_instance_rendered(
                    ref.study_uid, ref.series_uid, ref.sop_instance_uid,
                    media_types=("image/png",))
            else:
                data = self._dicomweb.retrieve_instance_frames_rendered(
                    ref.study_uid, ref.series_uid, ref.sop_instance_uid, [frame],
                    media_types=("image/png",))
        try:
            image: Image.Image = Image.open(io.BytesIO(data))
            image.load()
        except (OSError, ValueError) as exc:
            raise PacsRefused(f"the PACS sent no readable image for {ref.sop_instance_uid}",
                              0) from exc
        source_width = image.width
        if image.mode not in ("L", "RGB"):
            image = image.convert("RGB")
        image.thumbnail((size_px, size_px), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        image.save(out, format="PNG")
        return Rendered(out.getvalue(), image.width, image.height, image.width / source_width)

    def store(self, datasets: Sequence[Dataset]) -> StoreResult:
        """STOW-RS the datasets (one request); which were stored and which failed, and why."""
        with self._asking(f"storing {len(datasets)} instance(s)"):
            answer = self._dicomweb.store_instances(list(datasets))
        stored = tuple(str(i.ReferencedSOPInstanceUID)
                       for i in answer.get("ReferencedSOPSequence", []))
        failed = tuple((str(i.get("ReferencedSOPInstanceUID", "")),
                        str(i.get("FailureReason", "")))
                       for i in answer.get("FailedSOPSequence", []))
        return StoreResult(stored, failed)
