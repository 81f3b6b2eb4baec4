"""What every §4 alert rule is made of, and what the walk keeps while it runs.

A rule fires (`Trigger`) at an observation with a reason and severity, and an open alert clears
(`Clears`) at a later one. Pure: the engine's own types only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from tracker.engine.model import AlertCall
from tracker.engine.steps import Model, Staged
from tracker.vocabulary import AlertKind, Family, Severity


@dataclass(frozen=True, slots=True)
class Fired:
    """A trigger that holds at `o`: its reason and severity (and `t` for a treatment rule)."""

    reason: str
    severity: Severity
    treatment: date | None = None


@dataclass
class OpenAlert:
    """An alert open during the walk; `since` is the observation that first fired it."""

    rule: AlertRule
    since: Staged
    reason: str
    severity: Severity
    treatment: date | None = None

    def call(self) -> AlertCall:
        return AlertCall(
            self.rule.kind, self.severity, self.since.date, self.reason, self.rule.rule
        )


Trigger = Callable[[Staged], Fired | None]
Clears = Callable[[Staged, OpenAlert], bool]


@dataclass(frozen=True, slots=True)
class AlertRule:
    """One row of §4's table: rule id, kind, which lesions it applies to, trigger, clearing."""

    rule: str
    kind: AlertKind
    applies: Callable[[Model], bool]
    trigger: Trigger
    clears: Clears


def of_family(family: Family) -> Callable[[Model], bool]:
    """A family rule: it applies when the assessment uses that family (§4)."""
    return lambda model: model.family is family


def treated_again(treatments_after: Sequence[date], open_alert: OpenAlert, until: date) -> bool:
    """An alert tied to treatment `t` is closed by any treatment dated after it, up to `until`."""
    t = open_alert.treatment
    return t is not None and any(t < d <= until for d in treatments_after)
