"""Listening: the socket, the address to open (with its QR code), and uvicorn until Ctrl-C."""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator

from coach.errors import CoachError

LOOPBACK = "127.0.0.1"
ANY = ("0.0.0.0", "::", "")


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on `host`:`port` (0: any free port), or one clear error."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        raise CoachError(f"cannot listen on `{host}`: no such address", "use --host 127.0.0.1, or --lan") from None
    family, _, _, _, address = infos[0]
    try:
        return socket.create_server(address[:2], family=family, backlog=64)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise CoachError(f"port {port} is in use", "choose another with --port N, or --port 0 for any free one") from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise CoachError(f"not allowed to listen on port {port}", "use a port above 1023, or --port 0") from None
        raise CoachError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def address(sock: socket.socket, key: str) -> str:
    """The address to open: the LAN address when listening on every interface."""
    host, port = sock.getsockname()[:2]
    if host in ANY:
        host = lan_address()
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/?k={key}"


def lan_address() -> str:
    """This machine's address on the local network: the one a packet to a private address would
    leave from (a UDP socket's connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            return str(probe.getsockname()[0])
        except OSError:
            return LOOPBACK


def is_loopback(sock: socket.socket) -> bool:
    host = sock.getsockname()[0]
    return host.startswith("127.") or host == "::1"


def qr_lines(text: str) -> Iterator[str]:
    """`text` as a QR code drawn with half blocks, two module rows a line, in explicit black and
    white (so it scans on dark and light terminals alike), with the quiet zone scanners need."""
    import segno

    rows = [list(row) for row in segno.make(text, error="m").matrix_iter(border=2)]
    black, white = "0", "15"
    for top, bottom in zip(rows[::2], [*rows[1::2], [0] * len(rows[0])]):
        line = "".join(f"\x1b[38;5;{black if t else white}m\x1b[48;5;{black if b else white}m\u2580" for t, b in zip(top, bottom))
        yield line + "\x1b[0m"


def run(app: object, sock: socket.socket) -> None:
    """Serve until Ctrl-C; uvicorn then raises the SIGINT again, for coach's entry to report."""
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", server_header=False,  # type: ignore[arg-type]
                            timeout_graceful_shutdown=2)
    uvicorn.Server(config).run(sockets=[sock])
