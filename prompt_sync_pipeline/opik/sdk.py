"""The one place that knows the opik SDK's insides: its configuration, its HTTP client (auth
headers, gzip bodies) and its generated REST client's private wrapper.

Everything else goes through these functions, so an SDK upgrade that moves an attribute breaks
here, loudly, in ``prompt_sync_tests/test_opik_sdk_seam.py``, and nowhere else. The SDK is
imported inside the functions: importing this module costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import OpikAddressError, url_problem
from .settings import OPIK_URL_VAR, OpikSettings

if TYPE_CHECKING:
    import httpx
    from opik.rest_api import OpikApi


def rest_factory(
    settings: OpikSettings,
    *,
    url: str | None = None,
    workspace: str | None = None,
    api_key: str | None = None,
) -> tuple[Callable[[], OpikApi], str]:
    """A function that builds a REST client with the SDK's own settings, and the workspace.

    Values given here win over the SDK's variables and config file (``OPIK_URL_OVERRIDE``,
    ``OPIK_API_KEY``, ``OPIK_WORKSPACE``, ``~/.opik.config``); the ones left None come from there.
    """
    import httpx
    from opik import config as opik_config
    from opik import httpx_client
    from opik.rest_api import OpikApi

    given: dict[str, Any] = {"url_override": url, "workspace": workspace, "api_key": api_key}
    sdk = opik_config.OpikConfig(**{k: v for k, v in given.items() if v})
    problem = url_problem(sdk.url_override, "the Opik URL given" if url else OPIK_URL_VAR)
    if problem is not None:
        raise OpikAddressError(problem)

    def connect() -> OpikApi:
        client = httpx_client.get(
            workspace=sdk.workspace,
            api_key=sdk.api_key,
            check_tls_certificate=sdk.check_tls_certificate,
            compress_json_requests=sdk.enable_json_request_compression,
        )
        client.timeout = httpx.Timeout(settings.timeout_seconds)
        return OpikApi(base_url=sdk.url_override, httpx_client=client)

    return connect, sdk.workspace


def http_client(rest: OpikApi) -> httpx.Client:
    """The httpx client under a REST client (for closing it, or hooking its responses)."""
    return rest._client_wrapper.httpx_client.httpx_client


def base_url(rest: OpikApi) -> str:
    return rest._client_wrapper.get_base_url()


def send(
    rest: OpikApi,
    method: str,
    path: str,
    *,
    params: dict[str, Any] | None = None,
    json: dict[str, Any] | None = None,
) -> httpx.Response:
    """A request through the SDK's own HTTP wrapper (its auth, headers, gzip and base URL),
    raising the SDK's ``ApiError`` on a non-2xx answer, as its generated methods do."""
    from opik.rest_api.core.api_error import ApiError

    response = rest._client_wrapper.httpx_client.request(
        path,
        method=method,
        params=params,
        json=json,
        headers={"content-type": "application/json"} if json is not None else None,
    )
    if not 200 <= response.status_code < 300:
        try:
            body = response.json()
        except ValueError:
            body = response.text
        raise ApiError(status_code=response.status_code, headers=dict(response.headers), body=body)
    return response


# The most items one experiment's read returns; the SDK's own default is 10,000.
EXPERIMENT_ITEMS_LIMIT = 100_000


def experiment_items(
    rest: OpikApi,
    experiment_id: str,
    *,
    name: str | None,
    dataset_name: str,
    project_name: str | None,
) -> list[Any]:
    """The SDK's own ``Experiment.get_items()``: every item of the experiment with its trace's
    feedback scores (``ExperimentItemContent``), read by the SDK from Opik's compare view of the
    experiment's dataset. The ``Experiment`` is built on this REST client; reading needs neither
    the SDK's global client nor its background streamer."""
    from opik.api_objects.experiment.experiment import Experiment
    from opik.api_objects.experiment.experiments_client import ExperimentsClient

    experiment = Experiment(
        id=experiment_id,
        name=name,
        dataset_name=dataset_name,
        rest_client=rest,
        streamer=None,  # type: ignore[arg-type]  # only inserts use it
        experiments_client=ExperimentsClient(rest),
        project_name=project_name,
    )
    return experiment.get_items(max_results=EXPERIMENT_ITEMS_LIMIT, truncate=True)
