"""What a user sees when something is wrong: one clear message, the right exit code, and the
fix the tool suggests actually works. Every case runs the real CLI against a real
HTTP server: the emulator, a closed port, a server that never answers, an HTML page."""

from __future__ import annotations

import http.server
import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
import yaml

from prompt_sync_pipeline.cli import main
from prompt_sync_pipeline.sync.charter import charter_lock
from prompt_sync_tests.dagster_helpers import run_job
from prompt_sync_tests.forseti import (
    CHARTER_TASK,
    COMPOSITE,
    COMPOSITES,
    PERSONA,
    Forseti,
    chat_versions,
    latest_messages,
    optimize,
    run_main,
)

CATEGORY = "forseti-persona-category"


def set_opik_settings(forseti: Forseti, **settings: object) -> None:
    raw = yaml.safe_load(forseti.config_path.read_text())
    raw["opik"].update(settings)
    forseti.config_path.write_text(yaml.safe_dump(raw, sort_keys=False))


# -- 1. a shared prompt on which Opik's composites disagree ------------------------------------


@pytest.fixture
def disagreeing(synced: Forseti, opik_client) -> Forseti:
    """Two composites bring back different optimized personas."""
    persona = synced.template(PERSONA)
    optimize(opik_client, synced, COMPOSITE, system=persona + "\nVersion A.")
    category_task = synced.template("forseti.category_classification")
    optimize(opik_client, synced, CATEGORY, system=persona + "\nVersion B.", user=category_task)
    return synced


def test_the_suggested_fix_for_a_disagreement_resolves_it(disagreeing, opik_client, capsys):
    config = str(disagreeing.config_path)
    persona_before = disagreeing.template(PERSONA)

    code, out, _ = run_main(capsys, "--config", config, "sync")

    assert code == 1
    fix = f"prompt-sync --config {config} sync --keep-opik {PERSONA}={CATEGORY}"
    assert f"`{fix}`" in out
    assert disagreeing.template(PERSONA) == persona_before

    # Run exactly the command the message printed.
    code, out, _ = run_main(capsys, *fix.split()[1:])

    assert code == 0, out
    assert disagreeing.template(PERSONA) == persona_before + "\nVersion B."
    for name in COMPOSITES:  # every composite now carries the chosen persona
        assert latest_messages(opik_client, disagreeing, name)[0]["content"].endswith("Version B.")
    # Version A is superseded, not lost: it stays in its composite's history.
    assert len(chat_versions(opik_client, disagreeing, COMPOSITE)) == 3
    assert run_main(capsys, "--config", config, "sync", "--json")[0] == 0


def test_keeping_opik_without_saying_which_composite_explains_the_choice(disagreeing, capsys):
    code, out, _ = run_main(
        capsys, "--config", str(disagreeing.config_path), "sync", "--keep-opik", PERSONA
    )

    assert code == 1
    assert "Composites in Opik hold different versions of 'forseti.persona'" in out
    assert f"--keep-opik {PERSONA}={COMPOSITE}" in out


def test_keep_opik_composite_takes_that_composites_version(disagreeing, capsys):
    code, _, _ = run_main(
        capsys, "--config", str(disagreeing.config_path), "sync", "--keep-opik", COMPOSITE
    )

    assert code == 0
    assert disagreeing.template(PERSONA).endswith("Version A.")


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--keep-opik", "forseti.persona_typo", "no such prompt or composite"),
        ("--keep-charter", "nobody", "no such prompt or composite"),
        ("--keep-opik", f"{CHARTER_TASK}={CATEGORY}", f"{CATEGORY!r} does not use"),
    ],
)
def test_an_unknown_name_to_keep_is_exit_2_with_the_valid_names(
    forseti, opik_target, capsys, option, value, message
):
    code, out, err = run_main(capsys, "--config", str(forseti.config_path), "sync", option, value)

    assert code == 2
    assert message in err
    assert PERSONA in err or "choose one of" in err  # the names that would be valid
    assert out == ""
    assert opik_target.requests() == []


# -- 2. an Opik that can't be used: one message, exit 1, before any work -----------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/api"
    listener.close()


class _HtmlPage(http.server.BaseHTTPRequestHandler):
    PAGE = b"<!doctype html><html><body><h1>Welcome to nginx!</h1></body></html>"
    CONTENT_TYPE = "text/html"

    def _answer(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", self.CONTENT_TYPE)
        self.send_header("Content-Length", str(len(self.PAGE)))
        self.end_headers()
        self.wfile.write(self.PAGE)

    do_GET = do_POST = do_PATCH = _answer

    def log_message(self, *args: object) -> None:
        pass


class _OtherJson(_HtmlPage):
    PAGE = b'{"status": "ok", "service": "something else"}'
    CONTENT_TYPE = "application/json"


@pytest.fixture
def html_server() -> Iterator[str]:
    """A web server that answers every request with an HTML page (e.g. Opik's URL without /api)."""
    yield from _serve(_HtmlPage)


@pytest.fixture
def other_json_server() -> Iterator[str]:
    """A JSON API that isn't Opik: every request gets the same small object."""
    yield from _serve(_OtherJson)


def _serve(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def _assert_one_message(code: int, out: str, err: str, *expected: str) -> None:
    assert code == 1
    assert out == ""  # no per-prompt report: nothing was attempted
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("prompt-sync:")]
    assert len(errors) == 1, err
    for text in (*expected, "OPIK_URL_OVERRIDE", "OPIK_API_KEY", "OPIK_WORKSPACE"):
        assert text in errors[0]


def test_a_closed_port_is_one_message_naming_the_url(forseti, capsys, monkeypatch):
    url = f"http://127.0.0.1:{_free_port()}/api"
    monkeypatch.setenv("OPIK_URL_OVERRIDE", url)
    charter_before = forseti.charter_path.read_bytes()

    code, out, err = run_main(capsys, "--config", str(forseti.config_path), "sync")

    _assert_one_message(code, out, err, f"Opik at {url} is unreachable", "after 4 attempts")
    assert forseti.charter_path.read_bytes() == charter_before


def test_a_server_that_never_answers_is_a_timeout_not_unreachable(
    forseti, capsys, monkeypatch, silent_server
):
    set_opik_settings(forseti, timeout_seconds=0.2)
    monkeypatch.setenv("OPIK_URL_OVERRIDE", silent_server)

    code, out, err = run_main(capsys, "--config", str(forseti.config_path), "sync")

    _assert_one_message(code, out, err, f"Opik at {silent_server} did not answer within 0.2s")
    assert "unreachable" not in err


def test_an_html_page_is_not_opik_and_is_not_printed(forseti, capsys, monkeypatch, html_server):
    monkeypatch.setenv("OPIK_URL_OVERRIDE", html_server)

    code, out, err = run_main(capsys, "--config", str(forseti.config_path), "sync")

    _assert_one_message(code, out, err, "does not answer as Opik", "an HTML page")
    assert "Welcome to nginx" not in err


def test_a_json_api_that_is_not_opik_is_named_so(forseti, capsys, monkeypatch, other_json_server):
    monkeypatch.setenv("OPIK_URL_OVERRIDE", other_json_server)

    code, out, err = run_main(capsys, "--config", str(forseti.config_path), "sync")

    _assert_one_message(code, out, err, "does not answer as Opik", "JSON of another shape")


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_name_the_variables_once(forseti, opik_target, capsys, status):
    opik_target.inject(
        r"/v1/private/projects/retrieve$",
        "POST",
        status=status,
        body={"code": status, "message": "User not allowed to access workspace!"},
        times=None,
    )

    code, out, err = run_main(capsys, "--config", str(forseti.config_path), "sync")

    workspace = f"for workspace {opik_target.workspace!r}"
    _assert_one_message(code, out, err, "refused the credentials", workspace, str(status))
    assert [r.path for r in opik_target.requests()] == ["/api/v1/private/projects/retrieve"]


def test_an_error_on_every_prompt_is_printed_once_per_step_with_the_count(
    synced, opik_target, capsys
):
    # Opik's access check passes, then every version read fails for good (a copy with no state
    # file reads every prompt).
    synced.config.state_path.unlink()
    opik_target.inject(r"/prompts/versions/retrieve$", "POST", status=500, times=None)

    code, out, _ = run_main(capsys, "--config", str(synced.config_path), "sync")

    assert code == 1
    assert out.count("Opik answered 500") == 3  # pull, individuals, composites: once each
    assert " ! failed        4 prompts: " + ", ".join(synced.charter()) in out
    assert " ! failed        3 composites: " + ", ".join(COMPOSITES) in out
    assert "composite_failed=3" in out


def test_a_long_retry_wait_is_logged_once_with_its_duration(synced, opik_target, caplog):
    # The three composite reads (no state file: every prompt is read) all meet a 429 asking to
    # wait 2 s, at the same moment.
    synced.config.state_path.unlink()
    opik_target.inject(
        r"/prompts/versions/retrieve$", "POST", status=429, headers={"Retry-After": "2"}, times=3
    )

    with caplog.at_level(logging.WARNING, logger="prompt_sync_pipeline.opik.transport"):
        report = synced.sync()

    assert not report.failed
    waits = [r.getMessage() for r in caplog.records if "before retrying" in r.getMessage()]
    assert waits == ["Opik request failed (HTTP 429); waiting 2.0s before retrying"]


def test_dagster_fails_the_run_once_when_opik_is_unreachable(
    forseti, opik_target, monkeypatch, capsys
):
    import dagster as dg

    monkeypatch.setenv("PROMPT_SYNC_CONFIG", str(forseti.config_path))
    monkeypatch.setenv("OPIK_URL_OVERRIDE", f"http://127.0.0.1:{_free_port()}/api")

    with dg.instance_for_test() as instance:
        result = run_job(instance)

    assert not result.success
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert [e.step_key for e in failures] == ["forseti__opik_composites"]
    description = failures[0].step_failure_data.user_failure_data.description
    assert "is unreachable" in description and "OPIK_URL_OVERRIDE" in description
    # The message the CLI prints for the same outage, whole.
    capsys.readouterr()  # Dagster's own log lines
    assert main(["--config", str(forseti.config_path), "sync"]) == 1
    assert capsys.readouterr().err.strip() == f"prompt-sync: {description}"


def test_dagster_describes_an_error_on_every_prompt_once_per_step(synced, opik_target, monkeypatch):
    import dagster as dg

    monkeypatch.setenv("PROMPT_SYNC_CONFIG", str(synced.config_path))
    synced.config.state_path.unlink()  # no state file: every composite is read
    opik_target.inject(r"/prompts/versions/retrieve$", "POST", status=500, times=None)

    with dg.instance_for_test() as instance:
        result = run_job(instance)

    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    description = failure.step_failure_data.user_failure_data.description
    # Nothing could be read: the first step fails at once, Opik's answer named once with its count.
    assert description.startswith("Opik could not be read: none of the 3 composites was read.")
    assert description.count("Opik answered 500") == 1
    assert "(x3)" in description


# -- 3. bad input: exit 2, one line, no traceback ----------------------------------------------


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("directory", "is a directory"),
        ("empty", "the configuration file is empty"),
        ("timezone", "unknown time zone 'Mars/Olympus'"),
        ("timeout", "opik.timeout_seconds"),
        ("nan", "opik.retries.initial_backoff_seconds"),
        ("attempts", "opik.retries.attempts"),
        ("lock", "lock_timeout_seconds"),
    ],
)
def test_bad_configuration_is_exit_2_with_one_line(forseti, opik_target, capsys, case, message):
    config = forseti.config_path
    raw = yaml.safe_load(config.read_text())
    if case == "directory":
        config = forseti.config_path.parent
    elif case == "empty":
        config.write_text("\n")
    else:
        if case == "timezone":
            raw["schedule_timezone"] = "Mars/Olympus"
        elif case == "timeout":
            raw["opik"]["timeout_seconds"] = 0
        elif case == "nan":
            raw["opik"]["retries"]["initial_backoff_seconds"] = float("nan")
        elif case == "attempts":
            raw["opik"]["retries"]["attempts"] = 0
        else:
            raw["lock_timeout_seconds"] = -1
        config.write_text(yaml.safe_dump(raw))

    for command in ("sync", "run-now"):
        code, out, err = run_main(capsys, "--config", str(config), command)
        assert code == 2, (command, err)
        assert out == ""
        assert err.count("\n") == 1 and err.startswith("prompt-sync: ") and message in err
    assert opik_target.requests() == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the charter file is empty"),
        (b"  \n", "the charter file is empty"),
        (b"\xef\xbb\xbf{}", "byte-order mark (BOM)"),
        (
            b'{"forseti.persona": {"template": "a"}, "forseti.persona": {"template": "b"}}',
            "the key 'forseti.persona' appears more than once",
        ),
    ],
    ids=["empty", "blank", "bom", "duplicate-key"],
)
def test_a_bad_charter_is_exit_2_with_one_line(forseti, opik_target, capsys, content, message):
    forseti.charter_path.write_bytes(content)

    code, out, err = run_main(capsys, "--config", str(forseti.config_path), "sync")

    assert code == 2
    assert err.count("\n") == 1 and message in err and "forseti_charter.json" in err
    assert out == ""
    assert forseti.charter_path.read_bytes() == content
    assert opik_target.requests() == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--bogus"], "unknown option --bogus"),
        (["sync", "--bogus"], "unknown option --bogus"),
        (["--josn", "sync"], "unknown option --josn (did you mean --json?)"),
        (["sync", "--josn"], "unknown option --josn (did you mean --json?)"),
        (["sync", "--keep-opic", "X"], "unknown option --keep-opic (did you mean --keep-opik?)"),
        (["--keep-opik", "X", "sync"], "--keep-opik before the command: it is an option of sync"),
        (["sinc"], "unknown command 'sinc' (did you mean sync?)"),
        ([], "missing command"),
        (["promote", "--environment", "production"], "missing argument 'COMPOSITE'"),
    ],
)
def test_an_unknown_option_is_named(capsys, argv, message):
    code, out, err = run_main(capsys, *argv)

    assert code == 2
    assert err.count("\n") == 1 and err.startswith("prompt-sync: ") and message in err
    assert "Traceback" not in err and out == ""


# -- 4. small manners -------------------------------------------------------------------------


def test_waiting_for_the_lock_says_so_and_for_how_long(forseti, capsys, caplog):
    forseti.configure(lock_timeout_seconds=0.2)

    # The CLI logs warnings to stderr; under pytest, caplog holds them.
    with caplog.at_level(logging.WARNING), charter_lock(forseti.charter_path, 1):
        code, _, err = run_main(capsys, "--config", str(forseti.config_path), "sync")

    assert code == 2
    waiting = [r.getMessage() for r in caplog.records if "waiting up to" in r.getMessage()]
    assert len(waiting) == 1 and "waiting up to 0.2s for it to finish" in waiting[0]
    assert "another prompt-sync run holds" in err and "(waited 0.2s)" in err


def test_help_lists_the_seed_spellings(capsys):
    assert main(["--help"]) == 0

    out = capsys.readouterr().out
    for spelling in ("--all", "--pull-all", "--pull-all --all", "--performance"):
        assert f"\n  {spelling} " in out


def test_a_reader_that_stops_early_ends_the_output_quietly(forseti, opik_target):
    env = {**os.environ, **opik_target.env}
    command = [sys.executable, "-m", "prompt_sync_pipeline"]
    process = subprocess.Popen(
        [*command, "--config", str(forseti.config_path), "plan"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # `| head -0`: the reader is gone before the first line
    err = process.stderr.read().decode()
    code = process.wait(timeout=120)

    assert code == 141  # 128 + SIGPIPE, as for `yes | head`
    assert "Traceback" not in err and "BrokenPipeError" not in err


# -- 5. the demo's emulator address -----------------------------------------------------------


def test_the_demo_keeps_its_port_or_says_which_one_it_took(tmp_path, capsys):
    from prompt_sync_pipeline.demo import start_emulator

    port = _free_port()
    first = start_emulator(tmp_path / "opik.sqlite", port)
    try:
        assert first.port == port
        assert capsys.readouterr().out == ""
        second = start_emulator(tmp_path / "other.sqlite", port)  # the port is taken now
        try:
            out = capsys.readouterr().out
            assert second.port != port
            assert f"Port {port} is taken" in out and f"uses port {second.port}." in out
        finally:
            second.stop()
    finally:
        first.stop()
