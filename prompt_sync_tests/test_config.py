"""The configuration file: validated, with the file and the key named in every error."""

from __future__ import annotations

import pytest

from prompt_sync_pipeline.sync.config import ConfigError, load_config
from prompt_sync_tests.forseti import EXAMPLE


def test_the_shipped_example_loads_with_the_charter_beside_it():
    config = load_config(EXAMPLE / "prompt_sync.yaml")
    assert config.charter == (EXAMPLE / "forseti_charter.json").resolve()
    assert config.opik.project_name == "forseti"
    assert config.composites_using("forseti.persona") == [
        "forseti-persona-charter",
        "forseti-persona-category",
        "forseti-persona-wording",
    ]


def test_an_empty_section_means_its_defaults(tmp_path):
    path = tmp_path / "prompt_sync.yaml"
    path.write_text(
        "charter: c.json\nopik: {project_name: p}\n"
        "composites: {a: {system_prompt: x, user_prompt: y}}\n"
        "sensor:\npromotion:\n  # auto: true\n"
    )
    config = load_config(path)
    assert (config.promotion.environment, config.promotion.auto) == ("production", False)
    assert config.sensor == type(config.sensor)()


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("charter: c.json\nopik: {project_name: p}\ncomposites: {}\n", "composites"),
        (
            "charter: c.json\ncomposites: {a: {system_prompt: x, user_prompt: y}}\n",
            "opik: missing (required)",
        ),
        (
            "charter: c.json\nopik: {project_name: p}\ncomposites: {a: {system_prompt: x}}\n",
            "composites.a.user_prompt",
        ),
        (
            "charter: c.json\nopik: {project_name: p, pull_environment: 'bad env'}\n"
            "composites: {a: {system_prompt: x, user_prompt: y}}\n",
            "opik.pull_environment",
        ),
        ("charter: [\n", "not valid YAML"),
        ("- a list\n", "expected a mapping"),
    ],
)
def test_invalid_configuration_names_the_file_and_key(tmp_path, yaml_text, message):
    path = tmp_path / "prompt_sync.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError, match=r"prompt_sync\.yaml") as error:
        load_config(path)
    assert message in str(error.value)
