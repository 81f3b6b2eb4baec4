"""§4 Alerts, as of a date: walk the observations, at each clear open alerts, then fire.

The rules, by family as §4 names them: `alerts/hadd.py` (hadd.*), `alerts/ho.py` (ho.*,
soft_tissue.unexplained_mass), `alerts/any_lesion.py` (any.*); `alerts/rule.py` what a rule is.
Only observations dated on or before `as_of` reach the walk (§0). Reading choices:
- Carried observations (H1, O1, G1) neither trigger nor clear any alert (§4), not even with new
  `bone_lysis` recorded on them: 9a.15 lets features on a *not-visible* observation count, but §4
  excludes carried ones explicitly, so only a non-MR not-seen finding can fire
  `any.rapid_progression` through new lysis.
- An alert already open keeps its `since`; a later observation meeting its trigger again
  refreshes its reason and severity (9a.1, 9a.28).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from tracker.engine.alerts.any_lesion import (
    ANY_LESION_ALERT_RULES,
    FOLLOW_UP_OVERDUE_RULE,
    follow_up_overdue,
)
from tracker.engine.alerts.hadd import HADD_ALERT_RULES
from tracker.engine.alerts.ho import HO_ALERT_RULES
from tracker.engine.alerts.rule import AlertRule, OpenAlert, treated_again
from tracker.engine.model import AlertCall
from tracker.engine.steps import Model, Staged
from tracker.vocabulary import SEVERITY_RANK

__all__ = ["ALERT_RULES", "RULE_IDS", "alert_order", "follow_up_overdue", "walk_alerts"]

ALERT_RULES: tuple[AlertRule, ...] = (*HADD_ALERT_RULES, *HO_ALERT_RULES, *ANY_LESION_ALERT_RULES)
# Every rule id an alert can carry (the worklist's rule filter accepts these and stored ones).
RULE_IDS = frozenset({r.rule for r in ALERT_RULES} | {FOLLOW_UP_OVERDUE_RULE})


def walk_alerts(staged: Sequence[Staged], model: Model, as_of: date) -> list[OpenAlert]:
    """§4: at each observation clear first, then fire; carried stages do neither."""
    rules = [r for r in ALERT_RULES if r.applies(model)]
    treatment_dates = [t.date for t in model.treatments]
    open_alerts: dict[str, OpenAlert] = {}
    for s in staged:
        if s.carried:  # H1/O1/G1: MR not seeing calcium is not news (§4)
            continue
        for r in rules:
            current = open_alerts.get(r.rule)
            if current is not None and r.clears(s, current):
                del open_alerts[r.rule]
        for r in rules:
            fired = r.trigger(s)
            if fired is None:
                continue
            current = open_alerts.get(r.rule)
            if current is not None:  # 9a.1, 9a.28: keep since, refresh reason and severity
                current.reason, current.severity = fired.reason, fired.severity
                current.treatment = fired.treatment or current.treatment
            else:
                open_alerts[r.rule] = OpenAlert(r, s, fired.reason, fired.severity, fired.treatment)
    return [a for a in open_alerts.values() if not treated_again(treatment_dates, a, as_of)]


def alert_order(a: AlertCall) -> tuple[int, date, str]:
    return SEVERITY_RANK[a.severity], a.since, a.rule
