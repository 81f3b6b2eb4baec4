"""CSV, one row per observation -> `lesion-timeline/1` documents, streamed.

No database. Each row is checked on its own by the timeline's own validation (a one-row
document), and against the rows before it (one site, birth year and sex per patient and
lesion; one observation per lesion per day), keeping only those keys in memory. Rows are then
grouped into documents of at most `chunk_rows` rows for the import. Problems name the line
(the header is line 1; a row whose quoted cell holds a line break is named by its first line)
and the column.

Files as clinics make them, read right: the separator is the one that splits the header into
known column names (`,`, or `;` as Excel writes it where the decimal mark is a comma, or tab);
sizes take a decimal comma (`12,5`, the web form's reader); header names are matched whatever
their case and spacing (`Birth Year` is `birth_year`); empty rows and empty cells past the last
column are ignored; a rejects file's own columns (`line`, `errors`, `(extra cells)`) are
ignored and its escaping apostrophes read back off, so a corrected rejects file imports. What
is ambiguous stays refused: a date must be YYYY-MM-DD (03/04/2024 is April or March).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from itertools import chain
from typing import Any, TextIO

from tracker import spreadsheets
from tracker.errors import InvalidInput, Problem
from tracker.interop.converted import Converted
from tracker.timeline.models import FORMAT
from tracker.timeline.reader import validate_timeline
from tracker.typed_numbers import number

PATIENT_COLUMNS = ("patient", "birth_year", "sex")
LESION_COLUMNS = ("lesion", "compartment", "region", "structure", "laterality", "entity",
                  "event_date", "event_kind")
OBSERVATION_COLUMNS = ("date", "modality", "visible", "size1_mm", "size2_mm", "size3_mm",
                       "density", "margin", "texture", "pattern", "features", "pain",
                       "study_uid", "accession", "note")
COLUMNS = PATIENT_COLUMNS + LESION_COLUMNS + OBSERVATION_COLUMNS
REQUIRED = ("patient", "lesion", "compartment", "region", "laterality", "date", "modality")
SITE_KEYS = ("compartment", "region", "structure", "laterality")
FEATURE_SEPARATOR = ";"
TRUE, FALSE = ("true", "yes", "1"), ("false", "no", "0")
CHUNK_ROWS = 2000
SEPARATORS = (",", ";", "\t")  # the first wins a tie
EXTRA_CELLS = "(extra cells)"
REJECTS_COLUMNS = ("line", "errors")  # what a rejects file adds before the cells
IGNORED_COLUMNS = (*REJECTS_COLUMNS, "(extra_cells)")  # as column_name() reads them
DATE_COLUMNS = ("date", "event_date")
LOCAL_DATE = re.compile(r"\d{1,2}[./-]\d{1,2}[./-]\d{2,4}")


@dataclass
class Row:
    """One data line: the one-row document it becomes, or what is wrong with it."""

    line: int
    cells: dict[str, str]
    document: dict[str, Any] | None
    problems: list[Problem] = field(default_factory=list)


def _whole(text: str) -> Any:
    return int(text) if re.fullmatch(r"[+-]?\d+", text) else text


def _flag(text: str) -> Any:
    low = text.lower()
    return True if low in TRUE else False if low in FALSE else text


def row_document(cells: dict[str, str]) -> dict[str, Any]:
    """A one-row lesion-timeline/1 document; empty cells are absent fields."""
    c = {k: v.strip() for k, v in cells.items() if k in COLUMNS and v is not None and v.strip()}
    obs: dict[str, Any] = {k: c[k] for k in ("date", "modality", "density", "margin", "texture",
                                             "pattern", "study_uid", "accession", "note")
                           if k in c}
    if "visible" in c:
        obs["visible"] = _flag(c["visible"])
    sizes = [number(c[k]) for k in ("size1_mm", "size2_mm", "size3_mm") if k in c]
    if sizes:
        obs["size_mm"] = sizes
    if "features" in c:
        obs["features"] = [f.strip() for f in c["features"].split(FEATURE_SEPARATOR)
                           if f.strip()]
    if "pain" in c:
        obs["pain"] = _whole(c["pain"])
    lesion: dict[str, Any] = {"id": c.get("lesion", ""),
                              "site": {k: c[k] for k in SITE_KEYS if k in c},
                              "observations": [obs]}
    for key in ("entity", "event_date", "event_kind"):
        if key in c:
            lesion[key] = c[key]
    patient: dict[str, Any] = {"id": c.get("patient", ""), "lesions": [lesion]}
    if "birth_year" in c:
        patient["birth_year"] = _whole(c["birth_year"])
    if "sex" in c:
        patient["sex"] = c["sex"]
    return {"format": FORMAT, "patients": [patient]}


def column_of(path: str) -> str:
    """A one-row document's JSON path -> the CSV column it came from."""
    m = re.search(r"size_mm\[(\d)\]$", path)
    if m:
        return f"size{int(m.group(1)) + 1}_mm"
    names = re.findall(r"[A-Za-z_]+", path)
    last = names[-1] if names else ""
    if last == "id":
        return "lesion" if "lesions" in names else "patient"
    if last == "size_mm":
        return "size1_mm"
    return last


def _row_problems(line: int, cells: dict[str, str],
                  problems: Iterable[Problem]) -> list[Problem]:
    seen: list[Problem] = []
    for p in problems:
        column = column_of(p.path)
        message = p.message
        value = cells.get(column, "").strip()
        if column in DATE_COLUMNS and LOCAL_DATE.fullmatch(value):
            message += (f": a spreadsheet wrote it in a local format, where day and month"
                        f" cannot be told apart; write {column} as YYYY-MM-DD")
        q = Problem(f"line {line}, {column}", message)
        if q not in seen:
            seen.append(q)
    return seen


def column_name(raw: str) -> str:
    """`" Birth Year "` -> `birth_year`: the header as people type it, in any case."""
    return re.sub(r"[\s-]+", "_", raw.replace("\ufeff", "").strip().lower())


def sniff_separator(header_line: str) -> str:
    """The separator that splits the header into the most known column names."""
    def known(separator: str) -> int:
        names = next(csv.reader([header_line], delimiter=separator), [])
        return sum(column_name(n) in COLUMNS for n in names)

    return max(SEPARATORS, key=known)


def header_problems(header: list[str] | None) -> list[Problem]:
    if not header:
        return [Problem("line 1", "the file is empty; expected a header row")]
    problems = [Problem("line 1", f"column {i} has no name") if not name else
                Problem("line 1", f"unknown column {name!r} (columns: {', '.join(COLUMNS)})")
                for i, name in enumerate(header, start=1)
                if name not in COLUMNS and name not in IGNORED_COLUMNS]
    problems += [Problem("line 1", f"column {name!r} is required") for name in REQUIRED
                 if name not in header]
    dupes = sorted({n for n in header if header.count(n) > 1})
    problems += [Problem("line 1", f"column {name!r} appears more than once") for name in dupes]
    return problems


class RowChecker:
    """Cross-row rules, keeping only keys: one patient, one lesion site, one visit per day."""

    def __init__(self) -> None:
        self.patients: dict[str, tuple[int, dict[str, Any]]] = {}
        self.lesions: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        self.visits: dict[tuple[str, str, str], int] = {}

    def check(self, line: int, doc: dict[str, Any]) -> list[Problem]:
        patient = doc["patients"][0]
        lesion = patient["lesions"][0]
        obs = lesion["observations"][0]
        problems: list[Problem] = []
        pid, lid = patient["id"], lesion["id"]
        attrs = {k: patient.get(k) for k in ("birth_year", "sex") if k in patient}
        first = self.patients.setdefault(pid, (line, attrs))
        for key, value in attrs.items():
            if key in first[1] and first[1][key] != value:
                problems.append(Problem(f"line {line}, {key}", f"{value} differs from"
                                        f" {first[1][key]} on line {first[0]} (patient {pid})"))
            first[1].setdefault(key, value)
        described = {"site": lesion["site"],
                     **{k: lesion[k] for k in ("entity", "event_date", "event_kind")
                        if k in lesion}}
        known = self.lesions.setdefault((pid, lid), (line, described))
        for key, value in described.items():
            if key in known[1] and known[1][key] != value:
                shown = "site" if key == "site" else key
                problems.append(Problem(f"line {line}, {'region' if key == 'site' else key}",
                                        f"lesion {lid} of {pid}: {shown} differs from line"
                                        f" {known[0]}"))
        day = (pid, lid, str(obs.get("date")))
        if day in self.visits:
            problems.append(Problem(f"line {line}, date",
                                    f"lesion {lid} of {pid} already has an observation on"
                                    f" {obs.get('date')} (line {self.visits[day]})"))
        else:
            self.visits[day] = line
        return problems


def read_rows(stream: TextIO, *, today: date) -> Iterator[Row]:
    """Every data row, checked alone and against the rows before it. A bad header raises.

    `stream` is text read with newline="" (a quoted cell may hold a line break)."""
    first_line = stream.readline()
    separator = sniff_separator(first_line)
    reader = csv.reader(chain([first_line], stream), delimiter=separator)
    header = [column_name(n) for n in next(reader, [])]
    while header and not header[-1]:
        header.pop()  # empty columns after the last named one
    problems = header_problems(header)
    if problems:
        raise InvalidInput(problems)
    checker = RowChecker()
    end = reader.line_num
    for raw in reader:
        line, end = end + 1, reader.line_num
        if not any(c.strip() for c in raw):
            continue  # an empty row, or one of empty cells (a spreadsheet's trailing rows)
        cells = {name: spreadsheets.unescaped(value)
                 for name, value in zip(header, raw, strict=False)
                 if name not in IGNORED_COLUMNS}
        extra = raw[len(header):]
        if any(c.strip() for c in extra):
            cells[EXTRA_CELLS] = separator.join(extra)
            yield Row(line, cells, None,
                      [Problem(f"line {line}", "has more cells than the header has columns")])
            continue
        doc = row_document(cells)
        try:
            validate_timeline(doc, today=today)
        except InvalidInput as exc:
            yield Row(line, cells, None, _row_problems(line, cells, exc.problems))
            continue
        cross = checker.check(line, doc)
        yield Row(line, cells, None if cross else doc, cross)


REJECTS_HEADER = (*REJECTS_COLUMNS, *COLUMNS, EXTRA_CELLS)
REJECTS_ENCODING = "utf-8-sig"  # with a BOM, so that Excel opens it as UTF-8


def check(rows: Iterable[Row], rejects: TextIO | None = None) -> tuple[list[Problem], int]:
    """Pass one of an import: every problem, and how many rows were bad; with `rejects`,
    the bad rows, each with its line and errors, written there as a CSV that imports again
    once corrected (through `spreadsheets.writer`: the cells are what people typed)."""
    problems: list[Problem] = []
    writer = spreadsheets.writer(rejects) if rejects is not None else None
    bad = 0
    for row in rows:
        if not row.problems:
            continue
        problems.extend(row.problems)
        bad += 1
        if writer is None:
            continue
        if bad == 1:
            writer.writerow(REJECTS_HEADER)
        errors = "; ".join(f"{p.path.split(', ', 1)[-1]}: {p.message}" for p in row.problems)
        writer.writerow([row.line, errors, *(row.cells.get(c, "") for c in REJECTS_HEADER[2:])])
    return problems, bad


def chunk(rows: Iterable[Row]) -> Converted:
    """Good rows put together as one document; origins are their line numbers."""
    patients: dict[str, dict[str, Any]] = {}
    lesions: dict[tuple[str, str], dict[str, Any]] = {}
    origins: dict[tuple[str, str, str], list[str]] = {}
    for row in rows:
        assert row.document is not None
        p_in = row.document["patients"][0]
        l_in = p_in["lesions"][0]
        obs = l_in["observations"][0]
        patient = patients.setdefault(p_in["id"], {"id": p_in["id"], "lesions": []})
        for key in ("birth_year", "sex"):
            if key in p_in:
                patient[key] = p_in[key]
        lesion = lesions.get((p_in["id"], l_in["id"]))
        if lesion is None:
            lesion = {k: v for k, v in l_in.items() if k != "observations"}
            lesion["observations"] = []
            lesions[(p_in["id"], l_in["id"])] = lesion
            patient["lesions"].append(lesion)
        else:
            lesion.update({k: v for k, v in l_in.items() if k != "observations"})
        lesion["observations"].append(obs)
        origins[(p_in["id"], l_in["id"], obs["date"])] = [f"line {row.line}"]
    return Converted({"format": FORMAT, "patients": list(patients.values())}, origins)


def documents(rows: Iterable[Row], size: int = CHUNK_ROWS) -> Iterator[Converted]:
    """The good rows, `size` at a time, each batch one document (bad rows are left out)."""
    batch: list[Row] = []
    for row in rows:
        if row.document is None:
            continue
        batch.append(row)
        if len(batch) >= size:
            yield chunk(batch)
            batch = []
    if batch:
        yield chunk(batch)
