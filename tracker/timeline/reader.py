"""Reading a whole `lesion-timeline/1` input: JSON decoded within its limits (size, nesting
depth, integer length, NUL characters: what no database can hold), then validated in two passes
that collect every problem before anything is written: field rules (the models), then the rules
that span fields (`problems`). Also one part posted by a form or the API (an observation, a
treatment, any request shape), checked like the same part inside a timeline.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from tracker.errors import InvalidInput, Problem
from tracker.timeline.models import ObservationIn, PatientIn, Timeline, TreatmentIn
from tracker.timeline.problems import (
    document_problems,
    observation_problems,
    patient_problems,
    problems_of,
    sort_key,
    treatment_problems,
)

_M = TypeVar("_M", bound=BaseModel)
MAX_JSON_DEPTH = 32  # a lesion-timeline/1 document nests 8 levels
# No field holds a whole number anywhere near this long; Python refuses to convert one of more
# than 4300 digits at all (int_max_str_digits), so longer ones must be caught while parsing.
MAX_INTEGER_DIGITS = 64


def drop_nulls(value: Any) -> Any:
    """`null` for an optional field means absent (clinical-rules §9a.22)."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


@dataclass(frozen=True)
class _Unreadable:
    """A JSON number no field can hold, left in place while parsing so that `unstorable_problems`
    reports it with its path."""

    message: str


def _read_integer(text: str) -> int | _Unreadable:
    digits = len(text.lstrip("-"))
    if digits > MAX_INTEGER_DIGITS:
        return _Unreadable(f"is a whole number of {digits} digits; "
                           f"at most {MAX_INTEGER_DIGITS} are accepted")
    return int(text)


def _read_constant(text: str) -> _Unreadable:
    return _Unreadable(f"{text} is not a JSON number")


def unstorable_problems(doc: Any, path: str = "", depth: int = 0) -> list[Problem]:
    """What no database can hold, whatever the document: nesting far deeper than any
    lesion-timeline/1 document (it would exhaust the stack), a NUL character in text
    (PostgreSQL refuses it), or a number no field can hold. `path` and `depth` place a part
    (one patient) in its document."""
    problems: list[Problem] = []
    stack: list[tuple[Any, str, int]] = [(doc, path, depth)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return [Problem(path, f"is nested more than {MAX_JSON_DEPTH} levels deep")]
        if isinstance(value, _Unreadable):
            problems.append(Problem(path, value.message))
        elif isinstance(value, str) and "\x00" in value:
            problems.append(
                Problem(path, "contains a NUL character (\\u0000), which cannot be stored")
            )
        elif isinstance(value, dict):
            stack.extend((v, f"{path}.{k}" if path else k, depth + 1) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value))
    return sorted(problems, key=sort_key)


def unstorable_or_nulls(doc: Any, depth: int = 0) -> tuple[bool, bool]:
    """(anything `unstorable_problems` would report, any null in an object): the same walk without
    building a path per value, for the common case of a clean part."""
    stack: list[tuple[Any, int]] = [(doc, depth)]
    nulls = False
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return True, nulls
        if isinstance(value, str):
            if "\x00" in value:
                return True, nulls
        elif isinstance(value, dict):
            for v in value.values():
                if v is None:
                    nulls = True
                elif isinstance(v, (dict, list, str)):
                    stack.append((v, depth + 1))
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value if isinstance(v, (dict, list, str)))
    return False, nulls


def parse_json(data: bytes | str, *, max_bytes: int, what: str = "file") -> Any:
    """Decode JSON or say exactly where it is broken. `what` names the input in messages."""
    size = len(data.encode() if isinstance(data, str) else data)
    if size > max_bytes:
        raise InvalidInput(
            [Problem("", f"{what} is {size} bytes; the limit is {max_bytes} bytes")]
        )
    if not data.strip():
        expected = "a lesion-timeline/1 document" if what == "file" else "a JSON object"
        raise InvalidInput([Problem("", f"{what} is empty; expected {expected}")])
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        doc = json.loads(text, parse_int=_read_integer, parse_constant=_read_constant)
    except UnicodeDecodeError as exc:
        raise InvalidInput([Problem("", f"not UTF-8 text (byte {exc.start})")]) from exc
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            [Problem(f"line {exc.lineno} column {exc.colno}", f"not valid JSON: {exc.msg}")]
        ) from exc
    except RecursionError as exc:
        raise InvalidInput(
            [Problem("", f"{what} is nested more than {MAX_JSON_DEPTH} levels deep")]
        ) from exc
    problems = unstorable_problems(doc)
    if problems:
        raise InvalidInput(problems)
    return doc


def validate_timeline(raw: Any, *, today: date) -> Timeline:
    """The whole document, every problem at once; raises InvalidInput listing them all."""
    if not isinstance(raw, dict):
        raise InvalidInput([Problem("", "expected a JSON object with format and patients")])
    cleaned = drop_nulls(raw)
    problems: list[Problem] = []
    timeline: Timeline | None = None
    try:
        timeline = Timeline.model_validate(cleaned)
    except ValidationError as exc:
        problems.extend(problems_of(exc))
    problems.extend(document_problems(cleaned, today=today))
    if problems:
        raise InvalidInput(sorted(problems, key=sort_key))
    assert timeline is not None
    return timeline


def validate_patient(raw: Any, index: int, *, today: date
                     ) -> tuple[PatientIn | None, list[Problem]]:
    """One patient of a document (`patients[index]`), every problem of its own (the checks
    across patients are the document's): how an import reads a patient, and how `tracker
    check` judges a stored one."""
    path = f"patients[{index}]"
    unstorable, nulls = unstorable_or_nulls(raw, depth=2)
    if unstorable:
        return None, unstorable_problems(raw, path, depth=2)
    cleaned = drop_nulls(raw) if nulls else raw
    problems: list[Problem] = []
    patient: PatientIn | None = None
    try:
        patient = PatientIn.model_validate(cleaned)
    except ValidationError as exc:
        problems.extend(problems_of(exc, ("patients", index)))
    problems.extend(patient_problems(cleaned, path, today=today))
    return (None if problems else patient), problems


def load_timeline(data: bytes | str, *, today: date, max_bytes: int) -> Timeline:
    return validate_timeline(parse_json(data, max_bytes=max_bytes), today=today)


def validate_model(model: type[_M], raw: Any) -> _M:
    """Any request shape (an alert action, query arguments) checked with this format's paths
    and messages; `null` means absent, as in a timeline."""
    if not isinstance(raw, dict):
        raise InvalidInput([Problem("", "expected a JSON object")])
    try:
        return model.model_validate(drop_nulls(raw))
    except ValidationError as exc:
        raise InvalidInput(sorted(problems_of(exc), key=sort_key)) from None


_Part = TypeVar("_Part", bound=BaseModel)


def _validate_part(
    model: type[_Part],
    rules: Callable[..., Iterator[Problem]],
    raw: Any,
    *,
    today: date,
    birth_year: int | None,
    event_date: date | None,
    path: str,
) -> _Part:
    """One part posted by a form or the API, checked like the same part inside a timeline."""
    if not isinstance(raw, dict):
        raise InvalidInput([Problem(path, "expected an object")])
    cleaned = drop_nulls(raw)
    problems: list[Problem] = []
    part: _Part | None = None
    try:
        part = model.model_validate(cleaned)
    except ValidationError as exc:
        problems.extend(problems_of(exc, (path,) if path else ()))
    problems.extend(
        Problem(p.path.lstrip("."), p.message)
        for p in rules(cleaned, path, today=today, birth_year=birth_year, event_date=event_date)
    )
    if problems:
        raise InvalidInput(sorted(problems, key=sort_key))
    assert part is not None
    return part


def validate_observation(
    raw: Any,
    *,
    today: date,
    birth_year: int | None = None,
    event_date: date | None = None,
    path: str = "",
) -> ObservationIn:
    """One observation posted by a form or the API, checked like one inside a timeline."""
    return _validate_part(ObservationIn, observation_problems, raw, today=today,
                          birth_year=birth_year, event_date=event_date, path=path)


def validate_treatment(
    raw: Any,
    *,
    today: date,
    birth_year: int | None = None,
    event_date: date | None = None,
    path: str = "",
) -> TreatmentIn:
    """One treatment posted by a form or the API, checked like one inside a timeline (the
    same-date-and-kind rule against stored treatments is the service's)."""
    return _validate_part(TreatmentIn, treatment_problems, raw, today=today,
                          birth_year=birth_year, event_date=event_date, path=path)
