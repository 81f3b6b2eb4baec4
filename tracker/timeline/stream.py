"""A `lesion-timeline/1` document read patient by patient (ijson), so that memory follows one
patient, not the file: the same problems, with the same paths, as the whole-document reader.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from typing import Any, BinaryIO

import ijson
from pydantic import ValidationError

from tracker.errors import InvalidInput, Problem
from tracker.timeline.models import PatientIn, Timeline
from tracker.timeline.problems import (
    ProblemLog,
    document_problems,
    patient_id_used_before,
    problems_of,
    sort_key,
)
from tracker.timeline.reader import (
    MAX_JSON_DEPTH,
    drop_nulls,
    parse_json,
    unstorable_problems,
    validate_patient,
    validate_timeline,
)

_OPEN = {"start_map", "start_array"}
_CLOSE = {"end_map", "end_array"}
_Event = tuple[str, Any]


def _path(stack: list[Any]) -> str:
    """The JSON path (`patients[0].lesions[2]`) of the value being read."""
    path = ""
    for step in stack:
        if isinstance(step, int):
            path += f"[{step}]"
        elif step is not None:
            path += f".{step}" if path else str(step)
    return path


def _within_depth(events: Iterator[_Event]) -> Iterator[_Event]:
    """ijson's basic events, refused as soon as the nesting passes `MAX_JSON_DEPTH`: read while
    reading, so a document of 100,000 nested arrays stops after 33 events, whatever its size
    (ijson's own prefixes grow with the depth, quadratic in it: never used here)."""
    stack: list[Any] = []  # per open container: its current key (object) or index (array)
    for kind, value in events:
        if stack and isinstance(stack[-1], int) and kind not in _CLOSE:
            stack[-1] += 1
        if kind == "map_key":
            stack[-1] = value
        elif kind in _CLOSE:
            stack.pop()
        else:
            if len(stack) > MAX_JSON_DEPTH:
                raise InvalidInput([Problem(
                    _path(stack), f"is nested more than {MAX_JSON_DEPTH} levels deep")])
            if kind in _OPEN:
                stack.append(None if kind == "start_map" else -1)
        yield kind, value


def _build(first: _Event, events: Iterator[_Event]) -> Any:
    """The JSON value that starts with `first`, built from the events that follow it."""
    builder = ijson.ObjectBuilder()
    builder.event(first[0], first[1])
    if first[0] in _OPEN:
        for kind, value in _until_closed(events):
            builder.event(kind, value)
    return builder.value


def _until_closed(events: Iterator[_Event]) -> Iterator[_Event]:
    """The events of an object or array whose opening event was just read, up to and with the
    one that closes it."""
    depth = 1
    for event in events:
        yield event
        if event[0] in _OPEN:
            depth += 1
        elif event[0] in _CLOSE:
            depth -= 1
            if depth == 0:
                return


class PatientStream:
    """A lesion-timeline/1 document read patient by patient (ijson), so that memory follows one
    patient, not the file. A first pass checks that the whole file is JSON and reads the
    document's own keys (`format`), before anything is written; the second yields
    `(index, PatientIn)` for every valid patient. Every problem (the same messages and paths as
    `validate_timeline`, with the cross-patient check of duplicate ids) goes to `problems`; a
    consumer writes nothing once `problems` is not empty.

    Broken JSON raises InvalidInput with the JSON module's line and column (re-read whole: on
    that error path only, the file is then in memory once)."""

    def __init__(self, source: BinaryIO, *, today: date) -> None:
        self.source = source
        self.today = today
        self.problems = ProblemLog()
        self._first_index: dict[str, int] = {}

    def __iter__(self) -> Iterator[tuple[int, PatientIn]]:
        """From the start of the file each time (an import retried after a deadlock)."""
        self.source.seek(0)
        self._first_index.clear()
        try:
            head = self._head()
            if head is None:
                self.problems.extend(
                    [Problem("", "expected a JSON object with format and patients")])
                return
            self._check_head(*head)
            if not head[1]:
                return
            self.source.seek(0)
            patients = ijson.items(self.source, "patients.item", use_float=True)
            for index, raw in enumerate(patients):
                patient = self._patient(index, raw)
                if patient is not None:
                    yield index, patient
        except (ijson.JSONError, UnicodeDecodeError, ValueError) as exc:
            raise self._broken(exc) from exc

    def _head(self) -> tuple[dict[str, Any], bool] | None:
        """First pass, before anything is written: the whole file is well-formed JSON, and
        the document's keys other than the patients (built; the patients are only skipped)."""
        events = _within_depth(ijson.basic_parse(self.source, use_float=True))
        first = next(events, None)
        if first is None:
            raise ijson.IncompleteJSONError("empty")
        if first[0] != "start_map":
            for _ in events:  # a broken tail is reported as broken JSON, as before
                pass
            return None
        head: dict[str, Any] = {}
        arrays = 0
        for kind, key in events:
            if kind == "end_map":
                break
            value_start = next(events)
            if key == "patients" and value_start[0] == "start_array":
                arrays += 1
                for _ in _until_closed(events):  # skipped: read in the second pass
                    pass
            else:
                head[key] = _build(value_start, events)
        for _ in events:
            pass
        if arrays > 1:
            self.problems.extend([Problem("patients", "is given more than once")])
        return head, arrays > 0

    def _patient(self, index: int, raw: Any) -> PatientIn | None:
        problems: list[Problem] = []
        pid = raw.get("id") if isinstance(raw, dict) else None
        if isinstance(pid, str):
            first = self._first_index.setdefault(pid, index)
            if first != index:
                problems.append(
                    Problem(f"patients[{index}].id", patient_id_used_before(pid, first)))
        patient, own = validate_patient(raw, index, today=self.today)
        self.problems.extend(sorted(problems + own, key=sort_key))
        return None if problems else patient

    def _check_head(self, head: dict[str, Any], streamed: bool) -> None:
        unstorable = unstorable_problems(head)
        if unstorable:
            self.problems.extend(unstorable)
            return
        cleaned = drop_nulls(head)
        if streamed:
            cleaned["patients"] = []
        try:
            Timeline.model_validate(cleaned)
        except ValidationError as exc:
            self.problems.extend(problems_of(exc))
        if not streamed:
            self.problems.extend(document_problems(cleaned, today=self.today))

    def _broken(self, exc: Exception) -> InvalidInput:
        """The message the whole-document reader gives for this input."""
        self.source.seek(0)
        data = self.source.read()
        try:
            validate_timeline(parse_json(data, max_bytes=len(data) + 1), today=self.today)
        except InvalidInput as whole:
            return whole
        except ValueError:  # e.g. an integer longer than Python converts
            pass
        return InvalidInput([Problem("", f"not valid JSON: {str(exc).splitlines()[0]}")])


def stream_timeline(data: bytes, *, today: date, max_bytes: int) -> PatientStream:
    """An uploaded document (already in memory, within `max_bytes`) read patient by patient."""
    if len(data) > max_bytes:
        raise InvalidInput(
            [Problem("", f"file is {len(data)} bytes; the limit is {max_bytes} bytes")]
        )
    return PatientStream(io.BytesIO(data), today=today)
