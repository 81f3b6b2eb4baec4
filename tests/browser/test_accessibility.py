"""Every page of the app, at desktop (1366 px) and phone (390 px) width, has no serious or
critical axe-core violation (WCAG 2.1 A/AA rules and axe's best practices).

The pages are enumerated from the app's URL map, so a page added later is checked too: every
GET route that answers HTML, its URL parameters filled from the seeded data. A route this test
cannot fill, or one that is not a page, is named in EXEMPT with the reason; any other fails the
test until it is added. axe-core is the npm package `.ci/browser` installs (pinned, into the
git-ignored .ci/node_modules), injected into each page."""

from __future__ import annotations

import asyncio
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.browser.conftest import ARGS, ARTIFACTS, CHROMIUM, IN_CI
from tests.web.seed import PASSWORD, seed_held_report, seed_ho_lesion
from tracker.db import session_factory
from tracker.models import Observation, Treatment
from web import create_app

pytestmark = pytest.mark.browser
AXE = Path(__file__).resolve().parents[2] / ".ci" / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = (1366, 390)

# Rules that are not pages (or not ours to fix), with the reason.
EXEMPT = {
    "/api/v1/docs": "Swagger UI's page (its own markup, from the swagger-ui-bundle package)",
    "/login": "checked signed out, below (signed in, it redirects)",
    "/logout": "signs out",
    "/import/csv/rejects": "a CSV download, not a page",
}
NOT_PAGES = re.compile(r"^/(api/|static/|docs/)|\.(?:<fmt>|csv|json|css|pdf|png)$|<fmt>")


def _seed_more(url: str, lesion_id: int) -> dict[str, Any]:
    """A treatment, and an HO lesion (its table has the most columns) to fill the URLs."""
    with session_factory(url)() as s:
        s.add(Treatment(lesion_id=lesion_id, date=date(2024, 2, 1), kind="lavage"))
        s.commit()
        ho = seed_ho_lesion(s)
        return {
            "lesion_id": lesion_id, "external_id": "P-0001", "username": "clinician",
            "observation_id": s.scalar(select(Observation.id)
                                       .where(Observation.lesion_id == lesion_id)),
            "treatment_id": s.scalar(select(Treatment.id)), "ho_lesion": ho,
            "report_id": seed_held_report(s),
        }


def pages(url: str, values: dict[str, Any]) -> dict[str, str]:
    """Every GET route of the app that may render a page, with its URL filled in."""
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "a11y", "TESTING": True})
    out: dict[str, str] = {}
    unfilled = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.rule in EXEMPT or NOT_PAGES.search(rule.rule):
            continue
        missing = [a for a in rule.arguments if a not in values]
        if missing:
            unfilled.append(f"{rule.rule} ({', '.join(missing)})")
            continue
        filled = rule.rule
        for arg in rule.arguments:
            filled = re.sub(rf"<(?:\w+:)?{arg}>", str(values[arg]), filled)
        out[rule.endpoint] = filled
    assert not unfilled, f"pages this test cannot fill (add values or an exemption): {unfilled}"
    return out


AXE_RUN = """async () => {
    const r = await axe.run(document, {resultTypes: ['violations']});
    return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
      .map(v => ({id: v.id, impact: v.impact, help: v.help,
                  nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
}"""


async def _check_width(browser: Any, base: str, width: int, urls: dict[str, str],
                       found: dict[str, list[Any]], took: dict[str, float]) -> None:
    """One context at this width: the sign-in page, then every page signed in as an admin."""
    # bypass_csp: axe is injected inline, which the app's CSP rightly forbids
    context = await browser.new_context(viewport={"width": width, "height": 900},
                                        bypass_csp=True)
    await context.add_init_script(path=str(AXE))
    # charts are images (their alt text is in the page): not drawn, to keep this fast
    await context.route(re.compile(r".*/(chart|timeline|km|waterfall)\.(svg|png)(\?.*)?$"),
                        lambda route: route.abort())
    page = await context.new_page()
    page.set_default_timeout(15_000)
    await page.goto(f"{base}/login")
    found[f"{width} login"] = await page.evaluate(AXE_RUN)
    await page.fill("#username", "admin")
    await page.fill("#password", PASSWORD)
    await page.click("button:has-text('Sign in')")
    await page.wait_for_url(f"{base}/alerts")
    shots = os.environ.get("SCREENSHOTS") == "1"
    for name, path in urls.items():
        started = time.monotonic()
        response = await page.goto(base + path, wait_until="domcontentloaded")
        assert response is not None and response.status == 200, (path, response)
        if "text/html" not in response.headers.get("content-type", "") \
                or response.url != base + path:  # "/" is the worklist again
            continue
        found[f"{width} {name} {path}"] = await page.evaluate(AXE_RUN)
        took[f"{width} {name}"] = round(time.monotonic() - started, 2)
        if shots:
            ARTIFACTS.mkdir(exist_ok=True)
            slug = re.sub(r"[^a-z0-9]+", "-", f"{name}-{width}".lower())
            await page.screenshot(path=str(ARTIFACTS / f"a11y-{slug}.png"), full_page=True)
    await context.close()


# One test per width: the two can run in two test processes at once.
@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_has_no_serious_axe_violation(server: dict[str, Any], width: int) -> None:
    if not Path(CHROMIUM).exists() or not AXE.exists():
        missing = CHROMIUM if not Path(CHROMIUM).exists() else AXE
        if IN_CI:
            pytest.fail(f"{missing} is missing (CI=true: the accessibility test must run)")
        pytest.skip(f"{missing} is missing (make browser installs it)")
    values = _seed_more(server["url"], server["lesions"][0])
    urls = pages(server["url"], values)
    urls["lesions.show (HO)"] = f"/lesions/{values['ho_lesion']}"
    assert {"alerts.worklist", "patients.index", "lesions.show", "lesions.split",
            "lesions.correct_site", "admin.index", "cohort.index"} <= set(urls), urls
    from playwright.async_api import async_playwright

    found: dict[str, list[Any]] = {}
    took: dict[str, float] = {}  # seconds per page, for whoever debugs a slow run

    async def run() -> None:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            await _check_width(browser, server["base"], width, urls, found, took)
            await browser.close()

    # in a thread of its own: this process's shared Chromium (conftest) keeps a sync
    # Playwright loop on the main thread
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()
    bad = {where: v for where, v in found.items() if v}
    assert not bad, bad
