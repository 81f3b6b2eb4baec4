"""How stages, alerts, fields and audited records read for a clinician, and an MR that did not
show the deposit drawn as what it is (no size), not at 0 mm (which reads as resolution)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from reporting.charts import _lesion_figure
from reporting.words import (
    AUDIT_ACTIONS,
    alert_reason,
    audit_action,
    audit_target,
    field_value,
    stage_label,
)
from testkit.factories import make_lesion, obs
from tracker.models import Alert, Lesion
from tracker.queries.lesion import lesion_with_everything


def test_an_unconfirmed_resolution_says_so() -> None:
    assert stage_label("resolved", "unconfirmed") == "Resolved (unconfirmed)"
    assert stage_label("resolved", "expected") == "Resolved (expected)"
    assert stage_label("resolved", "confirmed") == "Resolved"
    assert stage_label("ho_mature") == "HO mature"


def test_an_overdue_follow_up_says_why() -> None:
    lesion = Lesion(current_stage="resolved", current_resolution="unconfirmed")
    alert = Alert(kind="follow_up_overdue", since=date(2024, 7, 11),
                  reason="follow-up due 2024-07-10 (resolved); no imaging since 2024-04-10")
    assert alert_reason(alert, lesion) == ("unconfirmed resolution: a confirming film was due "
                                           "on 2024-07-10; no imaging since 2024-04-10")
    resting = Lesion(current_stage="resting", current_resolution=None)
    assert alert_reason(alert, resting) == ("Resting: follow-up imaging was due on 2024-07-10; "
                                            "no imaging since 2024-04-10")
    other = Alert(kind="no_resolution", since=date(2024, 7, 11), reason="as the engine said")
    assert alert_reason(other, lesion) == "as the engine said"


def test_fields_and_records_read_as_labels_never_codes() -> None:
    assert field_value("dense", "density") == "Dense"
    assert field_value("lavage", "kind") == "US-guided needling / lavage (barbotage)"
    assert field_value(["intrabursal_migration"], "features") == [
        "Migration into the bursa (crescent)"]
    assert field_value([12.0, 8.0], "size_mm") == [12.0, 8.0]
    assert audit_target("observation", {"date": "2024-03-02"}, None) == \
        "observation of 2024-03-02"
    assert audit_target("treatment", None, {"date": "2024-01-22", "kind": "lavage"}) == \
        "US-guided needling / lavage of 2024-01-22"
    assert audit_target("lesion", {"id": "L2"}, None) == "lesion L2"
    assert audit_action("observation.delete") == "Observation removed"
    assert audit_action("user.login_failed") == "user login failed"  # not listed: its words


def test_every_audited_action_of_a_patients_record_reads_as_words() -> None:
    """Each action the services audit on a patient's record (what the history pages show)
    has its wording, found in the source as the services write it."""
    tracker = Path(__file__).resolve().parents[2] / "tracker"
    source = "\n".join(p.read_text() for p in tracker.rglob("*.py"))
    written = set(re.findall(r'"((?:patient|lesion|observation|treatment|alert)\.[a-z_]+)"',
                             source))
    assert written and written <= set(AUDIT_ACTIONS), sorted(written - set(AUDIT_ACTIONS))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_mr_not_seen_is_a_marker_at_the_last_size(session: Session) -> None:
    made = make_lesion(session, observations=[
        obs("2024-01-10", 12), obs("2024-03-01", None, None, None, modality="MR",
                                   visible=False, texture=None, pattern=None),
        obs("2024-05-01", None, None, None, visible=False, texture=None, pattern=None)])
    lesion = lesion_with_everything(session, made.id)
    ax = _lesion_figure(lesion, date(2024, 6, 1)).axes[0]
    points = {round(float(x)): float(y) for c in ax.collections for x, y in c.get_offsets()}
    from matplotlib.dates import date2num

    assert points[round(date2num(date(2024, 3, 1)))] == 12.0  # MR: at the last size, not 0
    assert points[round(date2num(date(2024, 5, 1)))] == 0.0  # a radiograph that saw nothing
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "Not seen on MR (insensitive)" in labels and "Not seen" in labels
