"""`coach serve` as a user runs it: renders, prints the address, answers, stops cleanly on Ctrl-C."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import segno

from coach.audio.decoded import measure_decoded
from coach.serve import server
from tests.procs import assert_one_line_error, coach, command, env

from .harness import SHORT


def start(*args: str, cwd: Path) -> tuple[subprocess.Popen[str], str]:
    """`coach serve ARGS` in a child process; returns it and the address it printed."""
    child = subprocess.Popen(command("serve", *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd, env=env())
    assert child.stdout is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        if line.strip().startswith("http://"):
            return child, line.strip()
    child.kill()
    raise AssertionError(f"no address printed: {child.communicate()}")


def test_serve_prints_its_address_answers_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    child, url = start(str(SHORT), "--engine", "fake", "--port", "0", cwd=tmp_path)
    try:
        assert url.startswith("http://127.0.0.1:") and "/?k=" in url
        with urllib.request.urlopen(url, timeout=10) as page:
            assert page.status == 200 and b"/assets/app.js" in page.read()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url.split("?")[0], timeout=10)
        assert refused.value.code == 403
    finally:
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=30)
    assert child.returncode == 130, err
    assert err.strip().splitlines()[-1] == "coach: interrupted" and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # rendered into its own folder, which is gone


def test_the_audio_options_of_coach_render_apply_and_the_render_is_kept(tmp_path: Path, _isolated_cache: Path) -> None:
    def serve_once() -> Path:
        child, url = start(str(SHORT), "--engine", "fake", "--port", "0", "--sample-rate", "48000", "--loudness", "-20",
                           cwd=tmp_path)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=30)
        assert child.returncode == 130, err
        (served,) = (_isolated_cache / "served").glob("*.mp3")
        return served

    served = serve_once()
    measured = measure_decoded(served, 48000, 1)
    assert abs(measured.integrated - -20) < 0.5, measured
    kept = served.stat().st_ino
    assert serve_once().stat().st_ino == kept  # the next start serves that file as it is (a render renames a new one in)
    assert list(tmp_path.iterdir()) == []


def test_a_bad_routine_fails_before_anything_listens(write_routine) -> None:  # type: ignore[no-untyped-def]
    good = write_routine("title: Fine\nblocks:\n  - name: A\n    exercises: [Squat]\n", "good.yaml")
    bad = write_routine("title: Broken\nblocks:\n  - name: A\n    exercises:\n      - name: Squat\n        wrok: 30s\n", "bad.yaml")
    result = coach("serve", str(good), str(bad), "--engine", "fake", "--port", "0", timeout=60)
    assert_one_line_error(result, f"{bad}:6", "wrok")
    assert result.stdout == ""


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = coach("serve", str(SHORT), "--engine", "fake", "--port", str(taken.getsockname()[1]), cwd=tmp_path, timeout=60)
    assert_one_line_error(result, "is in use", "--port 0")


def test_help_does_not_load_the_web_stack() -> None:
    probe = ("import sys\nsys.argv = ['coach', '--help']\nfrom coach import cli\ntry:\n    cli.main()\nexcept SystemExit:\n    pass\n"
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'starlette', 'uvicorn', 'segno', 'anyio', 'h11'}))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env(), timeout=60)
    assert result.returncode == 0, result.stderr
    assert "serve" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "[]"


class _Bound:
    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)

    def getsockname(self) -> tuple[str, int]:
        return self.address


def test_the_address_printed_for_each_host() -> None:
    assert server.address(_Bound("127.0.0.1", 8765), "KEY") == "http://127.0.0.1:8765/?k=KEY"  # type: ignore[arg-type]
    lan = server.lan_address()
    socket.inet_aton(lan)  # an IPv4 address
    assert server.address(_Bound("0.0.0.0", 8765), "KEY") == f"http://{lan}:8765/?k=KEY"  # type: ignore[arg-type]
    assert server.address(_Bound("::1", 9000), "KEY") == "http://[::1]:9000/?k=KEY"  # type: ignore[arg-type]
    assert server.is_loopback(_Bound("127.0.0.1", 1)) and not server.is_loopback(_Bound("0.0.0.0", 1))  # type: ignore[arg-type]


def test_port_zero_picks_a_free_port_and_a_bad_host_is_one_error() -> None:
    with server.listen("127.0.0.1", 0) as sock:
        assert sock.getsockname()[1] > 0
    with pytest.raises(server.CoachError, match="no such address"):
        server.listen("no-such-host.invalid", 0)


def test_qr_code_in_the_terminal_is_the_address() -> None:
    """Read the printed code back, two module rows a character: it is segno's matrix of the URL."""
    url = "http://192.168.1.20:8765/?k=abcdefghijklmnop"
    lines = list(server.qr_lines(url))
    decoded: list[list[int]] = []
    for line in lines:
        cells = line.split("\u2580")[:-1]
        top = [1 if "38;5;0m" in cell else 0 for cell in cells]
        bottom = [1 if "48;5;0m" in cell else 0 for cell in cells]
        decoded += [top, bottom]
    expected = [list(row) for row in segno.make(url, error="m").matrix_iter(border=2)]
    assert decoded[: len(expected)] == expected
    assert not any(sum(decoded[len(expected):], []))  # an odd row count ends in a light half row
