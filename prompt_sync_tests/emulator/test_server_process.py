"""The emulator as a server: the ``opik-emulator`` command, persistence, concurrency."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import opik
import pytest
from opik.rest_api.types.prompt_version_detail import PromptVersionDetail

from opik_emulator import EmulatorServer


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _command() -> list[str]:
    script = shutil.which("opik-emulator", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the opik-emulator console script is not installed (pip install -e .)")
    return [script]


@contextmanager
def emulator_process(db: Path, *extra: str) -> Iterator[str]:
    """Run ``opik-emulator`` as a subprocess until its health ping answers; yield its API URL."""
    port = _free_port()
    process = subprocess.Popen(
        [*_command(), "--host", "127.0.0.1", "--port", str(port), "--db", str(db), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/is-alive/ping", timeout=1).json() == {"healthy": True}:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"opik-emulator did not start: {output}")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()


@pytest.mark.slow
def test_console_command_persists_across_restarts(tmp_path):
    db = tmp_path / "opik.sqlite"
    with emulator_process(db, "--latency-ms", "1") as url:
        client = opik.Opik(host=url, workspace="persisted", project_name="proj")
        client.create_prompt("kept", "first {{x}}")
        client.create_prompt("kept", "second {{x}}")
        client.create_environment("canary")
        client.set_prompt_environments("kept", ["canary"], version="v1")
        client.end()

    with emulator_process(db) as url:
        client = opik.Opik(host=url, workspace="persisted", project_name="proj")
        try:
            assert [p.prompt for p in client.get_prompt_history("kept")] == [
                "second {{x}}",
                "first {{x}}",
            ]
            assert client.get_prompt("kept", environment="canary", no_cache=True).version == "v1"
            assert client.create_prompt("kept", "third").version == "v3"
        finally:
            client.end()


@pytest.mark.slow
def test_console_command_scripts_faults_from_the_start(tmp_path):
    fault = '{"path": "/prompts/versions/retrieve$", "method": "POST", "status": 503, "times": 2}'
    with emulator_process(tmp_path / "opik.sqlite", "--fault", fault) as url:
        body = {"name": "missing", "project_name": "proj"}
        statuses = [
            httpx.post(f"{url}/v1/private/prompts/versions/retrieve", json=body).status_code
            for _ in range(3)
        ]
    assert statuses == [503, 503, 404]


def test_health_ping_at_the_api_base_and_the_root():
    with EmulatorServer(api_key="secret") as server:
        assert httpx.get(f"{server.url}/is-alive/ping").json() == {"healthy": True}
        assert httpx.get(f"{server.base_url}/is-alive/ping").json() == {"healthy": True}
        denied = httpx.post(f"{server.url}/v1/private/auth", json={})
        assert denied.status_code == 401 and denied.json()["code"] == 401
        allowed = httpx.post(
            f"{server.url}/v1/private/auth", json={}, headers={"Authorization": "secret"}
        )
        assert allowed.status_code == 204


def test_file_database_survives_an_in_process_restart(tmp_path):
    db = tmp_path / "state.sqlite"
    with EmulatorServer(db) as server:
        client = opik.Opik(host=server.url, workspace="w", project_name="p")
        client.create_prompt("p1", "hello")
        client.end()
    with EmulatorServer(db) as server:
        client = opik.Opik(host=server.url, workspace="w", project_name="p")
        assert client.get_prompt("p1", no_cache=True).prompt == "hello"
        client.end()


def test_concurrent_version_creates_get_distinct_numbers(opik_target):
    opik_target.require_emulator()
    rest = opik_target.rest_client()

    def create(i: int) -> str:
        return rest.prompts.create_prompt_version(
            name="busy",
            version=PromptVersionDetail(template=f"t{i}"),
            project_name=opik_target.project_name,
        ).version_number

    with ThreadPoolExecutor(max_workers=16) as pool:
        numbers = list(pool.map(create, range(64)))

    assert sorted(numbers, key=lambda n: int(n[1:])) == [f"v{i}" for i in range(1, 65)]
    page = rest.prompts.get_prompts(name="busy").content[0]
    versions = rest.prompts.get_prompt_versions(page.id, size=100).content
    assert len({v.commit for v in versions}) == 64
