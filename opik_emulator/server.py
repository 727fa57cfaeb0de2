"""Run the emulator in a background thread of the current process (for tests and scripts)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from types import TracebackType

import uvicorn

from opik_emulator.app import Emulator, create_app
from opik_emulator.control import LocalControl
from opik_emulator.faults import Faults, RequestLog
from opik_emulator.store import Store


class EmulatorServer:
    """Uvicorn serving an :class:`Emulator` on a free loopback port, in a daemon thread.

    >>> with EmulatorServer() as server:          # doctest: +SKIP
    ...     opik.Opik(host=server.url, workspace="ws1")

    ``url`` is the API base a client needs (``http://127.0.0.1:PORT/api``); ``store``,
    ``faults`` and ``requests`` give direct access to the state, the fault rules and the
    request log.
    """

    def __init__(
        self,
        db: str | Path = ":memory:",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        latency_ms: float = 0,
        log_level: str = "warning",
    ) -> None:
        self.host = host
        self.app: Emulator = create_app(db, api_key=api_key, latency_ms=latency_ms)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level=log_level,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """What ``Opik(host=...)`` / ``OPIK_URL_OVERRIDE`` should be."""
        return f"{self.base_url}/api"

    @property
    def store(self) -> Store:
        return self.app.store

    @property
    def faults(self) -> Faults:
        return self.app.faults

    @property
    def requests(self) -> RequestLog:
        return self.app.request_log

    @property
    def control(self) -> LocalControl:
        """The test controls, with the same interface as :class:`AdminClient`."""
        return LocalControl(self.app.faults, self.app.request_log)

    def start(self, timeout: float = 10.0) -> EmulatorServer:
        if self._thread is not None:
            return self
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"opik-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the Opik emulator did not start on {self.base_url}")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
            self._thread = None
        self._socket.close()
        self.store.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
