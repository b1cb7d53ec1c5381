"""The web app: a key on every request, the two pages, and each session's files — nothing else.

Every address is looked up in a table (session slugs, asset names): nothing a request says is
ever made into a file path, so no request can reach a file the server was not started with.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from importlib import resources

from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coach.serve.sessions import Served

KEY_PARAM = "k"
COOKIE = "coach_key"
ASSETS = {"app.js": "text/javascript", "style.css": "text/css"}
PAGES = ("index.html", "player.html")
# Only this server's own files: no script, style, image or sound from anywhere else.
POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; connect-src 'self'"
SECURITY = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "cache-control": "no-store"}


def new_key() -> str:
    return secrets.token_urlsafe(12)


def create(served: Sequence[Served], key: str) -> ASGIApp:
    """The ASGI app for these sessions, behind `key`."""
    sessions = {s.slug: s for s in served}
    static = {name: (resources.files("coach.serve") / "static" / name).read_bytes() for name in (*ASSETS, *PAGES)}
    listing = json.dumps([s.summary() for s in served], ensure_ascii=False).encode("utf-8")

    def session(request: Request) -> Served:
        found = sessions.get(request.path_params["slug"])
        if found is None:
            raise _NotFound
        return found

    def page(name: str) -> Response:
        return Response(static[name], media_type="text/html", headers={**SECURITY, "content-security-policy": POLICY})

    async def index(request: Request) -> Response:
        return page("index.html")

    async def player(request: Request) -> Response:
        session(request)
        return page("player.html")

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            raise _NotFound
        return Response(static[name], media_type=ASSETS[name], headers=SECURITY)

    async def sessions_json(request: Request) -> Response:
        return Response(listing, media_type="application/json", headers=SECURITY)

    async def timeline(request: Request) -> Response:
        return Response(session(request).timeline, media_type="application/json", headers=SECURITY)

    async def cover(request: Request) -> Response:
        found = session(request)
        if not found.cover:
            raise _NotFound
        return Response(found.cover, media_type=found.cover_mime, headers={"x-content-type-options": "nosniff"})

    async def audio(request: Request) -> Response:
        # FileResponse answers Range requests (206, several ranges, If-Range, 416): iOS needs them.
        return FileResponse(session(request).audio, media_type="audio/mpeg")

    async def download(request: Request) -> Response:
        found = session(request)
        return FileResponse(found.audio, media_type="audio/mpeg", filename=f"{found.slug}.mp3")

    routes = [
        Route("/", index, methods=["GET", "HEAD"]),
        Route("/play/{slug}", player, methods=["GET", "HEAD"]),
        Route("/assets/{name}", asset, methods=["GET", "HEAD"]),
        Route("/api/sessions.json", sessions_json, methods=["GET", "HEAD"]),
        Route("/s/{slug}/timeline.json", timeline, methods=["GET", "HEAD"]),
        Route("/s/{slug}/cover", cover, methods=["GET", "HEAD"]),
        Route("/s/{slug}/audio.mp3", audio, methods=["GET", "HEAD"]),
        Route("/s/{slug}/download", download, methods=["GET", "HEAD"]),
    ]
    app = Starlette(routes=routes, exception_handlers={_NotFound: _not_found, 404: _not_found})
    return KeyGate(app, key)


class _NotFound(Exception):
    """An address that names no session or asset of this server."""


async def _not_found(request: Request, exc: Exception) -> Response:
    return PlainTextResponse("not found", status_code=404, headers=SECURITY)


class KeyGate:
    """Lets a request through only with the key: as `?k=KEY`, or as the cookie set by the first
    request that had it (so the page's own requests, the audio and the lock screen's artwork need
    no key in their addresses). A wrong key in the address is refused even with a good cookie."""

    def __init__(self, app: ASGIApp, key: str) -> None:
        self.app = app
        self.key = key.encode("utf-8")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        given = connection.query_params.get(KEY_PARAM)
        if not self._matches(given if given is not None else connection.cookies.get(COOKIE)):
            await PlainTextResponse("forbidden: open the address `coach serve` printed, with its key", 403,
                                    headers=SECURITY)(scope, receive, send)
            return
        if given is None:
            await self.app(scope, receive, send)
            return
        cookie = f"{COOKIE}={given}; Path=/; HttpOnly; SameSite=Strict".encode("latin-1")

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie)]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _matches(self, given: str | None) -> bool:
        return given is not None and secrets.compare_digest(given.encode("utf-8", "surrogateescape"), self.key)
