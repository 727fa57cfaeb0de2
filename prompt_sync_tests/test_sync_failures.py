"""Bad input and failing Opik: clear errors, and the charter and Opik's history never damaged."""

from __future__ import annotations

import json

import pytest

from prompt_sync_pipeline.opik import OpikUnavailable
from prompt_sync_pipeline.sync.charter import CharterError, CharterLocked, charter_lock
from prompt_sync_pipeline.sync.config import ConfigError
from prompt_sync_tests.forseti import CHARTER_TASK, COMPOSITE, COMPOSITES, PERSONA, optimize


def _raw_chat_version(opik_client, forseti, template: str, template_type: str = "mustache"):
    """A composite version written as a careless client could: whatever the backend accepts."""
    from opik.rest_api.types import PromptVersionDetail

    opik_client.rest_client.prompts.create_prompt_version(
        name=COMPOSITE,
        version=PromptVersionDetail(template=template, type=template_type),
        template_structure="chat",
        project_name=forseti.config.opik.project_name,
    )


@pytest.mark.parametrize(
    ("messages", "template_type", "reason"),
    [
        (
            [
                {"role": "system", "content": "S {{community_name}} {{language}}"},
                {"role": "assistant", "content": "A"},
                {"role": "user", "content": "U {{charter}} {{post}}"},
            ],
            "mustache",
            "exactly one system and one user message",
        ),
        (
            [
                {"role": "system", "content": "S {{community_name}} {{language}}"},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "{{charter}} {{post}}"},
                        {"type": "image_url", "image_url": {"url": "http://img.example/x.png"}},
                    ],
                },
            ],
            "mustache",
            "non-text content",
        ),
        (None, "mustache", "dropped post"),
        (None, "python", "unknown template type"),
    ],
    ids=["three-messages", "multimodal", "variable-dropped", "unknown-type"],
)
def test_malformed_composite_is_refused_with_its_reason(
    synced, opik_client, messages, template_type, reason
):
    if messages is None:
        messages = synced.messages(user="Validate {{charter}} only.")
    _raw_chat_version(opik_client, synced, json.dumps(messages), template_type)
    charter_before = synced.charter_path.read_text()

    report = synced.sync()

    pull_failure = next(a for a in report.steps("pull") if not a.ok)
    assert pull_failure.subject == COMPOSITE
    assert pull_failure.outcome == "malformed"
    assert reason in pull_failure.reason
    assert report.counters["pull_failed"] == 1
    assert synced.charter_path.read_text() == charter_before
    # Not pushed over either: the odd version stays Opik's latest until someone decides.
    composite = next(a for a in report.steps("composite") if a.subject == COMPOSITE)
    assert not composite.ok
    assert f"--keep-charter {COMPOSITE}" in composite.reason
    assert report.counters["composite_synced"] == len(COMPOSITES) - 1

    # The team decides the charter is right: the rebuild replaces the odd version.
    resolved = synced.sync(keep={COMPOSITE: "charter"})
    assert not resolved.failed, resolved.to_json()
    assert synced.charter_path.read_text() == charter_before
    project = synced.config.opik.project_name
    assert opik_client.get_chat_prompt(name=COMPOSITE, project_name=project).template == (
        synced.messages()
    )


def test_opik_down_stops_the_run_before_any_work_and_leaves_the_charter(forseti, monkeypatch):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("OPIK_URL_OVERRIDE", f"http://127.0.0.1:{port}/api")
    charter_before = forseti.charter_path.read_text()

    with pytest.raises(OpikUnavailable, match=f"127.0.0.1:{port}/api is unreachable"):
        forseti.sync()

    assert forseti.charter_path.read_text() == charter_before


def test_transient_429_and_503_are_retried_to_success(forseti, opik_target, opik_client):
    opik_target.inject(method="POST", path=r"/prompts/versions$", status=503, times=2)
    opik_target.inject(
        method="POST",
        path=r"/projects/retrieve$",  # the listing's first request
        status=429,
        times=2,
        headers={"Retry-After": "0"},
    )

    report = forseti.sync()

    assert not report.failed, report.to_json()
    assert report.counters["individual_synced"] == 4
    statuses = [r.status for r in opik_target.requests()]
    assert statuses.count(503) == 2 and statuses.count(429) == 2
    # Retried creates did not make duplicate versions.
    for name in COMPOSITES:
        assert (
            len(
                opik_client.get_chat_prompt_history(
                    name=name, project_name=forseti.config.opik.project_name
                )
            )
            == 1
        )


def test_a_lost_response_on_create_does_not_duplicate_the_version(
    forseti, opik_target, opik_client
):
    opik_target.inject(
        method="POST", path=r"/prompts/versions$", drop=True, after_commit=True, times=1
    )

    report = forseti.sync()

    assert not report.failed, report.to_json()
    project = forseti.config.opik.project_name
    total = sum(
        len(opik_client.get_chat_prompt_history(name=n, project_name=project)) for n in COMPOSITES
    )
    assert total == len(COMPOSITES)


def test_one_failing_prompt_does_not_stop_the_others(forseti, opik_client):
    # A chat prompt already holds the persona's name: that text prompt can't be written.
    opik_client.create_chat_prompt(
        name=PERSONA,
        messages=[{"role": "user", "content": "x"}],
        project_name=forseti.config.opik.project_name,
    )

    report = forseti.sync()

    assert report.counters["individual_failed"] == 1
    assert report.counters["individual_synced"] == 3
    assert report.counters["composite_synced"] == 3
    failed = next(a for a in report.steps("individual") if not a.ok)
    assert failed.subject == PERSONA and "chat prompt" in failed.reason


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"forseti.persona": {"template": "x", ', "not valid JSON (line 1"),
        ('["not", "an", "object"]', "expected an object"),
        ('{"forseti.persona": {"template": "x", "type": "handlebars"}}', "forseti.persona"),
    ],
    ids=["truncated", "array", "bad-type"],
)
def test_corrupt_charter_is_refused_before_any_request(forseti, opik_target, content, message):
    forseti.charter_path.write_text(content)
    opik_target.clear_requests()

    with pytest.raises(CharterError, match=r"forseti_charter\.json") as error:
        forseti.sync()

    assert message in str(error.value)
    assert opik_target.requests() == []
    assert forseti.charter_path.read_text() == content


def test_missing_charter_and_unknown_prompt_names_are_refused(forseti, opik_target):
    document = forseti.charter()
    del document[CHARTER_TASK]
    forseti.charter_path.write_text(json.dumps(document))
    opik_target.clear_requests()

    with pytest.raises(ConfigError, match=f"{COMPOSITE}.*{CHARTER_TASK}"):
        forseti.sync()

    forseti.charter_path.unlink()
    with pytest.raises(CharterError, match="not found"):
        forseti.sync()
    assert opik_target.requests() == []


def test_a_held_lock_is_reported_clearly(forseti):
    forseti.configure(lock_timeout_seconds=0.2)
    with (
        charter_lock(forseti.charter_path, 1),
        pytest.raises(CharterLocked, match="another prompt-sync run"),
    ):
        forseti.sync()


def test_two_syncs_at_once_serialise_and_create_each_version_once(synced, opik_client):
    from concurrent.futures import ThreadPoolExecutor

    synced.edit(PERSONA, synced.template(PERSONA) + "\nBe brief.")
    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(lambda _: synced.sync(), range(2)))

    assert [r.failed for r in reports] == [False, False]
    project = synced.config.opik.project_name
    assert len(opik_client.get_prompt_history(name=PERSONA, project_name=project)) == 2
    for name in COMPOSITES:
        assert len(opik_client.get_chat_prompt_history(name=name, project_name=project)) == 2


def test_a_rejected_api_key_fails_clearly_and_is_never_printed(forseti, capsys, monkeypatch):
    from opik_emulator import EmulatorServer
    from prompt_sync_pipeline.cli import main

    with EmulatorServer(api_key="the-right-key") as server:
        monkeypatch.setenv("OPIK_URL_OVERRIDE", server.url)
        monkeypatch.setenv("OPIK_API_KEY", "a-secret-but-wrong-key")
        code = main(["--config", str(forseti.config_path), "sync", "--json"])
        captured = capsys.readouterr()
    printed = captured.out + captured.err

    # One message before any work (the access check), naming what to check; never the key.
    # With --json, stdout holds the same error as one JSON object.
    assert code == 1
    assert json.loads(captured.out)["exit_code"] == 1
    assert "refused the credentials" in json.loads(captured.out)["error"]
    assert captured.err.count("refused the credentials") == 1
    assert "401" in captured.err and "OPIK_API_KEY" in captured.err
    assert "a-secret-but-wrong-key" not in printed


def test_a_failing_base_record_is_reported_and_the_run_goes_on(synced, opik_client, opik_target):
    optimize(opik_client, synced, user="Optimized {{charter}} {{post}}")
    opik_target.inject(r"/prompts/versions$", "PATCH", status=500, times=None)

    report = synced.sync()

    assert report.failed
    pull = next(a for a in report.steps("pull") if a.subject == COMPOSITE)
    assert pull.outcome == "failed" and "could not record the base" in pull.reason
    assert report.counters["pull_changed"] == 1
    assert report.counters["individual_synced"] == 4
    opik_target.clear_faults()
    assert not synced.sync().failed  # the next run records it


def test_a_failing_history_read_fails_that_composite_only(synced, opik_client, opik_target):
    optimize(opik_client, synced, user="Optimized {{charter}} {{post}}")
    # Without a state file (first contact) the base is looked up in Opik's history.
    synced.config.state_path.unlink()
    opik_target.inject(r"/prompts/[^/]+/versions$", "GET", status=500, times=None)

    report = synced.sync()

    assert report.counters["pull_failed"] == 1
    assert report.counters["individual_synced"] == 4
    assert report.counters["composite_synced"] == 2
    assert "500" in next(a for a in report.steps("pull") if not a.ok).reason


def test_credentials_in_the_opik_url_are_never_reported(forseti, monkeypatch):
    monkeypatch.setenv("OPIK_URL_OVERRIDE", "http://user:hunter2@127.0.0.1:9/api")

    with pytest.raises(OpikUnavailable) as error:
        forseti.sync()

    assert "127.0.0.1:9/api" in str(error.value)
    assert "hunter2" not in str(error.value)
