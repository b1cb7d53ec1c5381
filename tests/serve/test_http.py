"""The server as a phone's browser (and anyone else on the network) meets it: the key, Range,
only its own files, and 4xx for what it cannot answer."""

from __future__ import annotations

import http.client
import socket
import urllib.parse

import pytest

from coach.serve import app as web
from coach.serve.sessions import Served

from .harness import Running


def get(site: Running, path: str, headers: dict[str, str] | None = None, method: str = "GET") -> http.client.HTTPResponse:
    """A request with `path` sent exactly as written (no client-side normalising of `..`)."""
    connection = http.client.HTTPConnection("127.0.0.1", site.port, timeout=10)
    connection.request(method, path, headers=headers or {})
    response = connection.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    connection.close()
    return response


def keyed(site: Running, path: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}k={site.key}"


def test_listens_on_loopback_only(site: Running) -> None:
    assert site.base.startswith("http://127.0.0.1:")


def test_range_request_gets_the_right_bytes(site: Running, short: Served) -> None:
    data = short.audio.read_bytes()
    path = keyed(site, f"/s/{short.slug}/audio.mp3")
    whole = get(site, path)
    assert whole.status == 200 and whole.body == data  # type: ignore[attr-defined]
    assert whole.getheader("accept-ranges") == "bytes" and whole.getheader("content-type") == "audio/mpeg"
    for header, start, end in [("bytes=100-1099", 100, 1100), ("bytes=0-0", 0, 1), (f"bytes={len(data) - 10}-", len(data) - 10, len(data)),
                               ("bytes=-500", len(data) - 500, len(data)), (f"bytes=5000-{len(data) * 2}", 5000, len(data))]:
        part = get(site, path, {"Range": header})
        assert part.status == 206, header
        assert part.body == data[start:end], header  # type: ignore[attr-defined]
        assert part.getheader("content-range") == f"bytes {start}-{end - 1}/{len(data)}"
        assert int(part.getheader("content-length") or -1) == end - start


def test_unsatisfiable_and_malformed_ranges(site: Running, short: Served) -> None:
    size = short.audio.stat().st_size
    path = keyed(site, f"/s/{short.slug}/audio.mp3")
    beyond = get(site, path, {"Range": f"bytes={size}-{size + 10}"})
    assert beyond.status == 416 and beyond.getheader("content-range") == f"bytes */{size}"
    for header in ("bytes=abc", "items=0-10", "bytes=10-5"):
        assert get(site, path, {"Range": header}).status == 400, header


def test_several_ranges_at_once(site: Running, short: Served) -> None:
    data = short.audio.read_bytes()
    response = get(site, keyed(site, f"/s/{short.slug}/audio.mp3"), {"Range": "bytes=0-9,2000-2009"})
    assert response.status == 206 and response.getheader("content-type", "").startswith("multipart/byteranges")
    assert data[0:10] in response.body and data[2000:2010] in response.body  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", ["/", "/api/sessions.json", "/assets/app.js", "/play/short-serve-test",
                                  "/s/short-serve-test/audio.mp3", "/s/short-serve-test/cover"])
def test_no_key_or_a_wrong_key_is_refused(site: Running, path: str) -> None:
    assert get(site, path).status == 403
    assert get(site, f"{path}?k=wrong").status == 403
    assert get(site, f"{path}?k=").status == 403
    assert get(site, f"{path}?k={site.key}x").status == 403
    assert get(site, f"{path}?k=%C3%A9%FF").status == 403  # not even UTF-8
    assert get(site, path, {"Cookie": f"{web.COOKIE}=nope"}).status == 403
    assert get(site, path, {"Cookie": f"{web.COOKIE}={site.key}"}).status == 200
    assert get(site, f"{path}?k=wrong", {"Cookie": f"{web.COOKIE}={site.key}"}).status == 403


def test_the_key_sets_a_cookie_for_the_page_s_own_requests(site: Running) -> None:
    response = get(site, keyed(site, "/"))
    assert response.status == 200
    cookie = response.getheader("set-cookie") or ""
    assert cookie.startswith(f"{web.COOKIE}={site.key};") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert get(site, "/").getheader("set-cookie") is None  # a refused request sets nothing


TRAVERSALS = [
    "/../../../../etc/passwd", "/assets/../../../etc/passwd", "/assets/..%2f..%2f..%2fetc%2fpasswd",
    "/assets/%2e%2e/%2e%2e/etc/passwd", "/assets/%252e%252e%252fetc%252fpasswd", "//etc/passwd", "/etc/passwd",
    "/assets/app.js/../../../etc/passwd", "/assets//etc/passwd", "/assets/%2Fetc%2Fpasswd", "/s/..%2F..%2Fetc/audio.mp3",
    "/s/%2e%2e/audio.mp3", "/s/short-serve-test/../../../etc/passwd", "/s/short-serve-test/short-serve-test.mp3",
    "/static/app.js", "/coach/serve/static/app.js", "/assets/index.html", "/assets/", "/s/", "/s/short-serve-test/",
    "/play/", "/play/nope", "/play/..", "/s/nope/audio.mp3", "/assets/app.js%00.png", "/assets/C:%5Cwindows%5Cwin.ini",
    "/favicon.ico", "/api", "/api/", "/index.html", "/player.html",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_only_its_own_files(site: Running, path: str) -> None:
    response = get(site, keyed(site, path))
    assert response.status == 404, path
    assert b"root:" not in response.body  # type: ignore[attr-defined]


def test_absolute_form_request_target(site: Running) -> None:
    """`GET http://host/etc/passwd` (the form proxies are sent): not an address of this server."""
    for target in (f"http://127.0.0.1:{site.port}/etc/passwd", "file:///etc/passwd", f"http://127.0.0.1:{site.port}/"):
        response = get(site, keyed(site, target))
        assert response.status == 404 and b"root:" not in response.body  # type: ignore[attr-defined]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_refused(site: Running, method: str) -> None:
    assert get(site, keyed(site, "/"), method=method).status == 405


def test_head_answers_without_a_body(site: Running, short: Served) -> None:
    response = get(site, keyed(site, f"/s/{short.slug}/audio.mp3"), method="HEAD")
    assert response.status == 200 and response.body == b""  # type: ignore[attr-defined]
    assert int(response.getheader("content-length") or -1) == short.audio.stat().st_size


@pytest.mark.parametrize("request_bytes", [b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
                                           b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"])
def test_malformed_requests_get_a_4xx(site: Running, request_bytes: bytes) -> None:
    with socket.create_connection(("127.0.0.1", site.port), timeout=10) as conn:
        conn.sendall(request_bytes)
        reply = conn.recv(4096)
    assert reply.startswith(b"HTTP/1.1 4"), reply[:60]


def test_pages_allow_only_their_own_resources(site: Running) -> None:
    for path in ("/", "/play/short-serve-test"):
        response = get(site, keyed(site, path))
        assert response.getheader("content-security-policy") == web.POLICY
        assert response.getheader("x-content-type-options") == "nosniff"
        body = response.body.decode()  # type: ignore[attr-defined]
        assert "http://" not in body and "https://" not in body  # no CDN: works offline


def test_sessions_json_lists_what_the_pages_need(site: Running, served: list[Served]) -> None:
    import json

    listing = json.loads(get(site, keyed(site, "/api/sessions.json")).body)  # type: ignore[attr-defined]
    assert [s["slug"] for s in listing] == [s.slug for s in served]
    for entry, session in zip(listing, served):
        assert (entry["title"], entry["duration_ms"], len(entry["blocks"])) == (session.title, session.duration_ms, len(session.blocks))
        for url in (entry["player"], entry["timeline"], entry["audio"], entry["cover"], entry["download"]):
            assert get(site, keyed(site, urllib.parse.quote(url))).status == 200, url
        assert entry["cover_type"] == "image/jpeg"
