"""Docs checked against the code: every command has help and appears in the README."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from coach.cli import app
from coach.routine.wording import PLACEHOLDERS

ROOT = Path(__file__).resolve().parents[1]


def commands() -> dict[str, object]:
    group = typer.main.get_command(app)
    return dict(group.commands)  # type: ignore[attr-defined]


def test_every_command_has_help_and_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, command in commands().items():
        assert command.help, f"`coach {name}` has no help"
        assert f"coach {name}" in readme, f"`coach {name}` is not in the README"


def test_readme_quickstart_commands_match_ci() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)\n```", readme, flags=re.S)
    assert blocks[0].startswith("python3 -m pip install -e . && python3 -m coach render")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert blocks[1] in ci


def test_format_reference_lists_every_cue_kind() -> None:
    reference = (ROOT / "docs" / "format.md").read_text(encoding="utf-8")
    for kind in PLACEHOLDERS:
        assert f"| `{kind}` |" in reference, kind
