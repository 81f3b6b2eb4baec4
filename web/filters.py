"""Jinja filters: how codes, dates and sizes read on a page (templates format, never compute)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from flask import Flask, current_app

from reporting.words import (
    alert_reason,
    audit_action,
    audit_target,
    code_label,
    evidence,
    field_value,
    morphology_label,
    stage_label,
)
from tracker.interop.viewer import check_template, images_url
from tracker.services.alerts import snooze_presets
from web.clock import today


def visit_value(value: object) -> str:
    """A field of a visit (or an audited record) as the pages show it: labels, joined lists,
    yes/no; an observation as `date modality size`, a lesion as its id and site."""
    if value is None or value == []:
        return "—"
    if isinstance(value, dict):
        if "date" in value and "modality" in value:
            size = value.get("size_mm")
            seen = f"{sizes(size)} mm" if size else ("not seen" if value.get("visible") is False
                                                     else "")
            return " ".join(str(v) for v in (value["date"], value["modality"], seen) if v)
        if "site" in value and "id" in value:
            site = value["site"]
            return f"{value['id']} ({site.get('laterality', '')} {site.get('region', '')})"
        return ", ".join(f"{k.replace('_', ' ')}: {visit_value(v)}" for k, v in value.items())
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return "; ".join(visit_value(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        if all(isinstance(v, int | float) for v in value):
            return sizes(value) + " mm"
        return ", ".join(evidence(str(v)) for v in value)
    return evidence(str(value))


def sizes(values: Sequence[float]) -> str:
    return " × ".join(f"{v:g}" for v in values) if values else "—"


def day(value: date | datetime | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def ago(value: date | None) -> str:
    """'today', '3 days ago', '5 months ago', 'in 12 days'."""
    if value is None:
        return ""
    days = (today() - value).days
    if days == 0:
        return "today"
    if days < 0:
        return f"in {-days} day{'s' if days != -1 else ''}"
    if days < 60:
        return f"{days} day{'s' if days != 1 else ''} ago"
    months = round(days / 30.44)
    if months < 24:
        return f"{months} months ago"
    return f"{days / 365.25:.1f} years ago"


def is_past(value: date | None) -> bool:
    return value is not None and value < today()


def percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.0f}%"


def open_images(observation: Any) -> str | None:
    """The observation's (row or JSON) "Open images" URL when VIEWER_URL_TEMPLATE is set."""
    def field(name: str) -> Any:
        if isinstance(observation, dict):
            return observation.get(name)
        return getattr(observation, name, None)

    return images_url(current_app.config.get("VIEWER_URL_TEMPLATE"), field("study_uid"),
                      field("accession"))


def signed_pct(value: float | None) -> str:
    """A percentage change as the engine rounded it, with its sign: '+12.5%', '-40.0%', '0.0%'."""
    if value is None:
        return ""
    return f"{value:+.1f}%" if value != 0 else "0.0%"


def months_of_days(days: float) -> str:
    """Days as months with one decimal (the prognosis' times), by the model's month length."""
    from tracker.prognosis.predict import months_in_days

    return f"{days / months_in_days(1):.1f}"


def init_app(app: Flask) -> None:
    if app.config.get("VIEWER_URL_TEMPLATE"):
        check_template(app.config["VIEWER_URL_TEMPLATE"])
    app.add_template_filter(open_images, "images_url")
    app.add_template_filter(code_label, "label")
    app.add_template_filter(stage_label, "stage_label")
    app.add_template_global(morphology_label, "morphology_label")
    app.add_template_filter(field_value, "field_value")
    app.add_template_filter(audit_target, "audit_target")
    app.add_template_filter(audit_action, "audit_action")
    app.add_template_filter(alert_reason, "alert_reason")
    app.add_template_filter(sizes, "sizes")
    app.add_template_filter(evidence, "evidence")
    app.add_template_filter(visit_value, "visit_value")
    app.add_template_filter(day, "day")
    app.add_template_filter(snooze_presets, "snooze_presets")
    app.add_template_filter(ago, "ago")
    app.add_template_filter(percent, "percent")
    app.add_template_filter(signed_pct, "signed_pct")
    app.add_template_filter(months_of_days, "months")
    app.add_template_test(is_past, "past")
