"""`tracker cohort prognosis`: the current time-to-resolution model of each family, and
`tracker cohort prognosis fit` to refit and store it now (beat does it nightly)."""

from __future__ import annotations

from typing import Any

import click

from tracker.cli.edge import emit, reports_errors, session
from tracker.cli.suggest import SuggestingGroup
from tracker.queries.prognosis import fits_of_family, model_summary
from tracker.services.prognosis import refit
from tracker.vocabulary import Family

FAMILY = click.option("--family", type=click.Choice([f.value for f in Family]),
                      help="Only this entity family's model.")


def _interval(low: float, high: float) -> str:
    return f"{low:.2f}-{high:.2f}"


def model_text(m: dict[str, Any]) -> list[str]:
    """A model summary as lines a clinician reads (the same numbers as --json)."""
    if m["version"] is None:
        return [f"{m['family']}: {m['refusal']['text']}"]
    lines = [f"{m['family']}: version {m['version']} ({m['model']}), fitted {m['fitted_at']}, "
             f"engine {m['engine_version']} rules revision {m['rules_revision']}",
             f"  {m['n']} lesions followed, {m['events']} resolutions "
             f"({m['unconfirmed_events']} unconfirmed)"]
    if m["c_index"] is not None:
        ci = f" (95 % CI {_interval(*m['c_index_ci'])})" if m["c_index_ci"] else ""
        lines.append(f"  C-index (5-fold cross-validated) {m['c_index']:.2f}{ci}")
    lines.append("  used for predictions" if m["usable"] else f"  not used: {m['refusal']['text']}")
    if m["effects"]:
        width = max(len(e["label"]) for e in m["effects"])
        lines.append(f"  {'covariate':<{width}}  time ratio  95 % CI      lesions  resolutions")
        for e in m["effects"]:
            lines.append(f"  {e['label']:<{width}}  {e['time_ratio']:>10.2f}  "
                         f"{_interval(e['ci_lower'], e['ci_upper']):<11}  {e['n']:>7}  "
                         f"{e['events']:>11}")
        lines.append("  (time ratio < 1: resolves faster; > 1: slower)")
    for d in m["dropped"]:
        lines.append(f"  not in the model: {d['covariate']} ({d['reason']})")
    return lines


@click.group("prognosis", cls=SuggestingGroup, invoke_without_command=True)
@FAMILY
@click.option("--json", "as_json", is_flag=True, help="The calcitrack-prognosis/1 document.")
@click.pass_context
@reports_errors
def prognosis_group(ctx: click.Context, family: str | None, as_json: bool) -> None:
    """The current time-to-resolution model: covariates, effects with 95 % CI, support,
    C-index, when fitted."""
    if ctx.invoked_subcommand is not None:
        return
    with session() as s:
        models = [model_summary(f, stored) for f, stored in fits_of_family(s, family)]
    if as_json:
        emit({"format": "calcitrack-prognosis/1", "models": models})
        return
    click.echo("\n\n".join("\n".join(model_text(m)) for m in models))


@prognosis_group.command("fit")
@FAMILY
@reports_errors
def prognosis_fit_cmd(family: str | None) -> None:
    """Refit from the stored assessments; a fit that differs from the latest is stored as the
    next version (unchanged data stores nothing)."""
    with session() as s:
        results = refit(s, [family] if family else None)
    for r in results:
        what = "stored" if r.stored else "unchanged"
        use = "used" if r.usable else "not used (not enough follow-up data)"
        click.echo(f"{r.family}: version {r.version} {what}; {r.n} lesions followed, "
                   f"{r.events} resolutions; {use}; {r.left_out} lesions left out "
                   "(not assessed or never seen)")
