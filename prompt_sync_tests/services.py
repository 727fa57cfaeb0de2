"""Machine services some tests need: a PostgreSQL server the session starts itself, Chromium.

Outside CI a missing one skips those tests with a loud reason; in CI (``CI`` set) it fails them,
since ``.ci/run`` installs both. A pytest plugin (``conftest.py`` loads it): its fixtures give a
test a production-like Dagster instance, ``docs/dagster.yaml`` on its own PostgreSQL database.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS_DAGSTER_YAML = REPO / "docs" / "dagster.yaml"
CHROMIUM = Path("/usr/bin/chromium")
# Debian's postgresql package keeps its binaries out of PATH.
POSTGRES_BIN_GLOB = "/usr/lib/postgresql/*/bin"
# initdb refuses to run as root: as root, the server runs as this system user.
POSTGRES_SYSTEM_USERS = ("postgres", "nobody")


def missing(
    what: str, remedy: str = ".ci/run installs it (apt-get install -y postgresql chromium)"
) -> NoReturn:
    """Skip (outside CI) or fail (in CI) a test that needs something the machine lacks."""
    message = f"{what}; {remedy}"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set and {message}", pytrace=False)
    pytest.skip(f"NOT TESTED HERE: {message}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bin_dir() -> Path | None:
    """Where initdb and pg_ctl are: on PATH, else Debian's newest /usr/lib/postgresql/N/bin."""
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    found = sorted(glob.glob(POSTGRES_BIN_GLOB), key=lambda p: int(Path(p).parent.name))
    return Path(found[-1]) if found else None


@dataclass(frozen=True)
class Postgres:
    """A running PostgreSQL server: one database, one password-protected user."""

    host: str
    port: int
    user: str
    password: str
    database: str

    @property
    def env(self) -> dict[str, str]:
        """The variables docs/dagster.yaml reads."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": self.database,
        }

    @property
    def url(self) -> str:
        return (
            f"postgresql+psycopg2://{self.user}:{self.password}@{self.host}:{self.port}/"
            f"{self.database}"
        )


@contextmanager
def running_postgres() -> Iterator[Postgres]:
    """initdb into a temporary directory, start the server on a free loopback port, stop it after.

    As root, initdb and the server run as an unprivileged system user (initdb refuses root).
    """
    bin_dir = postgres_bin_dir()
    if bin_dir is None or not (bin_dir / "pg_ctl").exists():
        missing("PostgreSQL (initdb, pg_ctl) is not installed")
    run_as: list[str] = []
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:
        owner = next(
            (pwd.getpwnam(name) for name in POSTGRES_SYSTEM_USERS if _user_exists(name)), None
        )
        if owner is None:
            missing("no unprivileged user to run PostgreSQL as")
        run_as = ["runuser", "-u", owner.pw_name, "--"]
    root = Path(tempfile.mkdtemp(prefix="prompt-sync-pg-"))
    data, password_file = root / "data", root / "password"
    server = Postgres("127.0.0.1", free_port(), "dagster", "s3cret-test-only", "dagster")
    password_file.write_text(server.password + "\n")
    if owner is not None:
        os.chmod(root, 0o755)
        os.chown(root, owner.pw_uid, owner.pw_gid)
        os.chown(password_file, owner.pw_uid, owner.pw_gid)

    def run(*args: str) -> None:
        completed = subprocess.run(
            [*run_as, *args], capture_output=True, text=True, timeout=120, check=False
        )
        assert completed.returncode == 0, f"{args[0]} failed:\n{completed.stdout}{completed.stderr}"

    run(
        str(bin_dir / "initdb"),
        "-D",
        str(data),
        "-U",
        server.user,
        f"--pwfile={password_file}",
        "--auth=scram-sha-256",
        "--encoding=UTF8",
        "--no-sync",
    )
    options = (
        f"-c listen_addresses={server.host} -c port={server.port} "
        f"-c unix_socket_directories={root} -c fsync=off"
    )
    run(
        str(bin_dir / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        options,
        "-l",
        str(root / "server.log"),
        "-w",
        "start",
    )
    try:
        create_database(server)
        yield server
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def create_database(server: Postgres) -> None:
    import psycopg2

    connection = psycopg2.connect(
        host=server.host,
        port=server.port,
        user=server.user,
        password=server.password,
        dbname="postgres",
    )
    connection.autocommit = True  # CREATE DATABASE can't run in a transaction
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{server.database}"')
    finally:
        connection.close()


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def chromium() -> Path:
    """Debian's chromium, for Playwright's ``executable_path``."""
    if not CHROMIUM.exists():
        missing(f"Chromium is not installed ({CHROMIUM})")
    return CHROMIUM


@dataclass(frozen=True)
class ProductionHome:
    """A ``DAGSTER_HOME`` whose ``dagster.yaml`` is the docs' file, on a database of its own."""

    path: Path
    postgres: Postgres
    env: dict[str, str]  # DAGSTER_HOME, DAGSTER_PG_*, DAGSTER_COMPUTE_LOG_DIR


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    """The session's PostgreSQL, started on a free loopback port (skips or fails when absent)."""
    with running_postgres() as server:
        yield server


@pytest.fixture
def production_home(
    postgres_server: Postgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> ProductionHome:
    """docs/dagster.yaml (linked, not copied: the tested file is the documented one) on a fresh
    database; the variables it reads are set in this process for the test's duration."""
    database = replace(postgres_server, database=f"dagster_{uuid.uuid4().hex[:12]}")
    create_database(database)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").symlink_to(DOCS_DAGSTER_YAML)
    env = {
        **database.env,
        "DAGSTER_HOME": str(home),
        "DAGSTER_COMPUTE_LOG_DIR": str(tmp_path / "compute_logs"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return ProductionHome(home, database, env)
