"""`tracker cohort`: cohort outcomes from the stored assessments (Kaplan–Meier, waterfall)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import click

from tracker import cohort
from tracker.cli.edge import (
    fail,
    reports_errors,
    session,
    write_output,
)
from tracker.cli.prognosis import prognosis_group
from tracker.cli.suggest import SuggestingGroup
from tracker.cohort_figures import figure_bytes, km_figure, waterfall_figure
from tracker.errors import Problem
from tracker.vocabulary import Compartment, Entity, Region

P = ParamSpec("P")
R = TypeVar("R")


def _cohort_options(fn: Callable[P, R]) -> Callable[P, R]:
    for name, codes in (("compartment", Compartment), ("region", Region), ("entity", Entity)):
        fn = click.option(f"--{name}", type=click.Choice([c.value for c in codes]),
                          help=f"Only lesions of this {name}.")(fn)
    return fn


def _figure_format(output: str, allowed: tuple[str, ...]) -> str:
    fmt = Path(output).suffix.lstrip(".").lower()
    if fmt not in allowed:
        fail([Problem("--output", f"{output!r}: the file name must end in "
                      + " or ".join(f".{a}" for a in allowed))])
    return fmt


@click.group("cohort", cls=SuggestingGroup)
def cohort_group() -> None:
    """Cohort outcomes from the stored assessments."""


@cohort_group.command("km")
@click.option("--by", type=click.Choice(cohort.BY_CHOICES), default=cohort.DEFAULT_BY,
              show_default=True, help="One curve per group; `none` pools every lesion.")
@_cohort_options
@click.option("-o", "--output", help="FILE.csv (the curve table), .png or .svg; default: CSV "
              "on stdout.")
@reports_errors
def cohort_km_cmd(by: str, entity: str | None, region: str | None,
                  compartment: str | None, output: str | None) -> None:
    """Time to resolution (Kaplan–Meier): first visible observation to first `resolved`."""
    fmt = "csv" if output in (None, "-") else _figure_format(str(output), ("csv", "png", "svg"))
    with session() as s:
        items, skipped = cohort.tallies(s, cohort.CohortFilter(entity, region, compartment))
    if not items:
        fail([Problem("cohort", f"no assessed lesion matches ({skipped} not assessed yet or "
                      "never seen)")], 1)
    curves = cohort.kaplan_meier(items, by)
    if fmt == "csv":
        write_output(cohort.curves_csv(curves), output)
    else:
        write_output(figure_bytes(km_figure(items, by), fmt), output)
    for curve in curves:
        median = (f"median {curve.median_text} days (95 % CI {curve.ci_text})" if curve.estimable
                  else curve.median_text)
        click.echo(f"{curve.group}: {curve.n} lesions, {curve.events} resolved, {median}",
                   err=True)


@cohort_group.command("waterfall")
@_cohort_options
@click.option("-o", "--output", required=True, help="FILE.png or FILE.svg")
@reports_errors
def cohort_waterfall_cmd(entity: str | None, region: str | None, compartment: str | None,
                         output: str) -> None:
    """Best % change from baseline per lesion, coloured by entity."""
    fmt = _figure_format(output, ("png", "svg"))
    with session() as s:
        bins = cohort.response_bins(s, cohort.CohortFilter(entity, region, compartment))
    write_output(figure_bytes(waterfall_figure(bins), fmt), output)


cohort_group.add_command(prognosis_group)


def register(main: click.Group) -> None:
    main.add_command(cohort_group)
