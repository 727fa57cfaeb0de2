"""The client's request pacing (pure logic, a fake clock) and what Opik's prompt listing shows,
which the incremental sync relies on (real SDK over HTTP)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from urllib.parse import parse_qs

import pytest

from prompt_sync_pipeline.opik.project import OpikProject
from prompt_sync_pipeline.opik.transport import RequestPacer
from prompt_sync_pipeline.sync.config import OpikSettings


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)


def test_the_pacer_lets_a_second_of_requests_through_then_spaces_the_rest():
    clock = FakeClock()
    pacer = RequestPacer(120, clock=clock, sleep=clock.sleep)  # 2 a second, burst of 2

    for _ in range(5):
        pacer.wait()

    assert clock.sleeps == pytest.approx([0.5, 1.0, 1.5])
    clock.now = 60.0  # a quiet minute refills the bucket, up to one second's worth
    clock.sleeps.clear()
    for _ in range(3):
        pacer.wait()
    assert clock.sleeps == pytest.approx([0.5])


def test_all_workers_share_one_budget():
    clock = FakeClock()
    pacer = RequestPacer(60, clock=clock, sleep=clock.sleep)  # 1 a second
    workers = [threading.Thread(target=lambda: [pacer.wait() for _ in range(5)]) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    # 20 requests at one a second, one let through at once: each queued behind the others.
    assert sorted(clock.sleeps) == pytest.approx([float(n) for n in range(1, 20)])


def test_no_limit_never_waits():
    clock = FakeClock()
    pacer = RequestPacer(None, clock=clock, sleep=clock.sleep)
    for _ in range(1000):
        pacer.wait()
    assert clock.sleeps == []


def test_the_default_is_opik_clouds_published_limit():
    assert OpikSettings(project_name="p").max_requests_per_minute == 2000
    assert (
        OpikSettings(project_name="p", max_requests_per_minute=None).max_requests_per_minute is None
    )


def test_the_listing_counts_new_versions_but_not_tags(opik_target, opik_client):
    settings = OpikSettings(project_name=opik_target.project_name)
    opik_client.create_prompt(name="p", prompt="one", project_name=opik_target.project_name)
    with OpikProject.connect(settings) as project:
        first = project.prompts.list_prompts()["p"]
        version = project.prompts.get_version("p")
        project.prompts.add_tag(version.id, "a-tag")
        tagged = project.prompts.list_prompts()["p"]
        opik_client.create_prompt(name="p", prompt="two", project_name=opik_target.project_name)
        second = project.prompts.list_prompts()["p"]

    assert first.version_count == tagged.version_count == 1
    assert second.version_count == 2 and second.id == first.id
    assert second.last_updated_at > first.last_updated_at


def test_the_listing_pages_newest_first_with_the_full_total(opik_target, opik_client):
    for n in range(5):
        opik_client.create_prompt(name=f"p{n}", prompt="x", project_name=opik_target.project_name)
    rest = opik_target.rest_client()
    project = rest.projects.retrieve_project(name=opik_target.project_name)

    pages = [rest.prompts.get_prompts(page=p, size=2, project_id=project.id) for p in (1, 2, 3)]

    assert [page.total for page in pages] == [5, 5, 5]
    assert [page.size for page in pages] == [2, 2, 1]
    assert [row.name for page in pages for row in page.content] == [
        f"p{n}" for n in range(4, -1, -1)
    ]


def _prompts(opik_client, project_name: str, count: int = 5) -> None:
    for n in range(count):
        opik_client.create_prompt(name=f"p{n}", prompt="x", project_name=project_name)


@contextmanager
def _listing_in_background(project: OpikProject) -> Iterator[dict]:
    """``project.prompts.list_prompts()`` on a thread while the block runs; its result under "listed"."""
    result: dict = {}
    listing = threading.Thread(target=lambda: result.update(listed=project.prompts.list_prompts()))
    listing.start()
    try:
        yield result
    finally:
        listing.join()


def _started_and_ended(record) -> tuple[datetime, datetime]:
    ended = datetime.fromisoformat(record.timestamp)
    return ended - timedelta(milliseconds=record.duration_ms), ended


def test_the_pages_after_the_first_are_read_side_by_side(opik_target, opik_client):
    opik_target.require_emulator()
    _prompts(opik_client, opik_target.project_name)
    settings = OpikSettings(project_name=opik_target.project_name)
    with OpikProject.connect(settings) as project:
        project.prompts.listing_page_size = 2
        opik_target.inject(r"/v1/private/prompts$", "GET", hold_ms=300, times=3)
        opik_target.clear_requests()
        listed = project.prompts.list_prompts()

    assert sorted(listed) == ["p0", "p1", "p2", "p3", "p4"]
    pages = {
        parse_qs(r.query)["page"][0]: _started_and_ended(r)
        for r in opik_target.requests()
        if r.path.endswith("/prompts")
    }
    assert sorted(pages) == ["1", "2", "3"]
    first, second, third = pages["1"], pages["2"], pages["3"]
    assert first[1] <= min(second[0], third[0])  # the first page says how many follow
    assert second[0] < third[1] and third[0] < second[1]  # then both at once


def test_a_prompt_deleted_while_the_pages_are_read_hides_no_other(opik_target, opik_client):
    opik_target.require_emulator()
    _prompts(opik_client, opik_target.project_name)
    settings = OpikSettings(project_name=opik_target.project_name)
    with OpikProject.connect(settings) as project:
        newest = project.prompts.list_prompts()["p4"]
        project.prompts.listing_page_size = 2
        # Page 1 (p4, p3) is read, then pages 2 and 3 are held while p4 is deleted: they come
        # back as (p1, p0) and (), so p2 slips between pages and only a new listing finds it.
        hold = opik_target.inject(r"/v1/private/prompts$", "GET", hold_ms=500, times=3)
        with _listing_in_background(project) as result:
            opik_target.wait_until(lambda: hold.hits == 3, "the requests for pages 2 and 3")
            opik_target.rest_client().prompts.delete_prompt(newest.id)

    assert sorted(result["listed"]) == ["p0", "p1", "p2", "p3"]


def test_a_row_slipping_between_pages_read_at_different_moments_is_found(opik_target, opik_client):
    opik_target.require_emulator()
    _prompts(opik_client, opik_target.project_name, 6)
    settings = OpikSettings(project_name=opik_target.project_name)
    with OpikProject.connect(settings) as project:
        oldest = project.prompts.list_prompts()["p0"]
        project.prompts.listing_page_size = 2
        # Page 1 (p5, p4) and page 3 (p1, p0) are read at once; page 2 is held while p6 is
        # created and p0 deleted, and comes back as (p4, p3): the total is 6 throughout, yet
        # p2 slipped from page 2 to page 3 after page 3 was read.
        hold = opik_target.inject(r"/v1/private/prompts$", "GET", query=r"\bpage=2\b", hold_ms=600)
        with _listing_in_background(project) as result:
            opik_target.wait_until(
                lambda: hold.hits and any("page=3" in r.query for r in opik_target.requests()),
                "page 2 held and page 3 answered",
            )
            opik_client.create_prompt(name="p6", prompt="x", project_name=opik_target.project_name)
            opik_target.rest_client().prompts.delete_prompt(oldest.id)

    assert {"p1", "p2", "p3", "p4", "p5"} <= set(result["listed"])
