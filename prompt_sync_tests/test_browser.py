"""The Dagster UI in a real browser: headless Chromium (Debian's) driven by Playwright's Python API,
on a team's project with two charters, each synced once, served by ``dg dev``. Screenshots go to
``test-artifacts/``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from prompt_sync_tests.dagster_helpers import ASSETS
from prompt_sync_tests.services import chromium
from prompt_sync_tests.team_project import PACKAGE, TwoCharters
from prompt_sync_tests.webserver import REPO, running_webserver

pytestmark = pytest.mark.slow

ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 60_000
INSTANCES = ("forseti", "support_bot")


@contextmanager
def chromium_page() -> Iterator:
    """A page in Debian's headless Chromium (never a browser Playwright downloads)."""
    executable = chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def _open(page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    # Dagster's "Join the Dagster community" dialog on a new instance.
    skip = page.get_by_role("button", name="Skip")
    if skip.count():
        skip.click()


def test_the_ui_shows_each_charter_as_its_group_with_its_checks_and_counters(
    team_project: TwoCharters, tmp_path: Path
):
    chromium()  # skip (or fail in CI) before any work when it is missing
    project = team_project.project
    for name in INSTANCES:
        project.dg("launch", "--job", f"{name}_prompt_sync_job")
    ARTIFACTS.mkdir(exist_ok=True)

    with (
        # `dg dev` in the team's project, as the README says to open the UI.
        running_webserver(
            project.env, tmp_path / "dg-dev.log", dg_dev=True, project=project.root
        ) as url,
        chromium_page() as page,
    ):
        for name in INSTANCES:
            _open(page, f"{url}/locations/{PACKAGE}/asset-groups/{name}")
            for asset in ASSETS:
                page.get_by_text(asset, exact=True).first.wait_for()
            # Both checked assets show their sync check passed, on the lineage graph itself;
            # pushed_composites' second check, production_not_behind, runs in its own job.
            page.get_by_text("1 / 1 Passed").first.wait_for()
            page.get_by_text("1 / 2 Passed").first.wait_for()
            page.screenshot(path=str(ARTIFACTS / f"ui-lineage-{name}.png"), full_page=True)

        _open(page, f"{url}/assets/forseti/pushed_composites")
        metadata = page.get_by_text("composite_synced", exact=True).first
        metadata.wait_for()
        row = page.locator("tr", has=page.get_by_text("composite_synced", exact=True))
        assert row.first.inner_text().split()[-1] == "3"
        page.screenshot(path=str(ARTIFACTS / "ui-pushed-composites.png"), full_page=True)

        _open(page, f"{url}/assets/support_bot/local_individual_prompts?view=checks")
        page.get_by_text("persona_drift", exact=True).first.wait_for()
        page.get_by_text("Passed", exact=True).first.wait_for()
        page.get_by_text("drifting_composites", exact=True).first.wait_for()
        page.screenshot(path=str(ARTIFACTS / "ui-persona-drift.png"), full_page=True)
