"""Count the SQL statements an engine runs: how tests and benchmarks show that a query or a
scan is set-based (a fixed number of statements, not one per row)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event


@contextmanager
def statements(engine: Engine, parameters: list[Any] | None = None) -> Iterator[list[str]]:
    """The statements run on `engine` inside the block, in order; with `parameters`, each
    one's bound parameters are appended there too (the benchmarks EXPLAIN them)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, bound: Any, *_args: Any) -> None:
        seen.append(statement)
        if parameters is not None:
            parameters.append(bound)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)
