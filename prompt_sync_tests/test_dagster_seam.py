"""The one seam on Dagster's private modules (``prompt_sync_pipeline/components/internals.py``):
prompt-sync declares ``dagster>=1.13,<1.14``, so a patch release that moves one of these must
break here, by name. (``queue_without_daemon`` has its own tests in ``test_run_now_queue.py``.)"""

from __future__ import annotations

import dagster as dg
import pytest

from prompt_sync_pipeline.components import internals
from prompt_sync_pipeline.run_now import WORKSPACE_FILE
from prompt_sync_tests.dagster_helpers import run_job, step_failures

pytestmark = pytest.mark.slow


def test_the_code_locations_jobs_and_their_tags(forseti, monkeypatch):
    monkeypatch.setenv("PROMPT_SYNC_CONFIG", str(forseti.config_path))

    with (
        dg.instance_for_test() as instance,
        internals.code_location_jobs(instance, WORKSPACE_FILE) as (jobs, launch),
    ):
        by_name = {job.name: job.tags for job in jobs}
        assert by_name["forseti_prompt_sync_job"]["prompt_sync/config"] == str(forseti.config_path)
        assert callable(launch)


def test_a_failed_step_reads_back_whole(forseti, monkeypatch, instance):
    monkeypatch.setenv("PROMPT_SYNC_CONFIG", str(forseti.config_path))
    monkeypatch.setenv("OPIK_URL_OVERRIDE", "http://127.0.0.1:9/api")  # nothing listens there

    result = run_job(instance)

    (failure,) = internals.step_failures(instance, result.run_id)
    assert failure == (
        "forseti__opik_composites",
        step_failures(result)["opik_composites"],
    )
    assert "OPIK_URL_OVERRIDE" in failure[1]


@pytest.mark.filterwarnings("ignore:Error loading repository location broken")  # Dagster's own
def test_a_code_location_that_does_not_load_is_one_line_with_its_cause(tmp_path):
    (tmp_path / "broken.py").write_text('raise RuntimeError("the charter table is broken")\n')
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        f"load_from:\n  - python_file:\n      relative_path: broken.py\n"
        f"      location_name: broken\n      working_directory: {tmp_path}\n"
    )

    with (
        dg.instance_for_test() as instance,
        pytest.raises(internals.CodeLocationUnloadable) as raised,
        internals.code_location_jobs(instance, workspace),
    ):
        pass

    message = str(raised.value)
    assert message.startswith("the code location 'broken' of workspace.yaml did not load: ")
    assert "RuntimeError: the charter table is broken" in message
    assert "Traceback" not in message and "\n" not in message.strip()
