"""The prognosis refit: every family's model fitted on the stored assessments and stored as a
new version when it differs from the latest one (nightly by beat, `tracker cohort prognosis
fit`).

Per family, the records stream from one query (`tracker.prognosis.stored`), so memory holds
one family's records, not the rows. Idempotent: a refit on unchanged data gives the same fit
apart from its date, recognised by its digest, and stores nothing. Two refits at once: the
unique (family, version) index lets one store a version; the other finds it taken and reports
the stored one (no lost update, no error).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tracker.clock import now
from tracker.engine.model import ENGINE_VERSION, RULES_REVISION
from tracker.prognosis.fit import fit_family
from tracker.prognosis.model import Fit, fit_to_json
from tracker.prognosis.stored import Streamed, stored_records
from tracker.prognosis.table import PrognosisFit
from tracker.vocabulary import Family

log = logging.getLogger(__name__)


def digest(fit: Fit) -> str:
    """A hash of everything the fit says except when it was made: same data, same digest."""
    data = fit_to_json(fit)
    data.pop("fitted_at", None)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Refit:
    """What a refit did for one family: the version now current, and whether it is new."""

    family: str
    version: int
    stored: bool
    usable: bool
    n: int
    events: int
    left_out: int


def _latest(session: Session, family: str) -> PrognosisFit | None:
    return session.scalar(select(PrognosisFit).where(PrognosisFit.family == family)
                          .order_by(PrognosisFit.version.desc()).limit(1))


def store_fit(session: Session, fit: Fit) -> tuple[PrognosisFit, bool]:
    """The fit as the family's next version, committed; or the latest row when it says the
    same (nothing written)."""
    key = digest(fit)
    latest = _latest(session, fit.family)
    if latest is not None and latest.digest == key:
        return latest, False
    row = PrognosisFit(
        family=fit.family, version=(latest.version if latest else 0) + 1, model=fit.model,
        digest=key, fitted_at=datetime.fromisoformat(fit.fitted_at),
        engine_version=fit.engine_version, rules_revision=fit.rules_revision,
        usable=fit.usable, n=fit.n, events=fit.events, fit=fit_to_json(fit))
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        # another refit stored this version meanwhile: report what is stored now
        session.rollback()
        stored = _latest(session, fit.family)
        assert stored is not None
        return stored, False
    return row, True


def refit(session: Session, families: list[str] | None = None,
          fitted_at: datetime | None = None) -> list[Refit]:
    """Fit and store every family (or the given ones) from the current stored assessments."""
    when = fitted_at or now()
    out = []
    for family in families or [f.value for f in Family]:
        counts = Streamed()
        records = [record for _, record in stored_records(session, family, counts=counts)]
        fit = fit_family(family, records, fitted_at=when, engine_version=ENGINE_VERSION,
                         rules_revision=RULES_REVISION)
        del records
        row, stored = store_fit(session, fit)
        log.info("prognosis %s: version %d (%s), %d lesions, %d resolutions", family,
                 row.version, "new" if stored else "unchanged", fit.n, fit.events)
        out.append(Refit(family, row.version, stored, fit.usable, fit.n, fit.events,
                         counts.unassessed + counts.never_seen))
    return out
