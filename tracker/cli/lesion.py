"""`tracker lesion merge|split|site`: lesion identity (audited, the lesions re-assessed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
from tracker.cli.suggest import SuggestingGroup
from tracker.errors import NotFound, Problem
from tracker.models import Lesion, Observation, Patient
from tracker.queries.lookup import stored_patient_id
from tracker.services.identity import correct_site, merge_lesions, parse_prefer, split_lesion
from tracker.timeline.site import SITE_FIELDS, checked_site
from tracker.typed_numbers import diameters


def _lesion_id(s: Session, patient_id: str, lesion: str) -> int:
    row = s.scalar(select(Lesion.id).join(Patient, Patient.id == Lesion.patient_id).where(
        Patient.external_id == stored_patient_id(s, patient_id), Lesion.external_id == lesion))
    if row is None:
        raise NotFound(f"patient {patient_id} has no lesion {lesion}")
    return row


@click.group("lesion", cls=SuggestingGroup)
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


def _site_options(fn: Callable[..., None]) -> Callable[..., None]:
    for name, what in (("laterality", "right, left or midline"), ("structure", "free text"),
                       ("region", "vocabulary region code"),
                       ("compartment", "vocabulary compartment code")):
        fn = click.option(f"--{name}", help=what)(fn)
    return fn


def _site(s: Session, lesion_id: int, given: dict[str, str | None]) -> dict[str, Any]:
    """The lesion's stored site with the options given over it."""
    row = s.get(Lesion, lesion_id)
    assert row is not None
    return {k: (given[k] if given[k] is not None else getattr(row, k)) for k in SITE_FIELDS}


@lesion_group.command("site")
@click.argument("patient_id")
@click.argument("lesion")
@_site_options
@click.option("--reason", required=True, help="Why (kept in the audit history).")
@reports_errors
def lesion_site_cmd(patient_id: str, lesion: str, compartment: str | None, region: str | None,
                    structure: str | None, laterality: str | None, reason: str) -> None:
    """Correct where LESION is (only the options given change; its id stays)."""
    given = {"compartment": compartment, "region": region, "structure": structure,
             "laterality": laterality}
    with session() as s:
        lesion_id = _lesion_id(s, patient_id, lesion)
        correct_site(s, lesion_id, _site(s, lesion_id, given), actor=CLI_ACTOR, reason=reason,
                     expected_version=None)
    queue_assessments([lesion_id])
    click.echo(f"site of lesion {lesion} corrected")


@lesion_group.command("split")
@click.argument("patient_id")
@click.argument("lesion")
@click.option("--date", "dates", multiple=True, metavar="YYYY-MM-DD",
              help="An observation to move (its date); repeat for several.")
@click.option("--divide", "divides", multiple=True, metavar="YYYY-MM-DD=NEW/REMAINING",
              help="A visit measured as one: the new lesion's size / what remains, in mm "
                   "(e.g. 2024-03-01=6x4/9); repeat for several.")
@click.option("--new-id", required=True, help="Id of the new lesion.")
@_site_options
@click.option("--reason", required=True, help="Why (kept in the audit history).")
@reports_errors
def lesion_split_cmd(patient_id: str, lesion: str, dates: tuple[str, ...],
                     divides: tuple[str, ...], new_id: str, compartment: str | None,
                     region: str | None, structure: str | None, laterality: str | None,
                     reason: str) -> None:
    """Move the observations of LESION on the given dates to a new lesion (at the site the
    options give; LESION's otherwise), or divide visits between the two."""
    days = [parse_as_of(d, "--date") for d in dates]
    parts = {parse_as_of(d.partition("=")[0], "--divide"): d.partition("=")[2].partition("/")
             for d in divides}
    with session() as s:
        lesion_id = _lesion_id(s, patient_id, lesion)
        ids = list(s.scalars(select(Observation.id).where(Observation.lesion_id == lesion_id,
                                                          Observation.date.in_(days))))
        missing = sorted(set(days) - set(s.scalars(
            select(Observation.date).where(Observation.id.in_(ids)))))
        if missing:
            fail([Problem("--date", f"lesion {lesion} has no observation on "
                          + ", ".join(map(str, missing)))])
        by_day = {day: obs_id for day, obs_id in s.execute(
            select(Observation.date, Observation.id).where(
                Observation.lesion_id == lesion_id, Observation.date.in_(list(parts))))}
        absent = sorted(set(parts) - set(by_day))
        if absent:
            fail([Problem("--divide", f"lesion {lesion} has no observation on "
                          + ", ".join(map(str, absent)))])
        given = {"compartment": compartment, "region": region, "structure": structure,
                 "laterality": laterality}
        entity = s.scalar(select(Lesion.entity).where(Lesion.id == lesion_id))
        site = checked_site(_site(s, lesion_id, given), entity=entity)
        new = split_lesion(s, lesion_id, ids, new_external_id=new_id, actor=CLI_ACTOR,
                           reason=reason, site=site,
                           divide={by_day[day]: (diameters(new_mm), diameters(rest))
                                   for day, (new_mm, _, rest) in parts.items()})
        new_row = new.id
    queue_assessments([lesion_id, new_row])
    click.echo(f"{len(ids)} observation(s) moved and {len(parts)} visit(s) divided from "
               f"{lesion} to the new lesion {new_id}")


def register(main: click.Group) -> None:
    main.add_command(lesion_group)
