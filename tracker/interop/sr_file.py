"""One DICOM SR file read whole, or refused in one line that names it; and the dates an SR
gives for the images its groups measured (TID 1600 Image Library, or the group itself).

Files come from viewers, PACS exports and mail attachments: cut short, bit-flipped, written
by tools that bend TID 1500. pydicom and highdicom raise whatever their parsing meets
(struct.error, zlib.error, AttributeError, IndexError, ...), and highdicom puts a dump of the
offending dataset in its messages. Everything read from a file therefore happens inside
`reading()`, which turns any such error into one Problem naming the file. No database here.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from io import BytesIO
from pathlib import Path
from typing import Any, BinaryIO

import highdicom as hd
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import (
    UID,
    Comprehensive3DSRStorage,
    ComprehensiveSRStorage,
    EnhancedSRStorage,
)

from tracker.errors import Problem

SR_CLASSES: dict[str, Any] = {
    EnhancedSRStorage: hd.sr.EnhancedSR,
    ComprehensiveSRStorage: hd.sr.ComprehensiveSR,
    Comprehensive3DSRStorage: hd.sr.Comprehensive3DSR,
}
MAX_REASON_CHARS = 200

# Concept names (DCM) of DATE items that say when an image was taken, best first: TID 1602
# Image Library Entry Descriptors, or the same concepts in a measurement group's context.
STUDY_DATE, ACQUISITION_DATE, CONTENT_DATE = "111060", "126201", "111018"
DATE_CONCEPTS = (STUDY_DATE, ACQUISITION_DATE, CONTENT_DATE)
IMAGE_LIBRARY, IMAGING_MEASUREMENTS = "111028", "126010"
DICM_START, DICM_END = 128, 132  # the "DICM" prefix after the 128-byte preamble (PS3.10)


class Unreadable(Exception):
    """Raised inside `reading()`: the file is refused with this reason."""


def one_line(text: object, limit: int = MAX_REASON_CHARS) -> str:
    """The first line of a library message, without its trailing colon (a dump follows)."""
    first = " ".join((str(text).strip().splitlines() or [""])[0].split()).rstrip(":.")
    first = re.sub(r'^Dataset is not an SR Content Item with value type "(\w+)" because it'
                   r' lacks required attribute "(\w+)"', r"a \1 content item lacks its \2", first)
    return first if len(first) <= limit else first[: limit - 1] + "…"


def _named_item(text: object) -> str:
    """The concept name of the item highdicom dumped after its message, if any."""
    m = re.search(r"Code Meaning\s+LO: '([^']*)'", str(text))
    return f' (concept "{m.group(1)}")' if m else ""


def writer_of(ds: Dataset | None) -> str:
    """`" (written by dcmjs)"`: the software that wrote the file, for the reason's reader."""
    if ds is None:
        return ""
    meta = getattr(ds, "file_meta", None)
    name = str(getattr(meta, "ImplementationVersionName", "") or "").strip()
    if not name:
        name = str(getattr(ds, "Manufacturer", "") or "").strip()
    return f" (written by {name})" if name and name.lower() != "unspecified" else ""


class FileProblems(list[Problem]):
    """One file's problems; `unreadable` when the file was refused whole."""

    unreadable = False


@contextmanager
def reading(name: str, problems: list[Problem]) -> Iterator[FileProblems]:
    """Collect one file's problems; if reading it fails, keep only one line saying why.

    pydicom warns about every odd value of a damaged file: those warnings are not the
    user's reason, so they are silenced here."""
    found = FileProblems()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield found
    except Unreadable as exc:
        found[:] = [Problem(name, str(exc))]
        found.unreadable = True
    except Exception as exc:  # a damaged file may raise anything (see above)
        found[:] = [Problem(name, "cannot be read as a TID 1500 measurement report:"
                                  f" {one_line(exc)}{_named_item(exc)}")]
        found.unreadable = True
    problems.extend(found)


class _FileImage(BytesIO):
    """A file's bytes that note the first read they could not fill: pydicom takes a file
    that ends inside an element for a shorter dataset, so a cut-short file would otherwise
    read as a smaller report (a size of "1" for "14")."""

    HEADER = 8  # a read of a whole element header that finds nothing is the normal end

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.cut_at: int | None = None

    def read(self, size: int | None = -1, /) -> bytes:
        out = super().read(size)
        wanted = -1 if size is None else size
        if self.cut_at is None and wanted > len(out) and not (
                not out and wanted == self.HEADER):
            self.cut_at = self.tell()
        return out


def _bytes_of(source: bytes | str | Path | BinaryIO) -> bytes:
    if isinstance(source, bytes):
        return source
    if isinstance(source, str | Path):
        try:
            return Path(source).read_bytes()
        except IsADirectoryError as exc:
            raise Unreadable("is a folder, not a file") from exc
        except FileNotFoundError as exc:
            raise Unreadable("no such file") from exc
        except OSError as exc:
            raise Unreadable(f"cannot be opened ({exc.strerror})") from exc
    return source.read()


def _parse(source: bytes | str | Path | BinaryIO) -> Dataset:
    """The whole file parsed now (pydicom converts values lazily; a damaged value must fail
    here, not later in the middle of the mapping)."""
    data = _bytes_of(source)
    image = _FileImage(data)
    try:
        ds = dcmread(image)
    except InvalidDicomError as exc:
        raise Unreadable("is not a DICOM file (no DICM header and no DICOM file meta"
                         " information)") from exc
    except Exception as exc:  # damaged data: see the module docstring
        raise Unreadable(_damaged(image, exc)) from exc
    try:
        for _ in ds.iterall():
            pass
    except Exception as exc:  # damaged data: see the module docstring
        raise Unreadable(_damaged(image, exc)) from exc
    if image.cut_at is not None:
        raise Unreadable(_damaged(image, None))
    if len(ds) == 0:
        raise Unreadable(f"holds a file header and no DICOM data ({len(data)} bytes): it was"
                         " cut short")
    return ds


def _damaged(image: _FileImage, exc: Exception | None) -> str:
    size = len(image.getbuffer())
    if image.cut_at is not None:
        return (f"is cut short: its {size} bytes end inside a DICOM element (the file was"
                " copied or downloaded only in part)")
    return f"is a damaged DICOM file ({size} bytes): {one_line(exc)}"


def read_sr(source: bytes | str | Path | BinaryIO) -> Any:
    """The highdicom SR document of a file, or Unreadable with the reason."""
    ds = _parse(source)
    sop_class = str(getattr(ds, "SOPClassUID", "") or "")
    cls = SR_CLASSES.get(sop_class)
    if cls is None:
        kind = UID(sop_class).name if sop_class else "no SOP class"
        raise Unreadable(f"is a DICOM file but not a structured report ({kind})")
    empty = _empty_groups(ds)
    if empty:
        raise Unreadable(f"measurement group {empty[0]} of the Imaging Measurements is empty"
                         " (no tracking identifier, finding site or measurement)")
    try:
        return cls.from_dataset(ds, copy=False)
    except Exception as exc:  # highdicom's checks raise several types
        raise Unreadable(f"is not a TID 1500 measurement report that can be read"
                         f"{writer_of(ds)}: {one_line(exc)}{_named_item(exc)}") from exc


def _concept(item: Dataset) -> str:
    names = item.get("ConceptNameCodeSequence") or []
    return str(names[0].get("CodeValue", "")) if names else ""


def _children(item: Dataset, concept: str) -> list[Dataset]:
    return [c for c in item.get("ContentSequence") or [] if _concept(c) == concept]


def _empty_groups(ds: Dataset) -> list[int]:
    """1-based positions of measurement group containers with no content at all."""
    return [i for container in _children(ds, IMAGING_MEASUREMENTS)
            for i, group in enumerate(container.get("ContentSequence") or [], start=1)
            if group.get("ValueType") == "CONTAINER" and not group.get("ContentSequence")]


def dicom_date(value: Any) -> date | None:
    text = str(value or "").strip()
    if not text:
        return None
    try:
        return datetime.strptime(text[:8], "%Y%m%d").date()
    except ValueError:
        return None


def dates_in(items: Iterable[Any]) -> date | None:
    """The best DATE among these content items (Study, then Acquisition, then Content Date)."""
    found: dict[str, date] = {}
    for item in items:
        if item.get("ValueType") == "DATE" and _concept(item) in DATE_CONCEPTS:
            day = dicom_date(item.get("Date"))
            if day is not None:
                found.setdefault(_concept(item), day)
    return next((found[c] for c in DATE_CONCEPTS if c in found), None)


def library_dates(sr: Dataset) -> dict[str, date]:
    """SOP instance UID -> the date its Image Library entry gives (the entry's own
    descriptors, else its Image Library Group's). A prior study's images say their date only
    here: the evidence sequences hold UIDs, no dates."""
    out: dict[str, date] = {}
    for library in _children(sr, IMAGE_LIBRARY):
        for group in library.get("ContentSequence") or []:
            shared = dates_in(group.get("ContentSequence") or [])
            for entry in group.get("ContentSequence") or []:
                if entry.get("ValueType") != "IMAGE":
                    continue
                day = dates_in(entry.get("ContentSequence") or []) or shared
                for ref in entry.get("ReferencedSOPSequence") or []:
                    uid = str(ref.get("ReferencedSOPInstanceUID", "") or "")
                    if day is not None and uid:
                        out[uid] = day
    return out


def report_date(sr: Dataset) -> date | None:
    """StudyDate (else SeriesDate, ContentDate) of the report itself."""
    return next((d for d in (dicom_date(getattr(sr, key, None))
                             for key in ("StudyDate", "SeriesDate", "ContentDate"))
                 if d is not None), None)


def is_sr_file(path: Path) -> bool:
    """Whether a file in a folder is to be read as a DICOM SR: its Modality says SR, or it is
    a DICOM file too damaged to say (it is then refused with its reason, not skipped)."""
    try:
        with path.open("rb") as fh:
            dicom = fh.read(DICM_END)[DICM_START:] == b"DICM"
    except OSError:
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = dcmread(path, stop_before_pixels=True, specific_tags=["Modality"])
        return str(getattr(ds, "Modality", "")) == "SR"
    except Exception:  # a damaged DICOM file: convert() says why
        return dicom


@dataclass(frozen=True)
class ReportHeader:
    """Who and where a report is, from its header alone: what its record is keyed by."""

    sop_instance_uid: str
    study_uid: str
    series_uid: str
    sop_class_uid: str
    patient_id: str
    content_date: date | None


def report_header(data: bytes) -> ReportHeader | None:
    """The header of a DICOM file, or None when it cannot be read or names no instance (the
    converter then says why, in one line)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = dcmread(BytesIO(data), stop_before_pixels=True)
            values = [str(getattr(ds, key, "") or "").strip() for key in
                      ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "SOPClassUID",
                       "PatientID")]
            written = dicom_date(getattr(ds, "ContentDate", None))
    except Exception:  # a damaged file: the converter says why
        return None
    if not all(values[:4]) or any(len(v) > 64 for v in values):
        return None
    uid, study, series, sop_class, patient = values
    return ReportHeader(uid, study, series, sop_class, patient, written)
