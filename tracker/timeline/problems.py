"""What is wrong with a `lesion-timeline/1` input, in the spec's words and with its JSON path:
pydantic's errors turned into the format's messages, and the rules that span fields (dates
against today, the birth year and the event date; duplicates; what an invisible observation may
carry), which also run on the parts pydantic could not accept. Every entry point (file, form,
API, stored-record checks) reports through these, so the same problem reads the same everywhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

from pydantic import ValidationError

from tracker.errors import MAX_REPORTED_PROBLEMS, InvalidInput, Problem
from tracker.timeline.models import FORMAT, MAX_ID_CHARS, ObservationIn, TreatmentIn
from tracker.vocabulary import TIMELINE_CODES

# --------------------------------------------------------------------------- paths and messages


def json_path(loc: Iterable[int | str]) -> str:
    """('patients', 3, 'size_mm', 0) -> 'patients[3].size_mm[0]'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after", "function-before", "constrained-str"):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return json.dumps(value) if len(value) <= 60 else json.dumps(value[:57] + "...")
    if isinstance(value, (dict, list)):
        return "an object" if isinstance(value, dict) else "a list"
    return json.dumps(value)


# Field names whose vocabulary list is called otherwise in vocabulary.md.
_CODE_NAMES: dict[str, str] = {"event_kind": "event kind", "kind": "treatment kind"}

# What a pattern-constrained text field may hold, in the user's words.
_PATTERN_RULES: dict[str, str] = {
    "study_uid": "is not a DICOM StudyInstanceUID: digits and dots, up to 64 characters,"
    " no empty component and no leading zero in a component",
    "accession": "may not contain a backslash or a control character",
}


# A value beyond a bound: how it reads, and the bound's key in pydantic's error context.
_BOUNDS: dict[str, tuple[str, str]] = {
    "less_than_equal": ("is above", "le"),
    "greater_than": ("must be above", "gt"),
    "greater_than_equal": ("is below", "ge"),
}
# A value of the wrong type: what it is not.
_NOT_A: dict[str, str] = {
    "finite_number": "a finite number",
    **dict.fromkeys(("int_type", "int_parsing", "int_from_float"), "a whole number"),
    **dict.fromkeys(("float_type", "float_parsing"), "a number"),
    **dict.fromkeys(("bool_type", "bool_parsing"), "true or false"),
    "string_type": "text",
    "list_type": "a list",
    **dict.fromkeys(("model_type", "dict_type", "model_attributes_type"), "an object"),
}


def _field_name(loc: tuple[int | str, ...]) -> str:
    names = [p for p in loc if isinstance(p, str)]
    return names[-1] if names else ""


def _message(err: Any) -> str:
    """Pydantic's error in the words of the spec, with the offending value."""
    kind: str = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    loc = tuple(err["loc"])
    field = _field_name(loc)
    if kind == "extra_forbidden":
        return f"unknown key {json.dumps(str(loc[-1]))}"
    if kind == "missing":
        return "is required"
    if kind in ("enum", "literal_error"):
        if field == "format":
            return f"{_show(value)} is not a supported format; expected \"{FORMAT}\""
        codes = TIMELINE_CODES.get(field)
        allowed = (
            ", ".join(c.value for c in list(codes)) if codes else str(ctx.get("expected", ""))
        )
        name = _CODE_NAMES.get(field, field.rstrip("s"))
        article = "an" if name[0] in "aeiou" else "a"
        return f"{_show(value)} is not {article} {name} code (one of: {allowed})"
    if kind in _BOUNDS:
        words, bound = _BOUNDS[kind]
        return f"{_show(value)} {words} {_show(ctx[bound])}"
    if kind == "string_too_long":
        return f"is {len(value)} characters; at most {ctx['max_length']} allowed"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_pattern_mismatch" and field in _PATTERN_RULES:
        return f"{_show(value)} {_PATTERN_RULES[field]}"
    if kind == "string_pattern_mismatch":
        return f"{_show(value)} may use only A-Z a-z 0-9 . _ - (1-{MAX_ID_CHARS} characters)"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} item(s)"
    if kind == "too_long":
        return f"has {ctx.get('actual_length')} items; at most {ctx.get('max_length')} allowed"
    if kind.startswith("date"):
        return f"{_show(value)} is not a date (YYYY-MM-DD)"
    if kind in _NOT_A:
        return f"{_show(value)} is not {_NOT_A[kind]}"
    return str(err.get("msg", kind))


def problems_of(exc: ValidationError, prefix: tuple[int | str, ...] = ()) -> list[Problem]:
    seen: set[tuple[str, str]] = set()
    out: list[Problem] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        # Optional fields report one error per union branch ("X | None"); keep the useful one.
        # An unknown key is the last part of its path whatever it reads like (`?,[=1`).
        last = loc[-1:] if err["type"] == "extra_forbidden" else ()
        loc = tuple(p for p in loc[:len(loc) - len(last)]
                    if not (isinstance(p, str) and ("[" in p or p == "none"))) + last
        if err["type"] == "none_required":
            continue
        p = Problem(json_path(prefix + loc), _message({**err, "loc": loc}))
        if (p.path, p.message) not in seen:
            seen.add((p.path, p.message))
            out.append(p)
    return out


# --------------------------------------------------------------------------- cross-field rules


def _as_date(value: Any) -> date | None:
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return value if isinstance(value, date) else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def date_problems(
    day: date, where: str, *, birth_year: int | None, event_date: date | None
) -> Iterator[Problem]:
    """An observation's or a treatment's date against its patient's birth year and its lesion's
    event date: the one rule behind the file, the form, the API and the checks against stored
    records."""
    if birth_year is not None and day.year < birth_year:
        yield Problem(where, f"{day} is before the patient's birth year {birth_year}")
    if event_date is not None and day < event_date:
        yield Problem(where, f"{day} is before the lesion's event_date {event_date}")


def _raw_date_problems(value: Any, where: str, *, today: date, birth_year: Any,
                       event_date: Any) -> Iterator[Problem]:
    """`date_problems` on raw input, plus "not in the future" (which needs today)."""
    d = _as_date(value)
    if d is None:
        return
    if d > today:
        yield Problem(where, f"{d} is in the future")
    by = None if isinstance(birth_year, bool) or not isinstance(birth_year, int) else birth_year
    yield from date_problems(d, where, birth_year=by, event_date=_as_date(event_date))


def treatment_problems(
    treatment: dict[str, Any],
    path: str,
    *,
    today: date,
    birth_year: Any = None,
    event_date: Any = None,
) -> Iterator[Problem]:
    """Rules of one treatment that need today's date or the lesion (also used by forms): its
    date's, the same as an observation's. A treatment may share its date with an observation."""
    yield from _raw_date_problems(treatment.get("date"), f"{path}.date", today=today,
                                  birth_year=birth_year, event_date=event_date)


def same_treatment_message(when: Any, kind: Any, other: str) -> str:
    """One wording for a treatment repeated on one date, in a file or against stored rows."""
    return f"{kind} on {when} is also {other}; one treatment of a kind per lesion per day"


def lesion_problems(lesion: dict[str, Any], path: str, *, today: date, birth_year: Any = None
                    ) -> Iterator[Problem]:
    """Rules of a lesion's own fields and its treatments (observations: `observation_problems`)."""
    ev = _as_date(lesion.get("event_date"))
    if ev is not None and ev > today:
        yield Problem(f"{path}.event_date", f"{ev} is in the future")
    if lesion.get("event_kind") is not None and lesion.get("event_date") is None:
        yield Problem(f"{path}.event_kind", "needs an event_date (the date of that event)")
    treatments = _list(lesion.get("treatments"))
    first: dict[tuple[str, str], int] = {}
    for ti, treatment in enumerate(treatments):
        if not isinstance(treatment, dict):
            continue
        tpath = f"{path}.treatments[{ti}]"
        yield from treatment_problems(
            treatment, tpath, today=today, birth_year=birth_year,
            event_date=lesion.get("event_date"),
        )
        when, kind = treatment.get("date"), treatment.get("kind")
        if isinstance(when, str) and isinstance(kind, str):
            if (when, kind) in first:
                yield Problem(
                    f"{tpath}.kind",
                    same_treatment_message(when, kind, f"{path}.treatments[{first[when, kind]}]"),
                )
            else:
                first[when, kind] = ti


def observation_problems(obs: dict[str, Any], path: str, *, today: date, birth_year: Any = None,
                         event_date: Any = None) -> Iterator[Problem]:
    """Rules of one observation that span fields or need today's date (also used by forms): its
    date's, as for a treatment, and what it may carry whether seen or not."""
    yield from treatment_problems(obs, path, today=today, birth_year=birth_year,
                                  event_date=event_date)
    visible = obs.get("visible", True)
    if visible is False:
        for key in ("size_mm", "density", "margin", "texture", "pattern"):
            if obs.get(key) is not None:
                yield Problem(f"{path}.{key}", "must be absent when visible is false")
    elif visible is True and obs.get("size_mm") is None:
        # density and margin may be absent on a visible observation: "not assessed".
        yield Problem(f"{path}.size_mm", "is required when the lesion is visible")
    sizes = obs.get("size_mm")
    numbers = isinstance(sizes, list) and all(
        isinstance(s, (int, float)) and not isinstance(s, bool) for s in sizes
    )
    if numbers and sizes and max(sizes) != sizes[0]:
        yield Problem(
            f"{path}.size_mm",
            f"the first size must be the longest diameter ({sizes[0]} < {max(sizes)})",
        )
    features = _list(obs.get("features"))
    dupes = sorted({f for f in features if isinstance(f, str) and features.count(f) > 1})
    for f in dupes:
        yield Problem(f"{path}.features", f"{json.dumps(f)} is listed more than once")


def check_dates(
    part: ObservationIn | TreatmentIn, *, birth_year: int | None, event_date: date | None
) -> None:
    """The rules of an already valid observation or treatment that need its lesion (API record
    and correct)."""
    problems = list(date_problems(part.date, "date", birth_year=birth_year,
                                  event_date=event_date))
    if problems:
        raise InvalidInput(problems)


def _repeated(items: list[Any], key: str) -> Iterator[tuple[Any, int, int]]:
    """(value, index, index of its first use) of every item whose `key` an earlier item has."""
    seen: dict[Any, list[int]] = {}
    for i, item in enumerate(items):
        k = _dict(item).get(key)
        if isinstance(k, str):
            seen.setdefault(k, []).append(i)
    for k, indices in seen.items():
        for i in indices[1:]:
            yield k, i, indices[0]


def patient_problems(patient: Any, ppath: str, *, today: date) -> Iterator[Problem]:
    """Cross-field rules of one patient (its lesions and visits), over the raw patient object."""
    patient = _dict(patient)
    by = patient.get("birth_year")
    if isinstance(by, int) and not isinstance(by, bool) and by > today.year:
        yield Problem(f"{ppath}.birth_year", f"{by} is after the current year {today.year}")
    lesions = _list(patient.get("lesions"))
    for lid, i, first in _repeated(lesions, "id"):
        yield Problem(f"{ppath}.lesions[{i}].id",
                      f"{json.dumps(lid)} is used by {ppath}.lesions[{first}] too")
    for li, lesion in enumerate(lesions):
        lesion = _dict(lesion)
        lpath = f"{ppath}.lesions[{li}]"
        yield from lesion_problems(lesion, lpath, today=today, birth_year=by)
        observations = _list(lesion.get("observations"))
        for d, i, first in _repeated(observations, "date"):
            yield Problem(f"{lpath}.observations[{i}].date",
                          f"{d} is also the date of {lpath}.observations[{first}];"
                          " one observation per lesion per day")
        for oi, obs in enumerate(observations):
            if isinstance(obs, dict):
                yield from observation_problems(
                    obs,
                    f"{lpath}.observations[{oi}]",
                    today=today,
                    birth_year=by,
                    event_date=lesion.get("event_date"),
                )


def patient_id_used_before(pid: str, first: int) -> str:
    return f"{json.dumps(pid)} is used by patients[{first}] too"


def document_problems(raw: dict[str, Any], *, today: date) -> Iterator[Problem]:
    """Cross-field rules over the raw document, tolerant of parts with the wrong shape."""
    patients = _list(raw.get("patients"))
    for pid, i, first in _repeated(patients, "id"):
        yield Problem(f"patients[{i}].id", patient_id_used_before(pid, first))
    for pi, patient in enumerate(patients):
        yield from patient_problems(patient, f"patients[{pi}]", today=today)


def sort_key(p: Problem) -> list[tuple[int, str]]:
    """Paths in document order: indices numerically (any key may look like a number too)."""
    return [(int(t), "") if t.isascii() and t.isdigit() and len(t) <= 18 else (-1, t)
            for t in re.split(r"\[(\d+)\]", p.path)]


class ProblemLog:
    """Every problem of one input, counted; the first `limit` kept in the order they were found."""

    def __init__(self, limit: int = MAX_REPORTED_PROBLEMS) -> None:
        self.limit = limit
        self.kept: list[Problem] = []
        self.total = 0

    def extend(self, problems: Iterable[Problem]) -> None:
        for p in problems:
            self.total += 1
            if len(self.kept) < self.limit:
                self.kept.append(p)

    def __bool__(self) -> bool:
        return self.total > 0

    def clear(self) -> None:
        """Forget every problem: the input is read again from its start."""
        self.kept.clear()
        self.total = 0

    def error(self) -> InvalidInput:
        """The problems in document order, with how many there were in all (every edge says
        so after the listed ones: `InvalidInput.omitted_note`)."""
        return InvalidInput(sorted(self.kept, key=sort_key), total=self.total)
