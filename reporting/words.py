"""How codes and lesions read for people, on the pages, in the charts and in the printable
report: one wording everywhere (no Flask here, so the report renders without the web app)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Protocol

from tracker.models import Alert, Lesion
from tracker.vocabulary import (
    TIMELINE_CODES,
    TREATMENT_KIND_LABELS,
    AlertKind,
    Resolution,
    Stage,
    TreatmentKind,
    label,
    with_resolution,
)

CODE = re.compile(r"[a-z][a-z0-9_]*")
SHORT_LABELS = {code.value for code in (*Stage, *AlertKind)}


def code_label(code: str | None) -> str:
    """A code as its vocabulary label, first letter capitalised."""
    text = label(code)
    return text[:1].upper() + text[1:] if text else ""


def stage_label(stage: str | None, resolution: str | None = None) -> str:
    """A stage as every page, the report and the API label say it: `Resolved (unconfirmed)`
    after one negative film, so a reader never takes it for a confirmed resolution."""
    return with_resolution(code_label(stage), stage, resolution)


def evidence(text: str) -> str:
    """An evidence or suggestion token as people read it: codes become words
    (`ill_defined` -> `ill defined`, `region:shoulder` -> `shoulder`, `ho_early` -> `HO early`);
    sentences stay as they are."""
    key, sep, value = text.partition(":")
    if sep and " " not in key and value and " " not in value:
        text = value
    if not CODE.fullmatch(text):
        return text
    if text in SHORT_LABELS:
        words = label(text)
        return words if words[:2].isupper() else words[:1].lower() + words[1:]
    return text.replace("_", " ")


class Sited(Protocol):
    """What a lesion's caption reads: a Lesion, or a page's row of one."""

    @property
    def external_id(self) -> str: ...
    @property
    def laterality(self) -> str: ...
    @property
    def region(self) -> str: ...
    @property
    def structure(self) -> str | None: ...


def lesion_caption(lesion: Sited) -> str:
    """`L1 · R shoulder, supraspinatus`: a lesion named where it is."""
    side = {"right": "R", "left": "L", "midline": "mid"}.get(lesion.laterality, lesion.laterality)
    where = f"{side} {label(lesion.region).lower()}"
    if lesion.structure:
        where += f", {lesion.structure}"
    return f"{lesion.external_id} · {where}"


def field_value(value: Any, field: str) -> Any:
    """A stored field's value with its codes as labels (`dense` -> `Dense`, a treatment's
    `lavage` -> its full name); other values as they are, for `visit_value` to format."""
    if field == "kind" and isinstance(value, str) and value in set(TreatmentKind):
        return TREATMENT_KIND_LABELS[TreatmentKind(value)]
    if field == "stage" and isinstance(value, str):
        return stage_label(value)
    codes = TIMELINE_CODES.get(field)
    if codes is None:
        return value
    if isinstance(value, str) and value in set(codes):
        return code_label(value)
    if isinstance(value, list) and all(isinstance(v, str) and v in set(codes) for v in value):
        return [code_label(v) for v in value]
    return value


# What an audited action did, as the history pages say it (an action not listed reads as its
# code's words: a new one is never hidden).
AUDIT_ACTIONS = {
    "patient.import": "Patient imported", "patient.update": "Patient updated",
    "lesion.create": "Lesion created", "lesion.import": "Lesion imported",
    "lesion.update": "Lesion updated", "lesion.site": "Site corrected",
    "lesion.merge": "Lesions merged", "lesion.merged_away": "Merged into another lesion",
    "lesion.split": "Lesion split",
    "observation.record": "Observation recorded", "observation.import": "Observation imported",
    "observation.update": "Observation corrected", "observation.delete": "Observation removed",
    "treatment.record": "Treatment recorded", "treatment.import": "Treatment imported",
    "treatment.update": "Treatment corrected", "treatment.delete": "Treatment removed",
    "alert.opened": "Alert opened", "alert.acknowledge": "Alert acknowledged",
    "alert.snooze": "Alert snoozed", "alert.snooze_ended": "Snooze ended",
    "sr_report.accepted": "Report accepted", "sr_report.imported": "Report imported",
    "sr_report.held": "Report held", "sr_report.rejected": "Report rejected",
}


def audit_action(code: str) -> str:
    return AUDIT_ACTIONS.get(code, code.replace(".", " ").replace("_", " "))


def audit_target(target_type: str, before: dict[str, Any] | None,
                 after: dict[str, Any] | None) -> str:
    """What an audit event changed, as a reader names it: `observation of 2024-03-02`,
    `lavage of 2024-01-22`, `lesion L2`, never a row id."""
    record = after or before or {}
    day = record.get("date")
    if target_type == "observation":
        return f"observation of {day}" if day else "observation"
    if target_type == "treatment":
        kind = record.get("kind")
        what = (TREATMENT_KIND_LABELS[TreatmentKind(kind)].split(" (")[0]
                if kind in set(TreatmentKind) else "treatment")
        return f"{what} of {day}" if day else what
    if target_type == "lesion":
        name = record.get("id") or record.get("kept_lesion")
        return f"lesion {name}" if isinstance(name, str) else "lesion"
    return target_type.replace("_", " ")


def alert_reason(alert: Alert, lesion: Lesion) -> str:
    """An alert's reason as a reader needs it. A follow-up overdue says why the film was due:
    after an unconfirmed resolution the lesion reads "Resolved", and "overdue" beside it
    would be a riddle (the engine's reason, clinical-rules §4, names only the stage code)."""
    if alert.kind != AlertKind.FOLLOW_UP_OVERDUE.value or not alert.reason.startswith(
            "follow-up due "):
        return alert.reason
    due = (alert.since - timedelta(days=1)).isoformat()
    since = alert.reason.partition("); ")[2]
    tail = f"; {since}" if since else ""
    if (lesion.current_stage == Stage.RESOLVED.value
            and lesion.current_resolution == Resolution.UNCONFIRMED.value):
        return f"unconfirmed resolution: a confirming film was due on {due}{tail}"
    stage = stage_label(lesion.current_stage, lesion.current_resolution)
    return f"{stage}: follow-up imaging was due on {due}{tail}" if stage else alert.reason


# On ultrasound, density and margin are read as echogenicity and acoustic shadowing, mapped to
# the same codes at face value (clinical-rules: "US echogenicity/shadowing is mapped to
# density/margin"): the form says what a sonographer sees.
US_MORPHOLOGY: dict[str, tuple[str, dict[str, str]]] = {
    "density": ("Echogenicity", {"faint": "Faint (hypoechoic)",
                                 "moderate": "Moderate (echogenic)",
                                 "dense": "Dense (hyperechoic)"}),
    "margin": ("Shadowing", {"well_defined": "Well defined (clean acoustic shadow)",
                             "ill_defined": "Ill defined (faint or no shadow)"}),
}


def morphology_label(name: str, code: str | None, modality: str) -> str:
    """A film's density or margin as read on its modality: echogenicity and shadowing on
    ultrasound, the radiograph's words otherwise."""
    us = US_MORPHOLOGY.get(name)
    if us is not None and modality == "US" and code in us[1]:
        return us[1][code]
    return code_label(code)
