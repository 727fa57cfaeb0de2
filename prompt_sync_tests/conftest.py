"""The tests' fixtures, one plugin module per concern.

By default a session-wide Opik emulator runs in a background thread on a free loopback port and
every test gets its own workspace and project on it (``opik_target``). Set
``PROMPT_SYNC_TEST_OPIK_URL`` (plus optionally ``PROMPT_SYNC_TEST_OPIK_API_KEY`` and
``PROMPT_SYNC_TEST_OPIK_WORKSPACE``) to run the same tests against a real Opik; tests that need
fault injection or the request log then skip, unless that URL is itself an emulator.
"""

pytest_plugins = [
    "prompt_sync_tests.opik_target",  # the Opik to test against, first: it sets the SDK's variables
    "prompt_sync_tests.services",  # PostgreSQL and Chromium for the production-like tests
    "prompt_sync_tests.openapi",  # Opik's OpenAPI spec, checked on the emulator's responses
    "prompt_sync_tests.example",  # the forseti example, before and after a first sync
    "prompt_sync_tests.lab",  # experiments recorded through the SDK, with known scores
    "prompt_sync_tests.dagster_helpers",  # Dagster instances, jobs, the sensor's ticks
    "prompt_sync_tests.team_project",  # a team's own dg project with two charters
]
