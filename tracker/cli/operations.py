"""Running calcitrack: `tracker db upgrade`, `demo`, and the assessment in this process
(`assess`, `scan`, `sweep`: what the workers do, for operators and scripts without one)."""

from __future__ import annotations

import json
from datetime import date

import click

from tracker import alert_columns, alert_counts, demo
from tracker.cli.edge import (
    fail,
    parse_as_of,
    queue_assessments,
    reports_errors,
    session,
    settings,
    tell_deferred,
)
from tracker.cli.suggest import SuggestingGroup
from tracker.db import safe_url
from tracker.demo import DEMO_PREFIX
from tracker.errors import Problem, ServiceUnavailable
from tracker.queries.lookup import patient_exists
from tracker.queries.to_assess import all_lesions, lesions_of_patient, stale_lesions
from tracker.services import imports
from tracker.services.assessment.assess import assess_lesions
from tracker.services.assessment.scan import scan_alerts
from tracker.services.assessment.sweep import sweep_pending
from tracker.summaries import rebuild_patient_summaries, summary_differences


@click.command("demo")
@reports_errors
def demo_cmd() -> None:
    """Load the demo cohort once (nothing happens if it is already there)."""
    with session() as s:
        if patient_exists(s, f"{DEMO_PREFIX}001"):
            click.echo("demo cohort already loaded")
            return
        summary = imports.import_timeline(s, demo.timeline(date.today()), actor="demo")
    sent = queue_assessments(summary.changed_lesion_ids)
    tell_deferred(summary.changed_lesion_ids, sent)
    click.echo(
        f"demo cohort loaded: {summary.patients_created} patients, "
        f"{summary.lesions_created} lesions, {summary.observations_created} observations"
        f" ({sent} assessments queued)"
    )


@click.group("db", cls=SuggestingGroup)
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.option("--revision", default="head")
@reports_errors
def db_upgrade(revision: str) -> None:
    """Migrate the configured database (DATABASE_URL) to the latest schema."""
    from tracker import migrate  # alembic: only this command needs it

    url = settings().database_url
    try:
        migrate.upgrade(url, revision)
    except OSError as exc:  # the embedded database's folder cannot be created
        raise ServiceUnavailable(
            f"cannot create the database at {safe_url(url)}: {exc.strerror or exc}; set "
            "CALCITRACK_INSTANCE to a writable folder, or DATABASE_URL"
        ) from None
    click.echo(f"database at {revision}")


@db_group.command("counts")
@click.option("--repair", is_flag=True, help="replace the stored counts by the recount")
@reports_errors
def db_counts(repair: bool) -> None:
    """Check the header's maintained alert counts against a recount of the alerts (a scan:
    run it off-peak). Exit status 1 when they differ and --repair was not given."""
    with session() as s:
        have, want = alert_counts.stored(s), alert_counts.recount(s)
        differ = sorted(k for k in have.keys() | want.keys() if have.get(k) != want.get(k))
        for sev, state in differ:
            click.echo(f"{sev} {state}: stored {have.get((sev, state), 0)}, "
                       f"counted {want.get((sev, state), 0)}")
        if differ and repair:
            alert_counts.rebuild(s)
            s.commit()
            click.echo("counts repaired")
        elif differ:
            fail([Problem("alert_counts", "the maintained counts differ from a recount; "
                                          "run `tracker db counts --repair`")], code=1)
        else:
            click.echo(f"alert counts match ({sum(want.values())} uncleared alerts)")


@db_group.command("worklist")
@click.option("--repair", is_flag=True, help="copy each lesion's values onto its alerts")
@reports_errors
def db_worklist(repair: bool) -> None:
    """Check the lesion values copied onto uncleared alerts (what the worklist filters by)
    against the lesions (a scan: run it off-peak). Exit status 1 when any differs and --repair
    was not given."""
    matching = "worklist copies match every lesion"
    with session() as s:
        if repair:  # its own scan, copying only what differs: no check before it
            mended = alert_columns.repair_copies(s)
            s.commit()
            click.echo(f"worklist copies repaired: {mended} alerts" if mended else matching)
            return
        differ, first = alert_columns.copy_differences(s)
    if differ:
        fail([Problem("alerts", f"{differ} uncleared alert(s) differ from their lesion in a "
                                "copied value (patient, region, entity, stage or next "
                                f"follow-up; the first: alert row {first}), so the "
                                "worklist's filters miss or misplace them; run "
                                "`tracker db worklist --repair`")], code=1)
    click.echo(matching)


@db_group.command("summaries")
@click.option("--rebuild", is_flag=True, help="recompute every patient's summary")
@reports_errors
def db_summaries(rebuild: bool) -> None:
    """Check the patient list's summaries against a recount (exit 1 if any differs), or
    recompute them all (after rows were written around calcitrack, e.g. a bulk SQL load)."""
    with session() as s:
        if rebuild:
            n = rebuild_patient_summaries(s)
            s.commit()
            click.echo(f"patient summaries recomputed: {n} patients")
            return
        wrong = summary_differences(s)
    if wrong:
        fail([Problem("patient_summaries", f"{len(wrong)} differ from a recount (the first: "
                      f"patient row {wrong[0][0]}); run `tracker db summaries --rebuild`")],
             code=1)
    click.echo("patient summaries match a recount")


@click.command("assess")
@click.option("--all", "all_", is_flag=True, help="Every lesion.")
@click.option("--patient", "patient", default=None, help="Every lesion of this patient id.")
@click.option("--stale", is_flag=True, help="Lesions never assessed or by another engine.")
@click.option("--as-of", "as_of", default=None, help="YYYY-MM-DD (default: today).")
@reports_errors
def assess_cmd(all_: bool, patient: str | None, stale: bool, as_of: str | None) -> None:
    """Assess lesions in this process (the service the workers run), and store the result."""
    if sum((all_, patient is not None, stale)) != 1:
        fail([Problem("assess", "give exactly one of --all, --patient ID, --stale")])
    when = parse_as_of(as_of)
    with session() as s:
        if patient is not None:
            ids = lesions_of_patient(s, patient)
        elif stale:
            ids = stale_lesions(s)
        else:
            ids = all_lesions(s)
        report = assess_lesions(s, ids, when)
    click.echo(json.dumps(report.as_dict()))


@click.command("scan")
@click.option("--as-of", "as_of", default=None, help="YYYY-MM-DD (default: today).")
@reports_errors
def scan_cmd(as_of: str | None) -> None:
    """Re-assess what is due (time-dependent alerts, ended snoozes, stale); print counts."""
    when = parse_as_of(as_of)
    with session() as s:
        report = scan_alerts(s, when)
    click.echo(json.dumps({"as_of": when.isoformat(), **report.as_dict()}))
    if report.failed:  # each was logged in one line; the rest were assessed
        ids = ", ".join(map(str, report.failed[:20])) + (", ..." if len(report.failed) > 20
                                                         else "")
        fail([Problem("scan", f"{len(report.failed)} lesion(s) could not be assessed "
                              f"(lesion row ids {ids}); `tracker check` names the stored rows "
                              "at fault")], code=1)


@click.command("sweep")
@click.option("--grace-seconds", type=int, default=None,
              help="Only changes older than this (default: SWEEP_GRACE_SECONDS).")
@reports_errors
def sweep_cmd(grace_seconds: int | None) -> None:
    """Re-send the assessment of every lesion whose change is still unassessed."""
    config = settings()
    grace = config.sweep_grace_seconds if grace_seconds is None else grace_seconds
    with session() as s:
        ids = sweep_pending(s, grace, config.resend_after_seconds)
    sent = queue_assessments(ids)
    click.echo(json.dumps({"pending": len(ids), "queued": sent}))
    tell_deferred(ids, sent)


def register(main: click.Group) -> None:
    for command in (db_group, demo_cmd, assess_cmd, scan_cmd, sweep_cmd):
        main.add_command(command)
