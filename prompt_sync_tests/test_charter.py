"""The charter file: validated reads, diff-friendly atomic writes that survive a crash."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from prompt_sync_pipeline.sync.charter import CharterError, load_charter, write_charter

CHARTER = """{
    "greeting": {
        "template": "Bonjour {{name}}, ça va ?",
        "type": "mustache"
    },
    "farewell": {
        "description": "kept where it is",
        "template": "Bye {{name}}",
        "type": "jinja2"
    }
}
"""


def test_rewrite_changes_only_the_updated_prompt_lines(tmp_path):
    path = tmp_path / "charter.json"
    path.write_text(CHARTER, encoding="utf-8")

    write_charter(load_charter(path).with_templates({"farewell": "Au revoir {{name}}"}))

    before, after = CHARTER.splitlines(), path.read_text(encoding="utf-8").splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed == [
        ('        "template": "Bye {{name}}",', '        "template": "Au revoir {{name}}",')
    ]
    assert path.read_text(encoding="utf-8").endswith("}\n")
    assert "ça va" in path.read_text(encoding="utf-8")  # non-ASCII stays readable


def test_unchanged_charter_renders_byte_for_byte(tmp_path):
    path = tmp_path / "charter.json"
    path.write_text(CHARTER, encoding="utf-8")
    assert load_charter(path).render() == CHARTER


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not valid JSON"),
        ('{"a": {"template": ""}}', "prompt 'a': template: must not be empty"),
        (
            '{"a": {"template": "x", "colour": "red"}}',
            "prompt 'a': colour: unknown key; the keys here: template, type",
        ),
        ('{"a": "just text"}', "prompt 'a'"),
    ],
)
def test_invalid_charters_say_which_prompt_and_key(tmp_path, content, message):
    path = tmp_path / "charter.json"
    path.write_text(content)
    with pytest.raises(CharterError, match=r"charter\.json") as error:
        load_charter(path)
    assert message in str(error.value)


CRASH = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from prompt_sync_pipeline.sync import atomic, charter as module

    path = Path(sys.argv[1])
    stage = sys.argv[2]
    real_write = atomic.os.fdopen

    if stage == "mid-write":
        class Half:
            def __init__(self, handle):
                self.handle = handle
            def __enter__(self):
                return self
            def __exit__(self, *exc):
                return False
            def write(self, text):
                self.handle.write(text[: len(text) // 2])
                self.handle.flush()
                os._exit(9)  # the process dies with half the new file on disk
        atomic.os.fdopen = lambda fd, *a, **k: Half(real_write(fd, *a, **k))
    else:
        atomic.os.replace = lambda *a: os._exit(9)  # dies just before the rename

    charter = module.load_charter(path)
    module.write_charter(charter.with_templates({"greeting": "NEW " * 5000}))
    """
)


@pytest.mark.parametrize("stage", ["mid-write", "before-rename"])
def test_a_crash_mid_write_leaves_the_old_file_whole(tmp_path, stage):
    path = tmp_path / "charter.json"
    path.write_text(CHARTER, encoding="utf-8")

    crashed = subprocess.run([sys.executable, "-c", CRASH, str(path), stage], check=False)

    assert crashed.returncode == 9
    assert path.read_text(encoding="utf-8") == CHARTER
    assert json.loads(path.read_text(encoding="utf-8"))["greeting"]["template"].startswith(
        "Bonjour"
    )
    # The next successful write replaces the file and leaves no stray temp files behind it.
    write_charter(load_charter(path).with_templates({"greeting": "Salut {{name}}"}))
    assert load_charter(path)["greeting"].template == "Salut {{name}}"
