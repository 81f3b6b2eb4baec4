"""Parallel requests on one observation or one lesion, through the API on the real database
(PostgreSQL row locks; SQLite's single writer): no lesion emptied, a deletion happens once,
no lost update, every audit "before" is the value its change replaced, never a 500.

Each test starts its requests together (a barrier) from real threads, as several clinicians or
scripts would; they run the whole request, session and transaction each.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from testkit.factories import make_lesion, make_patient, obs
from tracker.models import AuditEvent, Observation
from tracker.services.users import issue_token

T = TypeVar("T")
GOOD = {"date": "2024-01-10", "modality": "XR", "size_mm": [12.0], "density": "dense",
        "margin": "well_defined"}


def parallel(calls: list[Callable[[], T]]) -> list[T]:
    """Run every call in its own thread, all released at the same moment."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


@pytest.fixture
def request_as_radiologist(app: Any, session: Session) -> Callable[..., Callable[[], Any]]:
    """A deferred API request with a radiologist's token, each on its own client."""
    token = issue_token(session, "radiologist", "race", actor="admin")

    def deferred(method: str, url: str, *, body: bool = False, **kw: Any) -> Callable[[], Any]:
        """The status code; with `body`, (status, JSON body)."""
        headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}

        def send() -> Any:
            r = app.test_client().open(url, method=method, headers=headers, **kw)
            return (r.status_code, r.json) if body else r.status_code

        return send

    return deferred


def _lesions(session: Session, count: int, visits: int) -> list[list[int]]:
    """`count` lesions of `visits` observations each; their observation ids by lesion."""
    patient = make_patient(session)
    out = []
    for i in range(count):
        lesion = make_lesion(session, patient=patient, external_id=f"L{i}", observations=[
            obs(f"2024-{month + 1:02d}-10", 12 - month) for month in range(visits)])
        out.append(list(session.scalars(select(Observation.id)
                                   .where(Observation.lesion_id == lesion.id)
                                   .order_by(Observation.date))))
    return out


def _audit(session: Session, action: str, observation_id: int | None = None) -> list[AuditEvent]:
    session.expire_all()
    query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    if observation_id is not None:
        query = query.where(AuditEvent.target_id == observation_id)
    return list(session.scalars(query))


def test_parallel_deletes_never_empty_a_lesion(request_as_radiologist: Any,
                                                session: Session) -> None:
    """Issue 11 #1: two DELETEs of a lesion's last two observations at once: one is refused
    (409), the lesion keeps one observation, so the record still exports and imports."""
    lesions = _lesions(session, 6, 2)
    calls = [request_as_radiologist("DELETE", f"/api/v1/observations/{oid}",
                                    headers={"If-Match": '"1"'})
             for ids in lesions for oid in ids]
    statuses = parallel(calls)

    for i, _ids in enumerate(lesions):
        assert sorted(statuses[2 * i: 2 * i + 2]) == [204, 409], statuses
    session.expire_all()
    left = Counter(session.scalars(select(Observation.lesion_id)))
    assert sorted(left.values()) == [1] * 6
    assert len(_audit(session, "observation.delete")) == 6


def test_parallel_deletes_of_one_observation_happen_once(request_as_radiologist: Any,
                                                         session: Session) -> None:
    """Issue 11 #2: five DELETEs of one observation at once: one 204 and one audit event;
    the others find it gone (404)."""
    [[keep, doomed, *_]] = _lesions(session, 1, 3)
    statuses = parallel([request_as_radiologist("DELETE", f"/api/v1/observations/{doomed}",
                                                headers={"If-Match": "*"})
                         for _ in range(5)])
    assert sorted(statuses) == [204, 404, 404, 404, 404]
    assert len(_audit(session, "observation.delete", doomed)) == 1
    assert session.scalar(select(func.count()).select_from(Observation)) == 2
    assert keep is not None


def test_put_racing_a_delete_is_404_or_412_never_500(request_as_radiologist: Any,
                                                     session: Session) -> None:
    """Issue 11 #2: a correction and a removal of the same version at once: exactly one
    wins; the loser is told why (404 gone, or 412 changed), and nothing is half-written."""
    lesions = _lesions(session, 6, 2)
    calls = []
    for _keep, target in lesions:
        url = f"/api/v1/observations/{target}"
        calls.append(request_as_radiologist("PUT", url, json={**GOOD, "date": "2024-02-10",
                                                              "pain": 7},
                                            headers={"If-Match": '"1"'}))
        calls.append(request_as_radiologist("DELETE", url, headers={"If-Match": '"1"'}))
    statuses = parallel(calls)
    pairs = [tuple(statuses[i: i + 2]) for i in range(0, len(statuses), 2)]
    assert set(pairs) <= {(200, 412), (404, 204)}, pairs
    session.expire_all()
    for (_keep, target), (put, _delete) in zip(lesions, pairs, strict=True):
        row = session.get(Observation, target)
        assert (row is not None and row.pain == 7 and row.version == 2) if put == 200 \
            else row is None


def test_parallel_puts_of_one_version_keep_the_first_and_refuse_the_rest(
    request_as_radiologist: Any, session: Session
) -> None:
    """Issue 11 #3: twenty corrections all based on version 1: one is stored, nineteen get
    412 (none silently overwrites another), and one audit event says what it replaced."""
    [[target, *_]] = _lesions(session, 1, 2)
    url = f"/api/v1/observations/{target}"
    statuses = parallel([request_as_radiologist("PUT", url,
                                                json={**GOOD, "pain": n % 11, "note": f"v{n}"},
                                                headers={"If-Match": '"1"'})
                         for n in range(20)])
    assert sorted(statuses) == [200] + [412] * 19
    events = _audit(session, "observation.update", target)
    assert len(events) == 1
    assert events[0].before is not None and "note" not in events[0].before
    row = session.get(Observation, target)
    assert row is not None and row.version == 2 and row.note == events[0].after["note"]


def test_parallel_unconditional_puts_chain_their_audit(request_as_radiologist: Any,
                                                       session: Session) -> None:
    """Issue 11 #3: twenty corrections with `If-Match: *` (any version) all apply, one after
    the other under the row lock: each audit "before" is the previous "after", so the audit
    trail replays to the stored value with no step lost."""
    [[target, *_]] = _lesions(session, 1, 2)
    url = f"/api/v1/observations/{target}"
    statuses = parallel([request_as_radiologist("PUT", url, json={**GOOD, "note": f"v{n}"},
                                                headers={"If-Match": "*"})
                         for n in range(20)])
    assert statuses == [200] * 20
    events = _audit(session, "observation.update", target)
    assert len(events) == 20
    befores = [e.before for e in events]
    assert len({str(b) for b in befores}) == 20
    for earlier, later in pairwise(events):
        assert later.before == earlier.after
    row = session.get(Observation, target)
    assert row is not None and row.version == 21 and row.note == events[-1].after["note"]


def test_stale_edit_form_shows_the_current_values_and_saves_nothing(login: Any,
                                                                    session: Session) -> None:
    """Two radiologists open the same observation; the second to save gets 409 with what
    the first stored in the form (and their own entry beside it), never a silent overwrite."""
    [[target, *_]] = _lesions(session, 1, 2)
    first, second = login("radiologist"), login("admin")
    for client in (first, second):
        assert 'name="version" value="1"' in client.get(f"/observations/{target}/edit").text
    form = {"date": "2024-01-10", "modality": "XR", "visible": "yes",
            "size_mm": ["12", "", ""], "density": "dense", "margin": "well_defined",
            "version": "1", "reason": "size re-measured"}
    assert first.post(f"/observations/{target}/edit", {**form, "note": "first"}).status_code \
        == 302
    stale = second.post(f"/observations/{target}/edit", {**form, "note": "second"})
    assert stale.status_code == 409
    assert "the observation of 2024-01-10 (lesion " in stale.text  # named as README says
    assert "was changed by someone else since you read it" in stale.text
    assert f"observation {target} " not in stale.text
    assert 'name="version" value="2"' in stale.text
    assert ">first</textarea>" in stale.text  # the stored value, in the form
    assert "Your entry (not saved)" in stale.text and "second" in stale.text
    removal = second.post(f"/observations/{target}/delete",
                          {"version": "1", "reason": "entered twice"})
    assert removal.status_code == 409
    session.expire_all()
    row = session.get(Observation, target)
    assert row is not None and row.note == "first" and row.version == 2
    assert [e.actor for e in _audit(session, "observation.update", target)] == ["radiologist"]


def test_a_correction_racing_a_split_or_merge_answers_what_it_stored(
    request_as_radiologist: Any, session: Session, queued: list[list[int]]
) -> None:
    """A PUT of an observation that a split (or merge) moves to another lesion at the same
    moment: the PUT is stored and answered 200 with the observation as stored (it once answered
    500 after committing, and re-assessed the lesion the observation had left), and the lesion
    that holds it afterwards is queued for assessment."""
    lesions = _lesions(session, 12, 3)
    lesion_ids = [session.scalar(select(Observation.lesion_id).where(Observation.id == ids[0]))
                  for ids in lesions]
    keep_dates = {"2024-01-10": "kept", "2024-02-10": "kept", "2024-03-10": "merged"}
    targets: list[int] = []
    calls: list[Callable[[], Any]] = []
    for g in range(0, 12, 3):  # per group: lesion g split, lesion g+1 merged into g+2
        for i, move in ((g, request_as_radiologist(
                "POST", f"/api/v1/lesions/{lesion_ids[g]}/split",
                json={"observations": [lesions[g][2]], "new_lesion": f"N{g}", "reason": "two"})),
                        (g + 1, request_as_radiologist(
                "POST", f"/api/v1/lesions/{lesion_ids[g + 2]}/merge",
                json={"other": lesion_ids[g + 1], "prefer": keep_dates, "reason": "one"}))):
            targets.append(lesions[i][2])
            calls.append(request_as_radiologist(
                "PUT", f"/api/v1/observations/{lesions[i][2]}", body=True,
                json={**GOOD, "date": "2024-03-10", "note": f"corrected {i}"},
                headers={"If-Match": "*"}))
            calls.append(move)
    answers = parallel(calls)
    session.expire_all()
    for n, target in enumerate(targets):
        (status, body), moved = answers[2 * n], answers[2 * n + 1]
        assert moved in (200, 201), answers
        assert status == 200, (status, body)
        row = session.get(Observation, target)
        assert row is not None and body["id"] == target and body["note"] == row.note
        assert row.lesion_id not in lesion_ids[n // 2 * 3: n // 2 * 3 + 2]  # it moved
        assert [row.lesion_id] in queued or any(row.lesion_id in q and len(q) == 2
                                               for q in queued), (row.lesion_id, queued)
    assert sum(1 for q in queued if len(q) == 1) >= len(targets)  # every PUT queued one
