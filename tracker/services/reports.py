"""Measurement reports (DICOM SR), each recorded once by its SOP Instance UID: imported (with the
observations it produced and their key images), held in the inbox for a person's input, or
rejected with the reason. The one owner of every way a report arrives: the PACS sync
(`import_pacs_report`), an upload on the import page or the API and `tracker import-sr`
(`import_report_files`), and the inbox's decisions (`accept_report`, `reject_report`).

Each call is one transaction: the report rows are claimed and locked first (so two syncs, or a
sync and an upload, never import one report twice), then read (`tracker.interop.sr`), checked
against what is stored, and imported through the same path as `tracker import`
(`services.interop`), with the report's links and key images written beside it. Which problems
hold a report and which refuse it is said once, in `tracker.interop.sr_problems`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.orm import Session

from tracker.audit import audit
from tracker.clock import now
from tracker.db import insert_of
from tracker.errors import Conflict, InvalidInput, NotFound, Problem
from tracker.interop import sr
from tracker.interop.converted import Converted
from tracker.interop.sr_file import ReportHeader, report_header
from tracker.interop.sr_problems import (
    NEEDS_INPUT,
    ProblemKind,
    SrProblem,
    kind_of,
    needs_input,
    problem_from_json,
    problems_json,
)
from tracker.models import Lesion, Observation, Patient
from tracker.pacs.models import (
    KeyImage,
    ReportObservation,
    ReportSource,
    ReportState,
    SrReport,
)
from tracker.queries.inbox import lesions_asked
from tracker.services import interop
from tracker.services.imports import ImportSummary
from tracker.vocabulary import Compartment

PACS_ACTOR = "pacs"
MAX_REASON_CHARS = 500
REPORTS: Table = SrReport.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class ReportFile:
    """One report's bytes, and the name its problems are given under."""

    name: str
    data: bytes


@dataclass
class ReportsOutcome:
    """What one call did to which report records (ids), and what the import changed."""

    imported: list[int] = field(default_factory=list)
    held: list[int] = field(default_factory=list)
    rejected: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # already handled by someone else
    summary: ImportSummary = field(default_factory=ImportSummary)

    def as_dict(self) -> dict[str, Any]:
        return {**self.summary.as_dict(), "reports_imported": len(self.imported),
                "reports_held": len(self.held), "reports_rejected": len(self.rejected)}


# --------------------------------------------------------------------------- reading


def _unmatched_lesions(session: Session, converted: Converted) -> list[Problem]:
    """A report lesion whose id matches no stored lesion while the patient has lesions at that
    site: which one is it, or is it new? (A viewer gives each report its own tracking id.)"""
    doc = converted.document
    rows = session.execute(
        select(Patient.external_id, Lesion.external_id, Lesion.region, Lesion.laterality)
        .join(Lesion, Lesion.patient_id == Patient.id)
        .where(Patient.external_id.in_([p["id"] for p in doc["patients"]]))).all()
    stored: dict[str, dict[str, tuple[str, str]]] = {}
    for patient, lesion, region, side in rows:
        stored.setdefault(patient, {})[lesion] = (region, side)
    problems: list[Problem] = []
    for pi, patient in enumerate(doc["patients"]):
        known = stored.get(patient["id"], {})
        for li, lesion in enumerate(patient["lesions"]):
            site = (lesion["site"]["region"], lesion["site"]["laterality"])
            same = sorted(k for k, s in known.items() if s == site)
            if lesion["id"] in known or not same:
                continue
            path = f"patients[{pi}].lesions[{li}]"
            subject = converted.subjects.get((patient["id"], lesion["id"]), lesion["id"])
            problems.append(SrProblem(
                converted.origin_of_path(path) or path,
                f"lesion {subject} matches no stored lesion of patient {patient['id']}, who has"
                f" {', '.join(same)} at the {site[1]} {site[0].replace('_', ' ')}: is it"
                f" {'that one' if len(same) == 1 else 'one of them'}, or a new lesion?",
                ProblemKind.LESION, subject))
    return problems


def _read(session: Session, item: ReportFile, *, compartment: Compartment | None,
          lesion_for: sr.LesionFor, check_lesions: bool, today: date,
          hint: str) -> tuple[Converted | None, list[Problem]]:
    """A report converted and checked against what is stored, and its problems (none: it can
    be imported as it is)."""
    try:
        converted = sr.convert([sr.SrInput(item.name, item.data)], compartment=compartment,
                               lesion_for=lesion_for)
    except InvalidInput as exc:
        return None, exc.problems
    problems = _unmatched_lesions(session, converted) if check_lesions else []
    try:
        interop.prepare(session, converted, today=today, compartment_hint=hint)
    except InvalidInput as exc:
        problems += exc.problems
    return converted, problems


# --------------------------------------------------------------------------- records


def _lock(session: Session, where: Any) -> SrReport | None:
    """The report row, locked for this transaction (SQLite: the database's write lock)."""
    if session.get_bind().dialect.name != "postgresql":
        session.execute(update(REPORTS).where(where).values(attempts=REPORTS.c.attempts))
    query = select(SrReport).where(where).execution_options(populate_existing=True)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalar(query)


def _claim(session: Session, header: ReportHeader, source: ReportSource) -> SrReport:
    """The report's row, created if new (a concurrent creator's row is waited for, not
    duplicated), and locked."""
    at = now()
    session.execute(insert_of(session, REPORTS).values(
        sop_instance_uid=header.sop_instance_uid, study_uid=header.study_uid,
        series_uid=header.series_uid, sop_class_uid=header.sop_class_uid, source=source.value,
        state=ReportState.PENDING.value, patient=header.patient_id or None,
        content_date=header.content_date, attempts=0, first_seen_at=at, last_seen_at=at,
    ).on_conflict_do_nothing(index_elements=["sop_instance_uid"]))
    row = _lock(session, REPORTS.c.sop_instance_uid == header.sop_instance_uid)
    assert row is not None
    return row


def record_found(session: Session, found: Sequence[Mapping[str, Any]]) -> None:
    """Reports the PACS listed (`sop_instance_uid`, `study_uid`, `series_uid`,
    `sop_class_uid`, `content_date`): new ones recorded as pending, so none can be skipped
    once seen; every one's `last_seen_at` set. One transaction."""
    if not found:
        return
    at = now()
    rows = [{**dict(f), "source": ReportSource.PACS.value, "state": ReportState.PENDING.value,
             "attempts": 0, "first_seen_at": at, "last_seen_at": at}
            for f in sorted(found, key=lambda f: str(f["sop_instance_uid"]))]
    session.execute(insert_of(session, REPORTS).on_conflict_do_nothing(
        index_elements=["sop_instance_uid"]), rows)
    uids = [r["sop_instance_uid"] for r in rows]
    for start in range(0, len(uids), 500):
        session.execute(update(REPORTS).where(
            REPORTS.c.sop_instance_uid.in_(uids[start:start + 500])).values(last_seen_at=at))
    session.commit()


def _observation_ids(session: Session,
                     keys: set[tuple[str, str, str]]) -> dict[tuple[str, str, str], int]:
    if not keys:
        return {}
    rows = session.execute(
        select(Patient.external_id, Lesion.external_id, Observation.date, Observation.id)
        .join(Lesion, Lesion.patient_id == Patient.id)
        .join(Observation, Observation.lesion_id == Lesion.id)
        .where(Patient.external_id.in_({k[0] for k in keys}),
               Lesion.external_id.in_({k[1] for k in keys}),
               Observation.date.in_({date.fromisoformat(k[2]) for k in keys}))).all()
    found = {(p, le, d.isoformat()): oid for p, le, d, oid in rows}
    return {k: found[k] for k in keys if k in found}


def _record_outputs(session: Session, imported: Sequence[tuple[SrReport, Converted]]) -> None:
    """Each imported report's observations and their key images. Only differences are
    written, so importing a report again changes nothing."""
    def visits(converted: Converted) -> set[tuple[str, str, str]]:
        return {(p["id"], le["id"], o["date"]) for p in converted.document["patients"]
                for le in p["lesions"] for o in le["observations"]}

    ids = _observation_ids(session, set().union(*(visits(c) for _, c in imported)))
    links: set[tuple[int, int]] = set()
    images: dict[tuple[int, int, str, int], dict[str, Any]] = {}
    for report, converted in imported:
        for key in visits(converted) & ids.keys():
            links.add((report.id, ids[key]))
            for k in converted.key_images.get(key, []):
                images.setdefault((report.id, ids[key], k.sop_instance_uid, k.frame), {
                    "study_uid": k.study_uid, "series_uid": k.series_uid,
                    "sop_class_uid": k.sop_class_uid, "graphic_type": k.graphic_type,
                    "graphic_data": [list(p) for p in k.points] or None,
                    "measured_mm": k.measured_mm})
    report_ids = [r.id for r, _ in imported]
    have_links = set(session.execute(select(
        ReportObservation.report_id, ReportObservation.observation_id).where(
        ReportObservation.report_id.in_(report_ids))).tuples())
    for report_id, observation_id in have_links - links:
        session.execute(delete(ReportObservation).where(
            ReportObservation.report_id == report_id,
            ReportObservation.observation_id == observation_id))
    if links - have_links:
        session.execute(insert(ReportObservation), [
            {"report_id": r, "observation_id": o} for r, o in sorted(links - have_links)])
    kept: set[tuple[int, int, str, int]] = set()
    for image in session.scalars(select(KeyImage).where(KeyImage.report_id.in_(report_ids))):
        unique = (image.report_id, image.observation_id, image.sop_instance_uid, image.frame)
        want = images.get(unique)
        if want is not None and all(getattr(image, c) == v for c, v in want.items()):
            kept.add(unique)
        else:
            session.delete(image)
    session.flush()
    fresh = [{"report_id": r, "observation_id": o, "sop_instance_uid": uid, "frame": frame,
              **values} for (r, o, uid, frame), values in sorted(images.items())
             if (r, o, uid, frame) not in kept]
    if fresh:
        session.execute(insert(KeyImage), fresh)


def _settle(session: Session, row: SrReport, state: ReportState, *, actor: str,
            problems: Sequence[Problem] = (), data: bytes | None = None,
            reason: str | None = None, action: str | None = None,
            after: dict[str, Any] | None = None) -> None:
    """A report's new state, with why, who and when (audited)."""
    before = {"state": row.state}
    row.state = state.value
    row.problems = problems_json(problems) or None
    row.reason = reason if reason is not None else (
        "; ".join(str(p) for p in problems[:3]) or None)
    if data is not None:
        row.content = data
    row.handled_at, row.handled_by = now(), actor
    audit(session, actor, action or f"sr_report.{state.value}", "sr_report", row.id, before,
          {"state": state.value, "sop_instance_uid": row.sop_instance_uid,
           **({"problems": row.problems} if row.problems else {}), **(after or {})},
          reason=row.reason if state is ReportState.REJECTED else None)


def _import(session: Session, ready: Sequence[tuple[SrReport, ReportFile, Converted]], *,
            compartment: Compartment | None, lesion_for: sr.LesionFor, actor: str, today: date,
            hint: str, action: str | None = None,
            after: dict[str, Any] | None = None) -> ImportSummary:
    """Import reports as one batch (their groups merged like `tracker import-sr`), then record
    what each produced. The caller commits."""
    if not ready:
        return ImportSummary()
    batch = sr.convert([sr.SrInput(item.name, item.data) for _, item, _ in ready],
                       compartment=compartment, lesion_for=lesion_for)
    with interop.commit_deferred(session):
        summary = interop.import_converted(session, batch, actor=actor, today=today,
                                           compartment_hint=hint)
    _record_outputs(session, [(row, converted) for row, _, converted in ready])
    for row, item, _ in ready:
        if row.state != ReportState.IMPORTED.value or action is not None:
            _settle(session, row, ReportState.IMPORTED, actor=actor, data=item.data,
                    action=action, after=after)
    return summary


# --------------------------------------------------------------------------- use cases


def note_failed_retrieval(session: Session, report_id: int, error: str,
                          max_attempts: int) -> None:
    """One more failed retrieval of a pending report (the PACS refused it); after
    `max_attempts` it is rejected with the PACS's answer (audited). One transaction."""
    session.rollback()
    row = _lock(session, REPORTS.c.id == report_id)
    if row is None or row.state != ReportState.PENDING.value:
        session.rollback()
        return
    row.attempts += 1
    row.reason = error
    if row.attempts >= max_attempts:
        _settle(session, row, ReportState.REJECTED, actor=PACS_ACTOR,
                reason=f"not retrieved after {row.attempts} attempts: {error}")
    session.commit()


def import_pacs_report(session: Session, report_id: int, data: bytes, *, today: date,
                       hint: str = "") -> ReportsOutcome:
    """A report the PACS sync retrieved: imported, held or rejected, in one transaction. A
    report someone else handled meanwhile is skipped (a concurrent sync, an upload)."""
    out = ReportsOutcome()
    row = _lock(session, REPORTS.c.id == report_id)
    if row is None or row.state != ReportState.PENDING.value:
        session.rollback()
        out.skipped.append(report_id)
        return out
    header = report_header(data)
    if header is not None:  # the PACS listing gives no patient; the report does
        row.patient = header.patient_id or None
        row.content_date = header.content_date or row.content_date
    item = ReportFile(f"PACS report {row.sop_instance_uid}", data)
    converted, problems = _read(session, item, compartment=None, lesion_for={},
                                check_lesions=True, today=today, hint=hint)
    if converted is None or problems:
        held = needs_input(problems)
        _settle(session, row, ReportState.HELD if held else ReportState.REJECTED,
                actor=PACS_ACTOR, problems=problems, data=data)
        (out.held if held else out.rejected).append(row.id)
    else:
        out.summary = _import(session, [(row, item, converted)], compartment=None,
                              lesion_for={}, actor=PACS_ACTOR, today=today, hint=hint)
        out.imported.append(row.id)
    session.commit()
    return out


def import_report_files(session: Session, files: Sequence[ReportFile], *, actor: str,
                        today: date, source: ReportSource, hold: bool,
                        compartment: Compartment | None = None, hint: str = "",
                        ) -> ReportsOutcome:
    """Uploaded or given report files, in one transaction. A file that is invalid refuses the
    whole batch (InvalidInput, every problem; nothing written). With `hold`, a file that needs
    a person's input goes to the inbox and the others are imported; without it (the CLI), any
    problem refuses the batch."""
    read = []
    seen: set[str] = set()
    for item in files:
        header = report_header(item.data)
        if header is not None:
            if header.sop_instance_uid in seen:
                continue  # the same report twice in one upload
            seen.add(header.sop_instance_uid)
        converted, problems = _read(session, item, compartment=compartment, lesion_for={},
                                    check_lesions=hold, today=today, hint=hint)
        if header is None and not problems:
            problems = [Problem(item.name, "names no SOP Instance UID, study, series or SOP"
                                           " class: it cannot be recorded")]
        read.append((item, header, converted, problems))
    refused = [p for _, _, _, problems in read if problems and (not hold or not needs_input(
        problems)) for p in problems]
    if refused:
        session.rollback()
        raise InvalidInput(refused)
    out = ReportsOutcome()
    ready: list[tuple[SrReport, ReportFile, Converted]] = []
    held: list[tuple[SrReport, ReportFile, list[Problem]]] = []
    for item, header, converted, problems in sorted(
            read, key=lambda r: r[1].sop_instance_uid if r[1] else ""):
        assert header is not None
        row = _claim(session, header, source)
        if problems:
            held.append((row, item, problems))
        else:
            assert converted is not None
            ready.append((row, item, converted))
    out.summary = _import(session, ready, compartment=compartment, lesion_for={},
                          actor=actor, today=today, hint=hint)
    out.imported = [row.id for row, _, _ in ready]
    for row, item, problems in held:
        _settle(session, row, ReportState.HELD, actor=actor, problems=problems, data=item.data)
        out.held.append(row.id)
    session.commit()
    return out


def _held(session: Session, report_id: int) -> SrReport:
    row = _lock(session, REPORTS.c.id == report_id)
    if row is None:
        session.rollback()
        raise NotFound(f"report {report_id} does not exist")
    if row.state != ReportState.HELD.value:
        state = row.state
        session.rollback()
        raise Conflict(f"report {report_id} is {state}, not waiting in the inbox")
    return row


def _lesion_for(session: Session, row: SrReport, lesion: str | None,
                lesions: Mapping[str, str]) -> dict[str, tuple[str, dict[str, Any]]]:
    """The stored lesions a person named for the report's lesions: `lesion` for its only one,
    `lesions` by the report's name for each."""
    chosen = dict(lesions)
    if lesion:
        subjects = lesions_asked(row)
        if len(subjects) != 1:
            raise InvalidInput([Problem("lesion", f"the report asks about {len(subjects)}"
                                        f" lesions ({', '.join(subjects) or 'none by name'}):"
                                        " name the stored lesion for each, REPORT_LESION="
                                        "LESION_ID")])
        chosen[subjects[0]] = lesion
    if not chosen:
        return {}
    stored = {le.external_id: le for le in session.scalars(
        select(Lesion).join(Patient).where(Patient.external_id == (row.patient or ""),
                                           Lesion.external_id.in_(set(chosen.values()))))}
    problems = [Problem("lesion", f"patient {row.patient} has no lesion {value!r}")
                for value in chosen.values() if value not in stored]
    if problems:
        raise InvalidInput(problems)
    return {subject: (stored[value].external_id, {
        "compartment": stored[value].compartment, "region": stored[value].region,
        "laterality": stored[value].laterality}) for subject, value in chosen.items()}


def parse_compartment(value: str | None) -> Compartment | None:
    """A compartment code given with a report (upload, inbox), or InvalidInput naming it."""
    if not value:
        return None
    try:
        return Compartment(value)
    except ValueError as exc:
        raise InvalidInput([Problem("compartment", f"{value!r} is not a compartment code"
                                    f" (one of: {', '.join(c.value for c in Compartment)})")]
                           ) from exc


def accept_report(session: Session, report_id: int, *, actor: str, today: date,
                  compartment: str | None = None, lesion: str | None = None,
                  lesions: Mapping[str, str] | None = None, hint: str = "") -> ReportsOutcome:
    """Import a held report with a person's answers: the compartment of its new lesions, the
    stored lesion each of its lesions is (else they are new). What is still missing is an
    InvalidInput naming it; nothing changes then. Audited; the caller queues the assessment."""
    row = _held(session, report_id)
    try:
        comp = parse_compartment(compartment)
        lesion_for = _lesion_for(session, row, lesion, lesions or {})
    except InvalidInput:
        session.rollback()
        raise
    item = ReportFile(f"report {report_id}", row.content or b"")
    converted, problems = _read(session, item, compartment=comp, lesion_for=lesion_for,
                                check_lesions=False, today=today, hint=hint)
    if converted is None or problems:
        session.rollback()
        raise InvalidInput(problems)
    out = ReportsOutcome()
    out.summary = _import(
        session, [(row, item, converted)], compartment=comp, lesion_for=lesion_for,
        actor=actor, today=today, hint=hint, action="sr_report.accepted",
        after={"compartment": compartment,
               "lesions": {k: v[0] for k, v in lesion_for.items()}})
    out.imported.append(row.id)
    session.commit()
    return out


def reject_report(session: Session, report_id: int, *, reason: str, actor: str) -> None:
    """Take a held report out of the inbox without importing it, with the reason (audited)."""
    text = (reason or "").strip()
    if not text or len(text) > MAX_REASON_CHARS:
        raise InvalidInput([Problem("reason", "say why the report is rejected"
                                    f" (1-{MAX_REASON_CHARS} characters)")])
    row = _held(session, report_id)
    problems = [problem_from_json(p) for p in row.problems or []]
    _settle(session, row, ReportState.REJECTED, actor=actor, reason=text,
            problems=[p for p in problems if kind_of(p) in NEEDS_INPUT])
    session.commit()
