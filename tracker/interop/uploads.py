"""What kind of file an upload is, from its first bytes, so that each import page can send a
file of another kind to the page that reads it instead of failing on its first byte (a
spreadsheet given to the timeline page, a DICOM SR given to the CSV page)."""

from __future__ import annotations

import csv
from enum import StrEnum

from tracker.interop.csv_rows import COLUMNS, column_name, sniff_separator
from tracker.interop.sr_file import DICM_END, DICM_START

BOM = b"\xef\xbb\xbf"
SNIFF_BYTES = 4096
MIN_KNOWN_COLUMNS = 2


class FileKind(StrEnum):
    TIMELINE = "a lesion-timeline/1 JSON file"
    CSV = "a CSV spreadsheet"
    DICOM = "a DICOM file"


def kind_of(filename: str, data: bytes) -> FileKind | None:
    """The kind the bytes say (a DICOM preamble, JSON, a header of known CSV columns), else
    the one the file name says; None when neither says."""
    if data[DICM_START:DICM_END] == b"DICM":
        return FileKind.DICOM
    head = data[:SNIFF_BYTES].removeprefix(BOM).lstrip()
    if head.startswith((b"{", b"[")):
        return FileKind.TIMELINE
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace")
    names = next(csv.reader([first], delimiter=sniff_separator(first)), [])
    if sum(column_name(n) in COLUMNS for n in names) >= MIN_KNOWN_COLUMNS:
        return FileKind.CSV
    suffix = filename.lower().rsplit(".", 1)[-1] if "." in filename else ""
    return {"json": FileKind.TIMELINE, "csv": FileKind.CSV, "dcm": FileKind.DICOM}.get(suffix)
