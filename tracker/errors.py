"""The one error hierarchy. Edges map it: the CLI to exit codes, the web layer to HTTP statuses."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, and where: a JSON path, a form field or a CLI argument."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class CalcitrackError(Exception):
    """Base of every error the product reports to a person."""


# An input with thousands of mistakes must not produce an answer larger than itself: every
# edge (API, pages, CLI) lists this many problems, in the order given, and says how many in all.
MAX_REPORTED_PROBLEMS = 100


class InvalidInput(CalcitrackError):
    def __init__(self, problems: list[Problem]) -> None:
        self.total = len(problems)
        self.problems = problems[:MAX_REPORTED_PROBLEMS]
        super().__init__("; ".join(str(p) for p in self.problems))

    @property
    def omitted_note(self) -> str | None:
        """What to say after the listed problems when some were left out."""
        if self.total <= len(self.problems):
            return None
        return (f"{self.total} problems in all; only the first {len(self.problems)} "
                "are listed")


class NotFound(CalcitrackError):
    pass


class Conflict(CalcitrackError):
    pass


class Forbidden(CalcitrackError):
    pass
