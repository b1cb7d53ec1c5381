"""Render options flow in one place: every field that shapes the audio is in the remembered
mastering's key without being listed anywhere, and the command line shows the defaults the
options have."""

from __future__ import annotations

import typing
from dataclasses import fields, replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from coach import defaults
from coach.cli import app
from coach.output import render as rendering
from coach.output.render import NOT_AUDIO, RenderOptions
from coach.routine import loader
from coach.session import Session, SpeechOptions, prepare


@pytest.fixture(scope="module")
def session() -> Session:
    return prepare(loader.load(), SpeechOptions(engine="fake", no_cache=True))


def _other(value: object, hint: object) -> object:
    """A value of the field's type other than `value`."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, tuple):
        return (*value, "x")
    kinds = typing.get_args(hint)  # X | None, the value None
    if Path in kinds:
        return Path("elsewhere")
    if str in kinds:
        return "96k"
    if int in kinds:
        return 3
    raise AssertionError(f"no other value known for {hint!r}: teach _other this type")


def _key(session: Session, options: RenderOptions) -> str:
    mix = rendering.build_mixdown(session, RenderOptions(), ())
    return rendering._mastering_key(session, mix, options, ())


def test_every_field_that_shapes_the_audio_is_in_the_mastering_key(session: Session) -> None:
    names = {f.name for f in fields(RenderOptions)}
    assert NOT_AUDIO <= names, NOT_AUDIO - names  # no stale name excused
    hints = typing.get_type_hints(RenderOptions)
    base = RenderOptions()
    first = _key(session, base)
    for field in fields(RenderOptions):
        other = replace(base, **{field.name: _other(getattr(base, field.name), hints[field.name])})
        changed = _key(session, other) != first
        if field.name in NOT_AUDIO:
            assert not changed, f"{field.name} is said not to shape the audio, yet it changes the key"
        else:
            assert changed, f"{field.name} shapes the audio but is not in the remembered mastering's key"


def test_the_command_line_shows_the_defaults_the_options_have() -> None:
    result = CliRunner().invoke(app, ["render", "--help"], env={"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"})
    assert result.exit_code == 0
    shown = " ".join(result.output.split())
    base = RenderOptions()
    for flag, value in (("--loudness", base.loudness), ("--music-level", base.music_level), ("--duck", base.duck),
                        ("--sample-rate", base.rate), ("--chapters", base.chapters)):
        assert flag in shown and f"default: {value}" in shown, (flag, value)
    assert (base.loudness, base.true_peak, base.rate) == (defaults.TARGET_LUFS, defaults.CEILING_DBTP, defaults.SAMPLE_RATE)


def test_an_unknown_format_is_one_line_before_any_work(tmp_path: Path) -> None:
    from coach.errors import CoachError
    from coach.output import formats, options

    result = CliRunner().invoke(app, ["render", "--engine", "fake", "-o", str(tmp_path / "x.flac")])
    assert result.exit_code != 0 and list(tmp_path.iterdir()) == []
    with pytest.raises(CoachError, match="unknown format `flac`"):
        formats.check_format("flac")
    with pytest.raises(CoachError, match="unknown format `flac`"):
        options.check(RenderOptions(format="flac"))
