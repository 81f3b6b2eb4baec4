"""The kinds of problem an SR measurement report can have: the one place that says which ones a
person can resolve (the report is held in the inbox) and which make it invalid (refused).

Standard library only (no highdicom): the import services, the inbox and the pages read these
kinds without loading the SR reader.

- `compartment`: a new lesion outside the spine; an SR has no compartment. Resolved by giving
  one, or by naming the stored lesion it is.
- `lesion`: the report's tracking identifier matches no stored lesion, while the patient has
  lesions at that site: is it one of them, or a new one? Resolved by naming the lesion, or by
  accepting it as new.
- `site`: the finding site is not one calcitrack follows (or lacks the laterality it needs).
  Resolved by naming the stored lesion it is.
- `invalid`: everything else (unreadable, no length, bad unit or date, ...): refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from tracker.errors import Problem


class ProblemKind(StrEnum):
    INVALID = "invalid"
    COMPARTMENT = "compartment"
    LESION = "lesion"
    SITE = "site"


NEEDS_INPUT = frozenset({ProblemKind.COMPARTMENT, ProblemKind.LESION, ProblemKind.SITE})
# What resolves each kind, as the inbox says it.
RESOLVED_BY = {
    ProblemKind.COMPARTMENT: "give the compartment, or choose the stored lesion it is",
    ProblemKind.LESION: "choose the stored lesion it is, or accept it as a new lesion",
    ProblemKind.SITE: "choose the stored lesion it is",
}


@dataclass(frozen=True)
class SrProblem(Problem):
    """A problem of a report, with its kind and the report's lesion it is about (its Tracking
    Unique Identifier, else its Tracking Identifier; empty when none)."""

    kind: ProblemKind = ProblemKind.INVALID
    subject: str = ""

    def as_json(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message, "kind": self.kind.value,
                "subject": self.subject}


def kind_of(problem: Problem) -> ProblemKind:
    return problem.kind if isinstance(problem, SrProblem) else ProblemKind.INVALID


def needs_input(problems: Iterable[Problem]) -> bool:
    """Whether a person can resolve every one of these problems (and there is at least one):
    the report is then held, not refused."""
    kinds = [kind_of(p) for p in problems]
    return bool(kinds) and all(k in NEEDS_INPUT for k in kinds)


def problem_from_json(item: dict[str, str]) -> SrProblem:
    return SrProblem(item.get("path", ""), item.get("message", ""),
                     ProblemKind(item.get("kind", ProblemKind.INVALID.value)),
                     item.get("subject", ""))


def problems_json(problems: Iterable[Problem]) -> list[dict[str, str]]:
    """Problems as a report's record keeps them (a plain problem is `invalid`)."""
    return [p.as_json() if isinstance(p, SrProblem) else
            SrProblem(p.path, p.message).as_json() for p in problems]
