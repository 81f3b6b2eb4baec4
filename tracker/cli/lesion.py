"""`tracker lesion merge|split`: lesion identity (audited, both lesions re-assessed)."""

from __future__ import annotations

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.cli.edge import (
    CLI_ACTOR,
    fail,
    parse_as_of,
    queue_assessments,
    reports_errors,
    session,
)
from tracker.errors import NotFound, Problem
from tracker.models import Lesion, Observation, Patient
from tracker.queries.lookup import stored_patient_id
from tracker.services.identity import merge_lesions, parse_prefer, split_lesion


def _lesion_id(s: Session, patient_id: str, lesion: str) -> int:
    row = s.scalar(select(Lesion.id).join(Patient, Patient.id == Lesion.patient_id).where(
        Patient.external_id == stored_patient_id(s, patient_id), Lesion.external_id == lesion))
    if row is None:
        raise NotFound(f"patient {patient_id} has no lesion {lesion}")
    return row


@click.group("lesion")
def lesion_group() -> None:
    """Lesion identity: merge two records of one deposit, or split one that was two."""


@lesion_group.command("merge")
@click.argument("patient_id")
@click.argument("kept")
@click.argument("merged")
@click.option("--prefer", multiple=True, metavar="DATE=kept|merged",
              help="For a date both lesions have a visit: whose observation stays.")
@click.option("--reason", required=True, help="Why (kept in the audit history).")
@reports_errors
def lesion_merge_cmd(patient_id: str, kept: str, merged: str, prefer: tuple[str, ...],
                     reason: str) -> None:
    """Fold lesion MERGED into lesion KEPT (both of PATIENT_ID)."""
    choices = dict(item.partition("=")[::2] for item in prefer)
    with session() as s:
        kept_id, merged_id = _lesion_id(s, patient_id, kept), _lesion_id(s, patient_id, merged)
        merge_lesions(s, kept_id, merged_id, prefer=parse_prefer(choices), actor=CLI_ACTOR,
                      reason=reason)
    queue_assessments([kept_id])
    click.echo(f"lesion {merged} merged into {kept}")


@lesion_group.command("split")
@click.argument("patient_id")
@click.argument("lesion")
@click.option("--date", "dates", multiple=True, required=True, metavar="YYYY-MM-DD",
              help="An observation to move (its date); repeat for several.")
@click.option("--new-id", required=True, help="Id of the new lesion.")
@click.option("--reason", required=True, help="Why (kept in the audit history).")
@reports_errors
def lesion_split_cmd(patient_id: str, lesion: str, dates: tuple[str, ...], new_id: str,
                     reason: str) -> None:
    """Move the observations of LESION on the given dates to a new lesion."""
    days = [parse_as_of(d, "--date") for d in dates]
    with session() as s:
        lesion_id = _lesion_id(s, patient_id, lesion)
        ids = list(s.scalars(select(Observation.id).where(Observation.lesion_id == lesion_id,
                                                          Observation.date.in_(days))))
        missing = sorted(set(days) - set(s.scalars(
            select(Observation.date).where(Observation.id.in_(ids)))))
        if missing:
            fail([Problem("--date", f"lesion {lesion} has no observation on "
                          + ", ".join(map(str, missing)))])
        new = split_lesion(s, lesion_id, ids, new_external_id=new_id, actor=CLI_ACTOR,
                           reason=reason)
        new_row = new.id
    queue_assessments([lesion_id, new_row])
    click.echo(f"{len(ids)} observation(s) moved from {lesion} to the new lesion {new_id}")


def register(main: click.Group) -> None:
    main.add_command(lesion_group)
