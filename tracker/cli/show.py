"""`tracker show`: what is stored for a patient, for people or (`--json`) for scripts."""

from __future__ import annotations

from typing import Any

import click

from tracker.cli.edge import (
    emit,
    reports_errors,
    session,
)
from tracker.queries.show import patient_record
from tracker.vocabulary import TREATMENT_KIND_LABELS, TreatmentKind, with_resolution


@click.command("show")
@click.argument("patient_id")
@click.option("--json", "as_json", is_flag=True, help="Stable machine-readable output.")
@reports_errors
def show_cmd(patient_id: str, as_json: bool) -> None:
    """Print what is stored for a patient: lesions, stages, transitions, open alerts."""
    with session() as s:
        record = patient_record(s, patient_id)
    if as_json:
        emit(record)
        return
    click.echo(render_record(record))


def render_record(record: dict[str, Any]) -> str:
    lines = [f"Patient {record['patient']}"
             + (f" (born {record['birth_year']})" if record["birth_year"] else "")]
    for lesion in record["lesions"]:
        site = lesion["site"]
        a = lesion["assessment"]
        suggested = f"{a['entity']} (suggested)" if a["entity"] else "undiagnosed"
        entity = lesion["entity"] or suggested
        lines.append("")
        lines.append(
            f"  Lesion {lesion['lesion']}: {site['laterality']} {site['region']}"
            + (f", {site['structure']}" if site["structure"] else "")
            + f" [{site['compartment']}], {entity}"
        )
        lines.append(
            f"    stage: {with_resolution(str(a['stage']), a['stage'], a.get('resolution'))}"
            f"   next follow-up: {a['next_follow_up'] or '-'}"
        )
        visits: list[tuple[str, int, str]] = []  # by date; a treatment after its day's film
        for o in lesion["observations"]:
            size = "x".join(f"{s:g}" for s in o.get("size_mm", [])) or "not seen"
            conf = f" ({o['confidence']:.2f})" if "confidence" in o else ""
            stage = with_resolution(str(o["stage"]), o["stage"], o.get("resolution"))
            visits.append((o["date"], 0, f"    {o['date']} {o['modality']:<2} {size:<12} "
                                         f"{stage}{conf}"))
        for tr in lesion["treatments"]:
            note = f" ({tr['note']})" if tr.get("note") else ""
            kind = TREATMENT_KIND_LABELS[TreatmentKind(tr["kind"])]
            visits.append((tr["date"], 1, f"    {tr['date']} treated: {kind}{note}"))
        lines += [line for _, _, line in sorted(visits)]
        for t in lesion["transitions"]:
            lines.append(f"    transition {t['date']}: {t['from']} -> {t['to']}")
        for al in lesion["alerts"]:
            lines.append(
                f"    ALERT {al['severity'].upper()} {al['kind']} since {al['since']}"
                f" [{al['state']}]: {al['reason']}"
            )
    return "\n".join(lines)


def register(main: click.Group) -> None:
    main.add_command(show_cmd)
