"""What one tick of the ``opik_prompt_changes`` sensor costs, with many managed composites.

Starts the emulator in this process, saves N composites in Opik, and evaluates the sensor with
``build_sensor_context`` on a temporary Dagster instance (as the daemon would), once to hand the
start-up state to a run and then repeatedly with nothing new. Prints the requests per tick and
the median tick time, without and with added latency, with the auto gate off (the default) and
on (``promotion: {auto: true}``: one more listing, the workspace's newest experiments, here with
an evaluated experiment in it that has nothing new). Not a test; run it by hand:

    python benchmarks/sensor_tick.py [--composites 300] [--latency-ms 20] [--ticks 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

_config_fd, _config_path = tempfile.mkstemp(suffix=".opik.config")
os.write(_config_fd, b"[opik]\n")
os.close(_config_fd)
os.environ.update(
    {
        "OPIK_CONFIG_PATH": _config_path,
        "OPIK_ANALYTICS_ENABLE": "false",
        "OPIK_SENTRY_ENABLE": "false",
        "OPIK_TRACK_DISABLE": "true",
        "OPIK_WORKSPACE": "bench",
    }
)

import dagster as dg  # noqa: E402
import yaml  # noqa: E402

from opik_emulator import EmulatorServer  # noqa: E402

PROJECT = "sensor-bench"


def write_config(directory: Path, composites: int, auto: bool = False) -> Path:
    names = [f"task{i:04d}" for i in range(composites)]
    charter = {"persona": {"template": "You are the moderator.", "type": "mustache"}}
    charter |= {name: {"template": f"{name}: {{{{post}}}}", "type": "mustache"} for name in names}
    (directory / "charter.json").write_text(json.dumps(charter, indent=2) + "\n")
    config = {
        "charter": "charter.json",
        "opik": {"project_name": PROJECT},
        "composites": {
            f"c-{name}": {"system_prompt": "persona", "user_prompt": name} for name in names
        },
    }
    if auto:
        config["promotion"] = {"environment": "production", "metric": "accuracy", "auto": True}
    path = directory / "prompt_sync.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def evaluate_one(client: Any, prompt: Any) -> None:
    """One experiment of the SDK's evaluate() on a composite: the auto gate's listing finds it."""
    from opik.api_objects import opik_client
    from opik.evaluation import evaluate
    from opik.evaluation.metrics import base_metric, score_result

    class Accuracy(base_metric.BaseMetric):
        def score(self, output: float, **ignored: Any) -> score_result.ScoreResult:
            return score_result.ScoreResult(name="accuracy", value=output)

    dataset = client.get_or_create_dataset("bench-eval", project_name=PROJECT)
    dataset.insert([{"input": {"post": f"post {i}"}} for i in range(5)])
    opik_client.set_global_client(client)
    try:
        evaluate(
            dataset=dataset,
            task=lambda item: {"output": 1.0},
            scoring_metrics=[Accuracy(name="accuracy")],
            experiment_name="bench",
            prompts=[prompt],
            verbose=0,
            task_threads=1,
        )
    finally:
        opik_client.reset_global_client(end_client=False)
    client.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--composites", type=int, default=300)
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--ticks", type=int, default=5)
    args = parser.parse_args()

    with EmulatorServer() as server, tempfile.TemporaryDirectory() as tmp:
        os.environ["OPIK_URL_OVERRIDE"] = server.url
        plain = str(write_config(Path(tmp), args.composites))
        (Path(tmp) / "auto").mkdir()
        (Path(tmp) / "auto" / "charter.json").write_text((Path(tmp) / "charter.json").read_text())
        gated = str(write_config(Path(tmp) / "auto", args.composites, auto=True))
        import opik

        from prompt_sync_pipeline.definitions import defs as code_location

        client = opik.Opik()
        messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "{{post}}"}]
        for i in range(args.composites):
            client.create_chat_prompt(
                name=f"c-task{i:04d}", messages=messages, project_name=PROJECT
            )
        evaluate_one(client, client.get_chat_prompt(name="c-task0000", project_name=PROJECT))
        client.end()

        for label, config in (("auto gate off", plain), ("auto gate on", gated)):
            os.environ["PROMPT_SYNC_CONFIG"] = config
            defs = code_location()  # the forseti instance reads PROMPT_SYNC_CONFIG when it loads
            sensor = defs.resolve_sensor_def("forseti_opik_prompt_changes")
            resources = defs.resources
            with dg.instance_for_test() as instance:

                def tick(
                    cursor: str | None, sensor: Any = sensor, resources: Any = resources
                ) -> Any:  # the tick's SensorExecutionData
                    with dg.build_sensor_context(
                        instance=instance, cursor=cursor, resources=resources
                    ) as context:
                        return sensor.evaluate_tick(context)

                cursor = tick(None).cursor  # the start-up state goes to one run
                for latency in (0.0, args.latency_ms):
                    server.control.set_latency(latency)
                    durations = []
                    for _ in range(args.ticks):
                        server.requests.clear()
                        started = time.perf_counter()
                        result = tick(cursor)
                        durations.append(time.perf_counter() - started)
                        assert result.skip_message, "a no-change tick should skip"
                    requests = len(server.requests.records())
                    print(
                        f"{args.composites} composites, {label}, {latency:g} ms added latency: "
                        f"{requests} requests per tick, median "
                        f"{statistics.median(durations) * 1000:.0f} ms"
                    )
                server.control.set_latency(0)
    os.remove(_config_path)


if __name__ == "__main__":
    main()
