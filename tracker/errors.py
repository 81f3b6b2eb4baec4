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
    def __init__(self, problems: list[Problem], total: int | None = None) -> None:
        """`total`: how many problems the input had, when the caller kept only some (a
        streamed file counts every problem but keeps the first ones)."""
        self.total = max(len(problems), total or 0)
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


class StaleVersion(Conflict):
    """The record changed since the client read it: its edit would overwrite what it never saw.

    Carries the current version so the edge can show the current value with it (HTTP 412 on the
    API, 409 with the current values on the web form)."""

    def __init__(self, message: str, current_version: int) -> None:
        self.current_version = current_version
        super().__init__(message)


class ServiceUnavailable(CalcitrackError):
    """A server the product needs (the database) cannot be reached or opened: nothing was
    done; trying again once it is back is safe. The CLI exits 3, the web answers 503."""


def assessment_deferred(count: int) -> str:
    """The one wording for changes stored while the task queue is down (not an error: the
    outbox mark has them assessed once the queue is back), for the CLI and the web pages."""
    return (f"assessment of {count} changed lesion(s) is deferred: the task queue is unreachable;"
            " it runs when the queue is back")
