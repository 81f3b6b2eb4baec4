"""The "Open images" link of an observation: VIEWER_URL_TEMPLATE with its study filled in.

Standard library only. Placeholders: `{study_uid}` (required) and `{accession}`. Without a
template, or for an observation without a study, there is no link.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from tracker.errors import InvalidInput, Problem

PLACEHOLDERS = ("{study_uid}", "{accession}")


def check_template(template: str) -> None:
    """A template is an http(s) URL that places the study; anything else is a setup error."""
    parts = urlsplit(template)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput([Problem("VIEWER_URL_TEMPLATE", "must be an http(s) URL")])
    if "{study_uid}" not in template:
        raise InvalidInput([Problem("VIEWER_URL_TEMPLATE", "must contain {study_uid}")])


def images_url(template: str | None, study_uid: str | None,
               accession: str | None = None) -> str | None:
    """The viewer URL for an observation's study, or None."""
    if not template or not study_uid:
        return None
    if "{accession}" in template and not accession:
        return None
    url = template.replace("{study_uid}", quote(study_uid, safe=""))
    return url.replace("{accession}", quote(accession or "", safe=""))
