"""One exception tree. Every class builds its own user-facing message."""

from __future__ import annotations

import difflib

# Everything str.splitlines() breaks at, and every other control character (an escape sequence
# starts with one): shown escaped, so a name, key or file name cannot turn one error into several
# lines or reach the terminal as a command.
_CONTROLS = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0)) if chr(c) != "\t"] + ["\u2028", "\u2029"]
_LINE_BREAKS = str.maketrans({c: c.encode("unicode_escape").decode() for c in _CONTROLS})


def suggest(word: str, choices: object) -> str:
    """'did you mean X?' for a near miss, else ''."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)  # type: ignore[attr-defined]
    return f"did you mean `{close[0]}`?" if close else ""


def one_line(text: str) -> str:
    return text.translate(_LINE_BREAKS)


class CoachError(Exception):
    """Base of every error coach reports to a user (as one line, no traceback)."""

    hint: str = ""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        if hint:
            self.hint = hint

    def __str__(self) -> str:
        return one_line(f"{self.message} ({self.hint})" if self.hint else self.message)


class RoutineError(CoachError):
    """A problem in a routine or phrasebook file, located at FILE:LINE."""

    def __init__(self, message: str, file: str = "", line: int = 0, hint: str = "") -> None:
        super().__init__(message, hint)
        self.file = file
        self.line = line

    def __str__(self) -> str:
        where = self.file or "<routine>"
        if self.line:
            where = f"{where}:{self.line}"
        text = f"{where}: {self.message}"
        return one_line(f"{text} ({self.hint})" if self.hint else text)


class RoutineErrors(CoachError):
    """Several routine problems, reported together (each on its own line)."""

    def __init__(self, errors: list[RoutineError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors

    def __str__(self) -> str:
        return self.message


class ToolMissing(CoachError):
    """A required external tool (speech engine, encoder, audio device) is not available."""


class EngineError(CoachError):
    """The speech engine failed or was asked for something it cannot do."""


class EncoderError(CoachError):
    """The audio encoder failed."""


class MediaError(CoachError):
    """A file given to decorate the output (cover image, music) cannot be used."""


class OutputError(CoachError):
    """The output file cannot be written (folder missing, read-only, disk full)."""


class DeviceError(CoachError):
    """No audio output device could be opened, or it stopped playing."""


class StartError(CoachError):
    """`coach play --from` names no exercise and no time inside the session."""
