"""The Dagster UI in a real browser: headless Chromium (Debian's) driven by Playwright's Python API,
on an instance with one completed run, served by ``dg dev``. Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest

from prompt_sync_tests.dagster_helpers import ASSETS, run_job
from prompt_sync_tests.forseti import make_forseti
from prompt_sync_tests.services import chromium
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


def test_the_ui_shows_the_lineage_the_checks_and_the_counters(
    opik_target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    chromium()  # skip (or fail in CI) before any work when it is missing
    forseti = make_forseti(tmp_path, opik_target.project_name)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("PROMPT_SYNC_CONFIG", str(forseti.config_path))
    with dg.DagsterInstance.get() as instance:
        assert run_job(instance).success
    ARTIFACTS.mkdir(exist_ok=True)

    with (
        # `dg dev`, as the README says to open the UI: the webserver and a daemon.
        running_webserver(dict(os.environ), tmp_path / "dg-dev.log", dg_dev=True) as url,
        chromium_page() as page,
    ):
        _open(page, f"{url}/locations/prompt_sync_pipeline/asset-groups/forseti")
        for asset in ASSETS:
            page.get_by_text(asset, exact=True).first.wait_for()
        # Both checked assets show their sync check passed, on the lineage graph itself;
        # pushed_composites' second check, production_not_behind, runs in its own job.
        page.get_by_text("1 / 1 Passed").first.wait_for()
        page.get_by_text("1 / 2 Passed").first.wait_for()
        page.screenshot(path=str(ARTIFACTS / "ui-lineage.png"), full_page=True)

        _open(page, f"{url}/assets/forseti/pushed_composites")
        metadata = page.get_by_text("composite_synced", exact=True).first
        metadata.wait_for()
        row = page.locator("tr", has=page.get_by_text("composite_synced", exact=True))
        assert row.first.inner_text().split()[-1] == "3"
        page.screenshot(path=str(ARTIFACTS / "ui-pushed-composites.png"), full_page=True)

        _open(page, f"{url}/assets/forseti/local_individual_prompts?view=checks")
        page.get_by_text("persona_drift", exact=True).first.wait_for()
        page.get_by_text("Passed", exact=True).first.wait_for()
        page.get_by_text("drifting_composites", exact=True).first.wait_for()
        page.screenshot(path=str(ARTIFACTS / "ui-persona-drift.png"), full_page=True)
