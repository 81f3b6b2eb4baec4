"""DICOM SR measurement reports (TID 1500) -> a `lesion-timeline/1` document.

Read with highdicom (planar, volumetric and image measurement groups); no database, no
validation of the result: the caller validates and imports it exactly like `tracker import`.
Everything that cannot be mapped is a Problem whose path names the file and the measurement
group and whose message names the code and its meaning; the caller rejects the whole batch
when there is any.

Reading choices (documented in the README, "DICOM SR import"):
- patient = PatientID; lesion = Tracking Unique Identifier, else Tracking Identifier + site;
- site = the finding site's SNOMED CT code (SCT or legacy SRT) from `REGION_SNOMED`, laterality
  from the laterality or topographical modifier; no laterality means midline, allowed only in
  the axial regions (spine, neck, trunk, pelvis);
- compartment: `spine` for spine regions, else the caller's default (SR has no such concept);
- date = the date the group's images were taken: a Study (else Acquisition, Content) Date in
  the group itself, else in the Image Library entries of the images it references (a group
  measured on a prior study says its date only there); else, for the report's own study, the
  report's StudyDate (else SeriesDate, ContentDate). A prior study without a date is refused.
  Modality from the SOP classes of the images the group references (else of all the
  report's evidence);
- size_mm = the linear measurements of CID 7470 in mm (kept to 0.01 mm), longest first, at
  most the three longest; groups of one lesion on one date in one report are one observation,
  their sizes pooled;
- key images: every image a group's marks (SCOORD) are drawn on, with the mark, and the images
  it names without a mark (`Converted.key_images`).
Problems a person can resolve (a compartment, which stored lesion, an unmapped site) carry
their kind (`tracker.interop.sr_problems`); `lesion_for` resolves the last two by naming the
stored lesion a report's lesion is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

import highdicom as hd
from pydicom.sr.coding import Code
from pydicom.uid import UID

from tracker.errors import InvalidInput, Problem
from tracker.interop.converted import Converted, KeyImageRef
from tracker.interop.sr_file import (
    dates_in,
    dicom_date,
    is_sr_file,
    library_dates,
    read_sr,
    reading,
    report_date,
)
from tracker.interop.sr_key_images import key_images
from tracker.interop.sr_problems import ProblemKind, SrProblem
from tracker.timeline.models import FORMAT, MAX_SIZE_MM
from tracker.vocabulary import (
    AXIAL_REGIONS,
    LATERALITY_SNOMED,
    REGION_SNOMED,
    SPINE_REGIONS,
    Compartment,
    Laterality,
    Modality,
    Region,
)

MAX_SIZES = 3
SIZE_DECIMALS = 2  # sizes are kept to 0.01 mm: measurements come as floats (0.8 cm * 10)

# CID 7470 linear measurements the format's size_mm accepts (pydicom compares SCT and SRT alike).
LINEAR_MEASUREMENTS: tuple[Code, ...] = (
    Code("410668003", "SCT", "Length"),
    Code("81827009", "SCT", "Diameter"),
    Code("103339001", "SCT", "Long Axis"),
    Code("103340004", "SCT", "Short Axis"),
    Code("131187009", "SCT", "Major Axis"),
    Code("131188004", "SCT", "Minor Axis"),
    Code("103355008", "SCT", "Width"),
)

# UCUM length units -> factor to millimetres.
UCUM_TO_MM: dict[str, float] = {"mm": 1.0, "cm": 10.0, "um": 0.001, "m": 1000.0}

# Qualitative evaluation values (SNOMED CT, DICOM CID 6006-6016) -> (timeline field, code).
MORPHOLOGY: tuple[tuple[Code, str, str], ...] = (
    (Code("129744006", "SCT", "High density lesion"), "density", "dense"),
    (Code("129745007", "SCT", "Equal density (isodense) lesion"), "density", "moderate"),
    (Code("129746008", "SCT", "Low density (not containing fat) lesion"), "density", "faint"),
    (Code("129738007", "SCT", "Circumscribed lesion"), "margin", "well_defined"),
    (Code("263706005", "SCT", "Circumscribed"), "margin", "well_defined"),
    (Code("129741003", "SCT", "Indistinct margin"), "margin", "ill_defined"),
    (Code("129763007", "SCT", "Heterogeneous calcification"), "texture", "heterogeneous"),
    (Code("129754005", "SCT", "Lucent-centered calcification"), "pattern", "central_lucency"),
    (Code("129751002", "SCT", "Eggshell calcification"), "pattern", "shell"),
)

# Topographical modifier "Midline" (SCT 399488007) when a report states it explicitly.
MIDLINE = Code("399488007", "SCT", "Midline")

_REGION_CODES = [(Code(code, "SCT", region.value), region) for region, code in
                 REGION_SNOMED.items()]
_LATERALITY_CODES = [(Code(code, "SCT", side.value), side) for side, code in
                     LATERALITY_SNOMED.items()]


# A report's lesion -> the stored lesion it is: (lesion id, its site with the compartment).
LesionFor = Mapping[str, tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class SrInput:
    """One file: a name for messages and its bytes or path."""

    name: str
    source: bytes | str | Path | BinaryIO


def code_text(code: Any) -> str:
    """`"Lung structure" (SCT 39607008)`: how a code is named in every problem."""
    return f'"{code.meaning}" ({code.scheme_designator} {code.value})'


def _matches(code: Any, table: Iterable[tuple[Code, Any]]) -> Any:
    for known, value in table:
        if code == known:
            return value
    return None


def modality_of_sop_class(sop_class_uid: str) -> Modality | None:
    """The format's modality of an image SOP class (pydicom's UID names)."""
    name = UID(sop_class_uid).name
    if "CT Image" in name:
        return Modality.CT
    if "MR Image" in name:
        return Modality.MR
    if "Ultrasound" in name:
        return Modality.US
    if "Computed Radiography" in name or "Digital X-Ray" in name:
        return Modality.XR
    return None


def _is_linear(name: Any) -> bool:
    return any(name == known for known in LINEAR_MEASUREMENTS)


# --------------------------------------------------------------------------- one report


@dataclass
class _Reading:
    """What one measurement group says, before groups are put together."""

    where: str
    patient: str
    lesion: str
    site: dict[str, Any]
    day: str
    observation: dict[str, Any]
    subject: str
    key_images: list[KeyImageRef]


@dataclass
class _Report:
    name: str
    sr: Any
    patient_id: str
    patient: dict[str, Any]
    day: date | None
    evidence: dict[str, tuple[str, str, str]]  # SOP instance -> (study, series, SOP class)
    library: dict[str, date]  # SOP instance -> its date, from the Image Library


def _groups(content: Any) -> Iterator[tuple[str, Any]]:
    for kind, getter in (("planar ROI group", content.get_planar_roi_measurement_groups),
                         ("volumetric ROI group", content.get_volumetric_roi_measurement_groups),
                         ("measurement group", content.get_image_measurement_groups)):
        for i, group in enumerate(getter(), start=1):
            yield f"{kind} {i}", group


def _referenced_instances(group: Any) -> set[str]:
    """SOP instance UIDs of every image the group points at (ROI, source images, measurements)."""
    found: set[str] = set()

    def walk(items: Iterable[Any]) -> None:
        for item in items:
            for ref in getattr(item, "ReferencedSOPSequence", []) or []:
                found.add(str(ref.ReferencedSOPInstanceUID))
            walk(getattr(item, "ContentSequence", []) or [])

    walk(group)
    return found


def subject_of(group: Any) -> str:
    """The report's name for the lesion a group measures: its Tracking Unique Identifier,
    else its Tracking Identifier (what a person and `lesion_for` call it)."""
    return str(group.tracking_uid or group.tracking_identifier or "")


def _site(group: Any, where: str, compartment: Compartment | None,
          problems: list[Problem]) -> tuple[dict[str, Any], str] | None:
    subject = subject_of(group)

    def unmapped(message: str) -> SrProblem:
        return SrProblem(where, message, ProblemKind.SITE, subject)

    sites = list(group.finding_sites)
    if not sites:
        problems.append(unmapped("has no finding site; the region cannot be known"))
        return None
    regions: list[Region] = []
    sides: set[Laterality] = set()
    for fs in sites:
        region = _matches(fs.value, _REGION_CODES)
        if region is None:
            problems.append(unmapped(
                f"finding site {code_text(fs.value)} is not a region calcitrack follows"
                " (vocabulary.md region table)"))
            continue
        regions.append(region)
        for qualifier in (fs.laterality, fs.topographical_modifier):
            if qualifier is None:
                continue
            side = _matches(qualifier, _LATERALITY_CODES)
            if side is not None:
                sides.add(side)
            elif qualifier == MIDLINE:
                sides.add(Laterality.MIDLINE)
            elif qualifier is fs.laterality:
                problems.append(unmapped(
                    f"laterality {code_text(qualifier)} is not right or left"))
    if not regions:
        return None
    if len(set(regions)) > 1:
        problems.append(Problem(where, "finding sites name more than one region: "
                                + ", ".join(r.value for r in regions)))
        return None
    region = regions[0]
    if len(sides) > 1:
        problems.append(Problem(where, "finding sites give more than one laterality"))
        return None
    if not sides:
        if region not in AXIAL_REGIONS:
            problems.append(unmapped(
                f"finding site {code_text(sites[0].value)} has no laterality"
                " (right or left is needed outside the spine, neck, trunk and pelvis)"))
            return None
        sides.add(Laterality.MIDLINE)
    site: dict[str, Any] = {"region": region.value, "laterality": sides.pop().value}
    if region in SPINE_REGIONS:
        site = {"compartment": Compartment.SPINE.value, **site}
    elif compartment is not None:
        site = {"compartment": compartment.value, **site}
    return site, sites[0].value.meaning


def _lesion_id(group: Any, site: dict[str, Any]) -> str | None:
    uid = group.tracking_uid
    if uid:
        return str(uid)
    ident = group.tracking_identifier
    if not ident:
        return None
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", str(ident)).strip("-")
    return f"{slug}.{site['laterality']}-{site['region']}"[:64] if slug else None


def _size_mm(name: Any, value: float, unit: str, factor: float) -> tuple[float | None, str]:
    """A measurement in mm kept to 0.01 mm, or why it cannot be a size (value and limit)."""
    size_mm = value * factor
    given = f"{value:g} {unit}" + ("" if unit == "mm" else f" ({size_mm:g} mm)")
    if not math.isfinite(size_mm):
        return None, f"{code_text(name)} is {given}, not a number"
    kept = round(size_mm, SIZE_DECIMALS)
    if size_mm <= 0:
        return None, f"{code_text(name)} is {given}; a size must be above 0 mm"
    if kept <= 0:
        smallest = 10 ** -SIZE_DECIMALS
        return None, (f"{code_text(name)} is {given}, below the smallest size kept"
                      f" ({smallest:g} mm; a size must be above 0 mm)")
    if kept > MAX_SIZE_MM:
        return None, f"{code_text(name)} is {given}; a size must be at most {MAX_SIZE_MM} mm"
    return kept, ""


def _sizes(group: Any, where: str, problems: list[Problem]) -> list[float] | None:
    sizes: list[float] = []
    others: list[str] = []
    unreadable = False
    for m in group.get_measurements():
        if not _is_linear(m.name):
            others.append(code_text(m.name))
            continue
        unit = str(m.unit.value)
        factor = UCUM_TO_MM.get(unit)
        if factor is None:
            unreadable = True
            problems.append(Problem(
                where, f"{code_text(m.name)} has unit {code_text(m.unit)}, not a UCUM length"
                       f" unit ({', '.join(UCUM_TO_MM)})"))
            continue
        size, why = _size_mm(m.name, float(m.value), unit, factor)
        if size is None:
            unreadable = True
            problems.append(Problem(where, why))
            continue
        sizes.append(size)
    if unreadable:
        return None
    if not sizes:
        problems.append(Problem(
            where, "has no linear measurement (Length, Diameter, Long/Short/Major/Minor Axis,"
                   " Width)" + ("; found only " + ", ".join(others) if others else "")))
        return None
    return sorted(sizes, reverse=True)[:MAX_SIZES]


def _morphology(group: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for q in group.get_qualitative_evaluations():
        mapped = _matches(q.value, ((code, (key, value)) for code, key, value in MORPHOLOGY))
        if mapped is not None:
            out.setdefault(mapped[0], mapped[1])
    return out


def _study(report: _Report, instances: set[str], where: str,
           problems: list[Problem]) -> tuple[Modality | None, str | None]:
    refs = [report.evidence[i] for i in instances if i in report.evidence]
    if not refs:
        refs = list(report.evidence.values())
    modalities = {m for m in (modality_of_sop_class(c) for _, _, c in refs) if m is not None}
    studies = {s for s, _, _ in refs}
    study = studies.pop() if len(studies) == 1 else str(report.sr.StudyInstanceUID)
    if len(modalities) == 1:
        return modalities.pop(), study
    classes = sorted({UID(c).name for _, _, c in refs})
    if not modalities:
        problems.append(Problem(where, "the modality is unknown: no referenced CT, MR, US,"
                                " CR or DX image" + (f" (found {', '.join(classes)})"
                                                     if classes else "")))
    else:
        problems.append(Problem(where, "references images of more than one modality: "
                                + ", ".join(sorted(m.value for m in modalities))))
    return None, study


def _read_report(item: SrInput, problems: list[Problem]) -> _Report | None:
    sr = read_sr(item.source)
    if not isinstance(sr.content, hd.sr.MeasurementReport):
        problems.append(Problem(item.name, "is a DICOM SR but not a TID 1500 measurement report"))
        return None
    patient_id = str(getattr(sr, "PatientID", "") or "").strip()
    if not patient_id:
        problems.append(Problem(item.name, "has no PatientID"))
        return None
    patient: dict[str, Any] = {"id": patient_id}
    birth = dicom_date(getattr(sr, "PatientBirthDate", None))
    if birth is not None:
        patient["birth_year"] = birth.year
    sex = {"F": "F", "M": "M", "O": "X"}.get(str(getattr(sr, "PatientSex", "") or ""))
    if sex is not None:
        patient["sex"] = sex
    evidence = {str(inst): (str(study), str(series), str(cls))
                for study, series, inst, cls in sr.get_evidence()}
    return _Report(item.name, sr, patient_id, patient, report_date(sr), evidence,
                   library_dates(sr))


def _group_day(report: _Report, group: Any, instances: set[str], study: str | None,
               where: str, problems: list[Problem]) -> date | None:
    """When the group's images were taken (see the module docstring)."""
    own = dates_in(group)
    if own is not None:
        return own
    days = sorted({report.library[i] for i in instances if i in report.library})
    if len(days) == 1:
        return days[0]
    if days:
        problems.append(Problem(where, "references images of more than one date: "
                                + ", ".join(d.isoformat() for d in days)))
        return None
    if study is None or study == str(report.sr.StudyInstanceUID):
        undated = Problem(report.name, "has no StudyDate (nor SeriesDate, ContentDate)")
        if report.day is None and undated not in problems:
            problems.append(undated)
        return report.day
    problems.append(Problem(where, f"measures study {study}, not this report's own study, and"
                            " the report does not say when it was taken (no Study Date in the"
                            " image library entry of its images)"))
    return None


def _read_groups(report: _Report, compartment: Compartment | None, lesion_for: LesionFor,
                 problems: list[Problem]) -> Iterator[_Reading]:
    groups = list(_groups(report.sr.content))
    if not groups:
        problems.append(Problem(report.name, "has no measurement group"))
    accession = str(getattr(report.sr, "AccessionNumber", "") or "").strip()
    for label, group in groups:
        where = f"{report.name} {label}"
        before = len(problems)
        subject = subject_of(group)
        stored = lesion_for.get(subject) if subject else None
        found = (stored[1], "") if stored else _site(group, where, compartment, problems)
        sizes = _sizes(group, where, problems)
        instances = _referenced_instances(group)
        modality, study = _study(report, instances, where, problems)
        day = _group_day(report, group, instances, study, where, problems)
        lesion = stored[0] if stored else _lesion_id(group, found[0]) if found else None
        if found and lesion is None:
            problems.append(Problem(where, "has neither a Tracking Unique Identifier nor a"
                                    " Tracking Identifier"))
        if len(problems) > before or found is None or sizes is None or lesion is None \
                or modality is None or day is None:
            continue
        obs: dict[str, Any] = {"date": day.isoformat(), "modality": modality.value,
                               "size_mm": sizes, **_morphology(group)}
        if study:
            obs["study_uid"] = study
            if accession and study == str(report.sr.StudyInstanceUID):
                obs["accession"] = accession
        yield _Reading(where, report.patient_id, lesion, found[0], obs["date"], obs, subject,
                       key_images(report.evidence, group, sizes[0]))


# --------------------------------------------------------------------------- the batch


def _merge_same_visit(first: dict[str, Any], other: dict[str, Any], *,
                      pool_sizes: bool) -> dict[str, Any] | None:
    """One visit of one lesion read twice. Groups of one report pool their sizes (two
    measurements of 10 mm are [10, 10]); two reports must agree on them. Another field
    given by only one side is kept; given differently by both, it is a clash (None)."""
    merged = dict(first)
    for key, value in other.items():
        if key == "size_mm" and pool_sizes:
            merged["size_mm"] = sorted([*first["size_mm"], *value], reverse=True)[:MAX_SIZES]
        elif key in merged and merged[key] != value:
            return None
        else:
            merged[key] = value
    return merged


@dataclass
class _Batch:
    """The document being built, and where each observation came from."""

    patients: dict[str, dict[str, Any]]
    lesions: dict[tuple[str, str], dict[str, Any]]
    visits: dict[tuple[str, str, str], tuple[str, dict[str, Any]]]
    origins: dict[tuple[str, str, str], list[str]]
    key_images: dict[tuple[str, str, str], list[KeyImageRef]]
    subjects: dict[tuple[str, str], str]

    def add_report(self, report: _Report, readings: list[_Reading],
                   problems: list[Problem]) -> None:
        known = self.patients.setdefault(report.patient_id, {**report.patient, "lesions": []})
        for key in ("birth_year", "sex"):
            if key in report.patient and known.get(key, report.patient[key]) != \
                    report.patient[key]:
                problems.append(Problem(report.name, f"patient {report.patient_id} has {key}"
                                        f" {report.patient[key]} here and {known[key]}"
                                        " elsewhere"))
        in_report: dict[tuple[str, str, str], dict[str, Any]] = {}
        for r in readings:
            lesion = self.lesions.get((r.patient, r.lesion))
            if lesion is None:
                lesion = {"id": r.lesion, "site": r.site, "observations": []}
                self.lesions[(r.patient, r.lesion)] = lesion
                known["lesions"].append(lesion)
            elif lesion["site"] != r.site:
                problems.append(Problem(r.where, f"lesion {r.lesion} is at"
                                        f" {r.site['laterality']} {r.site['region']} here and at"
                                        f" {lesion['site']['laterality']}"
                                        f" {lesion['site']['region']} in another group"))
                continue
            okey = (r.patient, r.lesion, r.day)
            if okey in in_report:
                merged = _merge_same_visit(in_report[okey], r.observation, pool_sizes=True)
                if merged is None:
                    problems.append(Problem(r.where, f"lesion {r.lesion} on {r.day} contradicts"
                                            " another group of this report"))
                    continue
                in_report[okey] = merged
            else:
                in_report[okey] = r.observation
            self.origins.setdefault(okey, []).append(r.where)
            self.key_images.setdefault(okey, []).extend(r.key_images)
            if r.subject:
                self.subjects.setdefault(okey[:2], r.subject)
        for okey, obs in in_report.items():
            seen = self.visits.get(okey)
            if seen is None:
                self.visits[okey] = (report.name, obs)
                self.lesions[okey[:2]]["observations"].append(obs)
                continue
            merged = _merge_same_visit(seen[1], obs, pool_sizes=False)
            if merged is None:
                problems.append(Problem(report.name, f"lesion {okey[1]} on {okey[2]} differs"
                                        f" from {seen[0]}; one observation per lesion per day"))
                continue
            seen[1].update(merged)  # the same dict is in the lesion's observations


def convert(files: Sequence[SrInput], *, compartment: Compartment | None = None,
            skipped: Sequence[str] = (), lesion_for: LesionFor | None = None) -> Converted:
    """Every file and group read and put together; InvalidInput lists every problem.

    A file that cannot be read at all is one problem naming it (`sr_file.reading`).
    `lesion_for`: report lesions (`subject_of`) a person said are stored lesions."""
    problems: list[Problem] = []
    batch = _Batch({}, {}, {}, {}, {}, {})
    for item in files:
        report: _Report | None = None
        readings: list[_Reading] = []
        with reading(item.name, problems) as found:
            report = _read_report(item, found)
            if report is not None:
                readings = list(_read_groups(report, compartment, lesion_for or {}, found))
        if report is not None and not found.unreadable:
            batch.add_report(report, readings, problems)
    if problems:
        raise InvalidInput(problems)
    for lesion in batch.lesions.values():
        lesion["observations"].sort(key=lambda o: o["date"])
    document = {"format": FORMAT,
                "patients": [p for p in batch.patients.values() if p["lesions"]]}
    return Converted(document, batch.origins, list(skipped), batch.key_images, batch.subjects)


def collect_paths(paths: Sequence[str | Path]) -> tuple[list[SrInput], list[str], list[Problem]]:
    """Files as given; folders walked (sorted), keeping DICOM SR files and skipping the rest."""
    files: list[SrInput] = []
    skipped: list[str] = []
    problems: list[Problem] = []
    for raw in paths:
        p = Path(raw)
        if p.is_file():
            files.append(SrInput(str(p), p))
        elif p.is_dir():
            for child in sorted(q for q in p.rglob("*") if q.is_file()):
                if is_sr_file(child):
                    files.append(SrInput(str(child), child))
                else:
                    skipped.append(str(child))
        else:
            problems.append(Problem(str(p), "no such file or folder"))
    if not files and not problems:
        problems.append(Problem(", ".join(map(str, paths)), "no DICOM SR file found"))
    return files, skipped, problems
