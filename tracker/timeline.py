"""Read, validate and write `lesion-timeline/1` (shared/spec/timeline-format.md).

One set of pydantic models validates the CLI import, the API and the web forms, so every entry
point reports the same problems with the same paths. Validation runs in two passes over the
whole document and collects every problem before anything is written: field rules (pydantic),
then the rules that span fields (dates against birth year and event date, duplicates, what an
invisible observation may carry), which also run on the parts pydantic could not accept.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, BinaryIO, Literal, TypeVar

import ijson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

from tracker.errors import MAX_REPORTED_PROBLEMS, InvalidInput, Problem
from tracker.vocabulary import (
    Compartment,
    Density,
    Entity,
    EventKind,
    Feature,
    Laterality,
    Margin,
    Modality,
    Pattern,
    Region,
    Sex,
    Texture,
    TreatmentKind,
)

FORMAT = "lesion-timeline/1"
MAX_SIZE_MM = 500
MAX_NOTE_CHARS = 2000
MAX_STRUCTURE_CHARS = 120
MAX_ID_CHARS = 64
MIN_BIRTH_YEAR = 1900
_M = TypeVar("_M", bound=BaseModel)
MAX_JSON_DEPTH = 32  # a lesion-timeline/1 document nests 8 levels
# No field holds a whole number anywhere near this long; Python refuses to convert one of more
# than 4300 digits at all (int_max_str_digits), so longer ones must be caught while parsing.
MAX_INTEGER_DIGITS = 64

ID_CHARS = r"[A-Za-z0-9._-]"
# patient and lesion ids, for entry points that do not go through the models
ID_PATTERN = re.compile(rf"{ID_CHARS}{{1,{MAX_ID_CHARS}}}")
Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_ID_CHARS, pattern=rf"^{ID_CHARS}+$")
]
SizeMm = Annotated[float, Field(gt=0, le=MAX_SIZE_MM, allow_inf_nan=False)]
# DICOM UI: components of digits separated by dots, no leading zero unless the component is "0".
STUDY_UID_PATTERN = r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$"
StudyUid = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=STUDY_UID_PATTERN)
]
# DICOM SH: no control characters, no backslash (DICOM's value separator).
ACCESSION_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\\]+$"
Accession = Annotated[
    str, StringConstraints(min_length=1, max_length=16, pattern=ACCESSION_PATTERN)
]
Note = Annotated[str, StringConstraints(max_length=MAX_NOTE_CHARS)]


class _Strict(BaseModel):
    """Unknown keys are errors: a typo must not pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class Site(_Strict):
    compartment: Compartment
    region: Region
    structure: Annotated[str, StringConstraints(max_length=MAX_STRUCTURE_CHARS)] | None = None
    laterality: Laterality


class ObservationIn(_Strict):
    """One visit. Also what the web form and the API post for a new or changed observation."""

    date: date
    modality: Modality
    visible: bool = True
    size_mm: Annotated[list[SizeMm], Field(min_length=1, max_length=3)] | None = None
    density: Density | None = None
    margin: Margin | None = None
    texture: Texture | None = None
    pattern: Pattern | None = None
    features: list[Feature] = Field(default_factory=list)
    pain: Annotated[int, Field(ge=0, le=10, strict=True)] | None = None
    study_uid: StudyUid | None = None
    accession: Accession | None = None
    note: Note | None = None


class TreatmentIn(_Strict):
    """One treatment of a lesion. Also what the web form and the API post."""

    date: date
    kind: TreatmentKind
    note: Note | None = None


class LesionIn(_Strict):
    id: Identifier
    site: Site
    entity: Entity | None = None
    event_date: date | None = None
    event_kind: EventKind | None = None
    treatments: list[TreatmentIn] = Field(default_factory=list)
    observations: Annotated[list[ObservationIn], Field(min_length=1)]


class PatientIn(_Strict):
    id: Identifier
    birth_year: Annotated[int, Field(ge=MIN_BIRTH_YEAR, strict=True)] | None = None
    sex: Sex | None = None
    lesions: list[LesionIn]


class Timeline(_Strict):
    format: Literal["lesion-timeline/1"]
    patients: list[PatientIn]


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


_CODE_FIELDS: dict[str, type[StrEnum]] = {
    "compartment": Compartment,
    "region": Region,
    "laterality": Laterality,
    "entity": Entity,
    "modality": Modality,
    "density": Density,
    "margin": Margin,
    "texture": Texture,
    "pattern": Pattern,
    "features": Feature,
    "sex": Sex,
    "event_kind": EventKind,
    "kind": TreatmentKind,
}

# Field names whose vocabulary list is called otherwise in vocabulary.md.
_CODE_NAMES: dict[str, str] = {"event_kind": "event kind", "kind": "treatment kind"}

# What a pattern-constrained text field may hold, in the user's words.
_PATTERN_RULES: dict[str, str] = {
    "study_uid": "is not a DICOM StudyInstanceUID: digits and dots, up to 64 characters,"
    " no empty component and no leading zero in a component",
    "accession": "may not contain a backslash or a control character",
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
        codes = _CODE_FIELDS.get(field)
        allowed = (
            ", ".join(c.value for c in list(codes)) if codes else str(ctx.get("expected", ""))
        )
        name = _CODE_NAMES.get(field, field.rstrip("s"))
        article = "an" if name[0] in "aeiou" else "a"
        return f"{_show(value)} is not {article} {name} code (one of: {allowed})"
    if kind == "less_than_equal":
        return f"{_show(value)} is above {_show(ctx['le'])}"
    if kind == "greater_than":
        return f"{_show(value)} must be above {_show(ctx['gt'])}"
    if kind == "greater_than_equal":
        return f"{_show(value)} is below {_show(ctx['ge'])}"
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
    if kind in ("finite_number",):
        return f"{_show(value)} is not a finite number"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"{_show(value)} is not a whole number"
    if kind in ("float_type", "float_parsing"):
        return f"{_show(value)} is not a number"
    if kind in ("bool_type", "bool_parsing"):
        return f"{_show(value)} is not true or false"
    if kind in ("string_type",):
        return f"{_show(value)} is not text"
    if kind in ("list_type",):
        return f"{_show(value)} is not a list"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"{_show(value)} is not an object"
    return str(err.get("msg", kind))


def _problems_of(exc: ValidationError, prefix: tuple[int | str, ...] = ()) -> list[Problem]:
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
    """Rules of one treatment that need today's date or the lesion (also used by forms).
    A treatment may share its date with an observation."""
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


def observation_problems(
    obs: dict[str, Any],
    path: str,
    *,
    today: date,
    birth_year: Any = None,
    event_date: Any = None,
) -> Iterator[Problem]:
    """Rules of one observation that span fields or need today's date (also used by forms)."""
    yield from _raw_date_problems(obs.get("date"), f"{path}.date", today=today,
                                  birth_year=birth_year, event_date=event_date)
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


def _duplicates(items: list[Any], key: str) -> dict[Any, list[int]]:
    seen: dict[Any, list[int]] = {}
    for i, item in enumerate(items):
        k = _dict(item).get(key)
        if isinstance(k, str):
            seen.setdefault(k, []).append(i)
    return {k: v for k, v in seen.items() if len(v) > 1}


def patient_problems(patient: Any, ppath: str, *, today: date) -> Iterator[Problem]:
    """Cross-field rules of one patient (its lesions and visits), over the raw patient object."""
    patient = _dict(patient)
    by = patient.get("birth_year")
    if isinstance(by, int) and not isinstance(by, bool) and by > today.year:
        yield Problem(f"{ppath}.birth_year", f"{by} is after the current year {today.year}")
    lesions = _list(patient.get("lesions"))
    for lid, idx in _duplicates(lesions, "id").items():
        for i in idx[1:]:
            yield Problem(
                f"{ppath}.lesions[{i}].id",
                f"{json.dumps(lid)} is used by {ppath}.lesions[{idx[0]}] too",
            )
    for li, lesion in enumerate(lesions):
        lesion = _dict(lesion)
        lpath = f"{ppath}.lesions[{li}]"
        yield from lesion_problems(lesion, lpath, today=today, birth_year=by)
        observations = _list(lesion.get("observations"))
        for d, idx in _duplicates(observations, "date").items():
            for i in idx[1:]:
                yield Problem(
                    f"{lpath}.observations[{i}].date",
                    f"{d} is also the date of {lpath}.observations[{idx[0]}];"
                    " one observation per lesion per day",
                )
        for oi, obs in enumerate(observations):
            if isinstance(obs, dict):
                yield from observation_problems(
                    obs,
                    f"{lpath}.observations[{oi}]",
                    today=today,
                    birth_year=by,
                    event_date=lesion.get("event_date"),
                )


def _patient_id_used_before(pid: str, first: int) -> str:
    return f"{json.dumps(pid)} is used by patients[{first}] too"


def document_problems(raw: dict[str, Any], *, today: date) -> Iterator[Problem]:
    """Cross-field rules over the raw document, tolerant of parts with the wrong shape."""
    patients = _list(raw.get("patients"))
    for pid, idx in _duplicates(patients, "id").items():
        for i in idx[1:]:
            yield Problem(f"patients[{i}].id", _patient_id_used_before(pid, idx[0]))
    for pi, patient in enumerate(patients):
        yield from patient_problems(patient, f"patients[{pi}]", today=today)


# --------------------------------------------------------------------------- entry points


def _sort_key(p: Problem) -> list[tuple[int, str]]:
    """Paths in document order: indices numerically (any key may look like a number too)."""
    return [(int(t), "") if t.isascii() and t.isdigit() and len(t) <= 18 else (-1, t)
            for t in re.split(r"\[(\d+)\]", p.path)]


def _drop_nulls(value: Any) -> Any:
    """`null` for an optional field means absent (clinical-rules §9a.22)."""
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


@dataclass(frozen=True)
class _Unreadable:
    """A JSON number no field can hold, left in place while parsing so that `_unstorable`
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


def _unstorable(doc: Any, path: str = "", depth: int = 0) -> list[Problem]:
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
    return sorted(problems, key=_sort_key)


def _scan(doc: Any, depth: int = 0) -> tuple[bool, bool]:
    """(anything `_unstorable` would report, any null in an object): the same walk without
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
    problems = _unstorable(doc)
    if problems:
        raise InvalidInput(problems)
    return doc


def validate_timeline(raw: Any, *, today: date) -> Timeline:
    """The whole document, every problem at once; raises InvalidInput listing them all."""
    if not isinstance(raw, dict):
        raise InvalidInput([Problem("", "expected a JSON object with format and patients")])
    cleaned = _drop_nulls(raw)
    problems: list[Problem] = []
    timeline: Timeline | None = None
    try:
        timeline = Timeline.model_validate(cleaned)
    except ValidationError as exc:
        problems.extend(_problems_of(exc))
    problems.extend(document_problems(cleaned, today=today))
    if problems:
        raise InvalidInput(sorted(problems, key=_sort_key))
    assert timeline is not None
    return timeline


def load_timeline(data: bytes | str, *, today: date, max_bytes: int) -> Timeline:
    return validate_timeline(parse_json(data, max_bytes=max_bytes), today=today)


def validate_model(model: type[_M], raw: Any) -> _M:
    """Any request shape (an alert action, query arguments) checked with this format's paths
    and messages; `null` means absent, as in a timeline."""
    if not isinstance(raw, dict):
        raise InvalidInput([Problem("", "expected a JSON object")])
    try:
        return model.model_validate(_drop_nulls(raw))
    except ValidationError as exc:
        raise InvalidInput(sorted(_problems_of(exc), key=_sort_key)) from None


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
    cleaned = _drop_nulls(raw)
    problems: list[Problem] = []
    part: _Part | None = None
    try:
        part = model.model_validate(cleaned)
    except ValidationError as exc:
        problems.extend(_problems_of(exc, (path,) if path else ()))
    problems.extend(
        Problem(p.path.lstrip("."), p.message)
        for p in rules(cleaned, path, today=today, birth_year=birth_year, event_date=event_date)
    )
    if problems:
        raise InvalidInput(sorted(problems, key=_sort_key))
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


def json_schema() -> dict[str, Any]:
    """JSON Schema of lesion-timeline/1, generated from the validation models."""
    schema = TypeAdapter(Timeline).json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "urn:calcitrack:lesion-timeline/1"
    schema["description"] = (
        "calcitrack timeline exchange format. Rules that span fields (dates not in the future, "
        "not before birth_year or event_date, for observations and treatments; no two "
        "observations of a lesion on one date; no two treatments of a lesion with the same date "
        "and kind; event_kind only with event_date; size_mm required when visible; size_mm, "
        "density, margin, texture and pattern absent when not visible; density and margin absent "
        "on a visible observation mean not assessed) are checked by calcitrack on import."
    )
    return schema


def observation_json(obs: ObservationIn) -> dict[str, Any]:
    """Canonical form: defaults (visible true, no features) and absent fields left out."""
    out = obs.model_dump(mode="json", exclude_none=True)
    if out.get("visible") is True:
        del out["visible"]
    if not out.get("features"):
        out.pop("features", None)
    return out


# --------------------------------------------------------------------------- streaming




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

    def error(self) -> InvalidInput:
        """The problems in document order, with how many there were in all (every edge says
        so after the listed ones: `InvalidInput.omitted_note`)."""
        return InvalidInput(sorted(self.kept, key=_sort_key), total=self.total)


_OPEN = {"start_map", "start_array"}
_CLOSE = {"end_map", "end_array"}
_Event = tuple[str, str, Any]


def _build(first: _Event, events: Iterator[_Event]) -> Any:
    """The JSON value that starts with `first`, built from the events that follow it."""
    builder = ijson.ObjectBuilder()
    builder.event(first[1], first[2])
    if first[1] in _OPEN:
        depth = 1
        for _prefix, kind, value in events:
            builder.event(kind, value)
            if kind in _OPEN:
                depth += 1
            elif kind in _CLOSE:
                depth -= 1
                if depth == 0:
                    break
    return builder.value


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
        events: Iterator[_Event] = ijson.parse(self.source, use_float=True)
        first = next(events, None)
        if first is None:
            raise ijson.IncompleteJSONError("empty")
        if first[1] != "start_map":
            for _ in events:  # a broken tail is reported as broken JSON, as before
                pass
            return None
        head: dict[str, Any] = {}
        arrays = 0
        for _prefix, kind, key in events:
            if kind == "end_map":
                break
            value_start = next(events)
            if key == "patients" and value_start[1] == "start_array":
                arrays += 1
                depth = 1
                for _p, inner, _v in events:
                    if inner in _OPEN:
                        depth += 1
                    elif inner in _CLOSE:
                        depth -= 1
                        if depth == 0:
                            break
            else:
                head[key] = _build(value_start, events)
        for _ in events:
            pass
        if arrays > 1:
            self.problems.extend([Problem("patients", "is given more than once")])
        return head, arrays > 0

    def _patient(self, index: int, raw: Any) -> PatientIn | None:
        path = f"patients[{index}]"
        unstorable, nulls = _scan(raw, depth=2)
        if unstorable:
            self.problems.extend(_unstorable(raw, path, depth=2))
            return None
        cleaned = _drop_nulls(raw) if nulls else raw
        problems: list[Problem] = []
        pid = cleaned.get("id") if isinstance(cleaned, dict) else None
        if isinstance(pid, str):
            first = self._first_index.setdefault(pid, index)
            if first != index:
                problems.append(Problem(f"{path}.id", _patient_id_used_before(pid, first)))
        patient: PatientIn | None = None
        try:
            patient = PatientIn.model_validate(cleaned)
        except ValidationError as exc:
            problems.extend(_problems_of(exc, ("patients", index)))
        problems.extend(patient_problems(cleaned, path, today=self.today))
        self.problems.extend(problems)
        return None if problems else patient

    def _check_head(self, head: dict[str, Any], streamed: bool) -> None:
        unstorable = _unstorable(head)
        if unstorable:
            self.problems.extend(unstorable)
            return
        cleaned = _drop_nulls(head)
        if streamed:
            cleaned["patients"] = []
        try:
            Timeline.model_validate(cleaned)
        except ValidationError as exc:
            self.problems.extend(_problems_of(exc))
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
