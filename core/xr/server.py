"""The WebXR viewer's web routes (Starlette), served by the app beside Streamlit (``st.App(routes=...)`` in
``app.py``) or on their own (:func:`standalone_app`, for the benchmark).

============================================  ==============================================================
``GET  /xr/{scene}``                          the viewer page (three.js; desktop and "Enter VR")
``GET  /xr/static/...``                       the viewer's bundled JavaScript and style sheet
``GET  /api/scenes/{scene}/model.glb``        the scene's model (binary glTF, from the database)
``GET  /api/scenes/{scene}/annotations``      its pins, oldest first: ``[{"id", "position", "label", "created"}]``
``POST /api/scenes/{scene}/annotations``      add one: JSON ``{"position": [x, y, z], "label": "..."}`` → 201
``PATCH /api/scenes/{scene}/annotations/N``   relabel one: JSON ``{"label": "..."}`` → 200
``DELETE /api/scenes/{scene}/annotations/N``  remove one → 204
============================================  ==============================================================

A scene id is a 128-bit random token: whoever has the link (the QR code on the export panel) may view and
annotate that scene, nobody can list scenes. Every answer under ``/api/scenes/`` is JSON ``{"error": sentence}``
unless it succeeds: 404 for unknown scenes and pins (also ids that cannot be one, such as a pin past 2**31 - 1, and
any other path there), 405 with ``Allow`` for another method (HEAD goes with GET), 400 for bad content (a body that
is not one flat JSON object, nested, ``NaN``, a key twice, a label or position the store refuses), 408 for a body
that does not arrive within :data:`BODY_TIMEOUT_S`, 413 past :data:`MAX_BODY_BYTES`, 415 for a body that is not JSON
(which also keeps plain HTML forms on other sites from posting), 503 when the database cannot be reached. Each
method is answered by the route itself, so Streamlit's catch-all (its index page) never answers an API path.

Labels are data: stored as given (stripped), sent as JSON (ASCII, escaped), drawn by the viewer with ``textContent``
and canvas text; the page's Content Security Policy allows no inline script and no framing, and every answer says
``X-Content-Type-Options: nosniff``.
"""

from __future__ import annotations

import asyncio
import functools
import html
import json
import logging
import re
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from core.errors import InputError
from core.store.audit import AuditTrail
from core.store.db import StoreError
from core.store.scenes import Annotation, Scene, SceneNotFound, SceneStore

__all__ = ["BODY_TIMEOUT_S", "MAX_BODY_BYTES", "STATIC", "routes", "standalone_app", "viewer_path"]

MAX_BODY_BYTES = 4096
BODY_TIMEOUT_S = 10.0  # a client that declares a body and stalls is answered 408 after this long
STATIC = Path(str(resources.files("core.xr") / "static"))
_DIGITS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() also takes "²", which int() refuses
_PIN_ID = re.compile(r"[0-9]{1,10}")  # ASCII digits only (int() would also take other scripts' digits)
_NOSNIFF = {"X-Content-Type-Options": "nosniff"}
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self' data: blob:; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    **_NOSNIFF,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
_API_HEADERS = {**_NOSNIFF, "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
                "Referrer-Policy": "no-referrer"}  # fmt: skip
_NOT_FOUND = "No such scene or annotation: check the link, or create the scene again with 'Open in VR'."
_UNAVAILABLE_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Scene unavailable · X-ray workstation</title></head>
<body><h1>Scene unavailable</h1><p>{message}</p></body>
</html>
"""

Handler = Callable[[Request], Awaitable[Response]]
_log = logging.getLogger(__name__)


def viewer_path(scene_id: str) -> str:
    """The viewer's path for a scene (append it to the app's address)."""
    return f"/xr/{scene_id}"


class _JSON(JSONResponse):
    """JSON as ASCII: a lone surrogate in stored text can never make the reply fail to encode."""

    def render(self, content: object) -> bytes:
        return json.dumps(content, allow_nan=False, separators=(",", ":")).encode("ascii")


def _error(status: int, message: str, *, headers: dict[str, str] | None = None) -> Response:
    return _JSON({"error": message}, status_code=status, headers={**_SECURITY_HEADERS, **(headers or {})})


def _as_json(annotation: Annotation) -> dict:
    return {"id": annotation.id, "position": list(annotation.position), "label": annotation.label,
            "created": annotation.created.isoformat()}  # fmt: skip


class _Refused(Exception):
    """A request refused for its form, before its content is looked at: ``status`` and a sentence."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class _Methods:
    """One path's handlers by method, as an ASGI app: Starlette then routes every method of the path here (a route
    with a method list only partly matches other methods, and Streamlit's catch-all would answer them with its
    index page), so another method gets 405 JSON with ``Allow``. Every answer gets :data:`_API_HEADERS` where it
    does not set them itself; ``otherwise`` answers every method not in ``handlers`` instead."""

    def __init__(self, handlers: dict[str, Handler], *, otherwise: Handler | None = None) -> None:
        self.handlers = {method.upper(): handler for method, handler in handlers.items()}
        self.otherwise = otherwise
        if "GET" in self.handlers:
            self.handlers.setdefault("HEAD", self.handlers["GET"])
        self.allow = ", ".join(sorted(self.handlers))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        handler = self.handlers.get(request.method, self.otherwise)
        if handler is None:
            response = _error(405, f"{request.method} is not answered here; use {self.allow}.",
                              headers={"Allow": self.allow})  # fmt: skip
        else:
            response = await handler(request)
        for name, value in _API_HEADERS.items():
            response.headers.setdefault(name, value)
        await response(scope, receive, send)


async def _read_body(request: Request) -> bytes:
    """The request body: 413 past :data:`MAX_BODY_BYTES` whatever the client says its length is, 408 when it has
    not all arrived within :data:`BODY_TIMEOUT_S` (a client that declares more than it sends would hold the
    request forever)."""
    too_large = _Refused(413, f"An annotation is at most {MAX_BODY_BYTES} bytes of JSON; send a shorter one.")
    declared = request.headers.get("content-length", "")
    if _DIGITS.fullmatch(declared) and (len(declared) > 9 or int(declared) > MAX_BODY_BYTES):
        raise too_large
    body = b""
    try:
        async with asyncio.timeout(BODY_TIMEOUT_S):
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_BODY_BYTES:
                    raise too_large
    except TimeoutError as error:
        raise _Refused(408, f"The request body did not arrive within {BODY_TIMEOUT_S:g} s; send it again.") from error
    except ClientDisconnect as error:
        raise _Refused(400, "The request body was cut off; send it again.") from error
    return body


def _no_constants(name: str) -> float:
    raise _Refused(400, f"The body is not valid JSON ({name} is not a JSON number); send finite numbers.")


def _no_repeats(pairs: list[tuple[str, object]]) -> dict:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise _Refused(400, "The body names a field twice; send each field once.")
    return value


async def _json_object(request: Request) -> dict:
    """The request's JSON object: strict JSON in UTF-8, no ``NaN``/``Infinity``, no key twice, no deep nesting (the
    annotation is flat). Its fields are the store's to check (:class:`SceneStore` refuses a bad label or position
    with a sentence)."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise _Refused(415, "Send the annotation as JSON (Content-Type: application/json).")
    body = await _read_body(request)
    try:
        value = json.loads(body.decode("utf-8"), parse_constant=_no_constants, object_pairs_hook=_no_repeats)
    except RecursionError as error:
        raise _Refused(400, "The body is nested too deeply; an annotation is one flat JSON object.") from error
    except (ValueError, UnicodeDecodeError) as error:  # JSONDecodeError, and ints past Python's 4300 digits
        raise _Refused(400, "The body is not valid JSON (UTF-8); send one JSON object.") from error
    if not isinstance(value, dict):
        raise InputError("An annotation is a JSON object with 'position' ([x, y, z] in metres) and 'label' (text).")
    return value


def _answering(handler: Handler) -> Handler:
    """The API handler with every refusal answered as a JSON sentence: 404 unknown scene or pin, 400 bad content,
    408/413/415 (:class:`_Refused`), 503 when the database cannot be reached (the store's sentence, which names no
    URL, path or SQL)."""

    @functools.wraps(handler)
    async def answer(request: Request) -> Response:
        try:
            return await handler(request)
        except _Refused as refusal:
            return _error(refusal.status, refusal.message)
        except SceneNotFound:
            return _error(404, _NOT_FOUND)
        except InputError as error:
            return _error(400, str(error))
        except StoreError as error:
            return _error(503, str(error))

    return answer


async def _not_found(request: Request) -> Response:
    return _error(404, _NOT_FOUND)


@functools.cache
def _page(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def routes(store: SceneStore | None = None) -> list[BaseRoute]:
    """The viewer's routes, over ``store`` (by default a :class:`SceneStore` on the project's database, opened on
    first use and again after a failure). Each fetch of a scene's model (an opening of the scene) is written to the
    audit trail, by "link" (whoever holds it)."""

    @functools.cache
    def scenes() -> SceneStore:
        return store or SceneStore()

    def opened(scene: Scene) -> None:
        try:
            AuditTrail(scenes().url).record("link", "open-scene", scene.id, scene.title)
        except StoreError as error:  # the viewer still opens; the failure is in the log
            _log.error("audit trail not written for scene %s: %s", scene.id, error)

    def scene_of(request: Request) -> Scene:
        """The request's scene, or :class:`SceneNotFound` (also for ids that cannot be one: the store checks)."""
        return scenes().get(request.path_params["scene"])

    def pin_of(request: Request) -> int:
        """The request's pin id (the store refuses one out of its range), or :class:`SceneNotFound` for text that is
        no number of at most 10 ASCII digits."""
        text = request.path_params["pin"]
        if not _PIN_ID.fullmatch(text):
            raise SceneNotFound("No such annotation.")
        return int(text)

    async def viewer(request: Request) -> Response:
        try:
            scene = await run_in_threadpool(scene_of, request)
        except SceneNotFound:
            return HTMLResponse(_page("missing.html"), status_code=404, headers=_SECURITY_HEADERS)
        except StoreError as error:
            page = _UNAVAILABLE_PAGE.format(message=html.escape(str(error)))
            return HTMLResponse(page, status_code=503, headers={**_SECURITY_HEADERS, "Cache-Control": "no-store"})
        page = _page("viewer.html").replace("{{scene}}", scene.id).replace("{{title}}", html.escape(scene.title))
        return HTMLResponse(page, headers={**_SECURITY_HEADERS, "Cache-Control": "no-store"})

    @_answering
    async def model(request: Request) -> Response:
        scene = await run_in_threadpool(scene_of, request)
        await run_in_threadpool(opened, scene)
        # A scene's model never changes (its id is its version), but the browser asks each time (a 304 costs
        # nothing): a revoked scene is gone from every browser at once, and each opening is audited.
        caching = {"Cache-Control": "private, no-cache", "ETag": f'"{scene.id}"', **_NOSNIFF}
        if request.headers.get("if-none-match") == caching["ETag"]:
            return Response(status_code=304, headers=caching)
        glb = await run_in_threadpool(scenes().model, scene.id)
        return Response(glb, media_type="model/gltf-binary", headers=caching)

    @_answering
    async def pins(request: Request) -> Response:
        scene = await run_in_threadpool(scene_of, request)
        listed = await run_in_threadpool(scenes().annotations, scene.id)
        return _JSON([_as_json(p) for p in listed], headers={"Cache-Control": "no-store"})

    @_answering
    async def annotate(request: Request) -> Response:
        scene = await run_in_threadpool(scene_of, request)
        body = await _json_object(request)
        pin = await run_in_threadpool(scenes().annotate, scene.id, body.get("position"), body.get("label"))
        return _JSON(_as_json(pin), status_code=201, headers={"Cache-Control": "no-store"})

    @_answering
    async def relabel(request: Request) -> Response:
        scene, pin_id = await run_in_threadpool(scene_of, request), pin_of(request)
        body = await _json_object(request)
        pin = await run_in_threadpool(scenes().relabel, scene.id, pin_id, body.get("label"))
        return _JSON(_as_json(pin), headers={"Cache-Control": "no-store"})

    @_answering
    async def delete(request: Request) -> Response:
        scene, pin_id = await run_in_threadpool(scene_of, request), pin_of(request)
        await run_in_threadpool(scenes().delete_annotation, scene.id, pin_id)
        return Response(status_code=204)

    anything = _Methods({}, otherwise=_not_found)
    return [
        Mount("/xr/static", app=StaticFiles(directory=STATIC), name="xr-static"),
        Route("/xr/{scene}", _Methods({"GET": viewer})),
        Route("/api/scenes/{scene}/model.glb", _Methods({"GET": model})),
        Route("/api/scenes/{scene}/annotations", _Methods({"GET": pins, "POST": annotate})),
        Route("/api/scenes/{scene}/annotations/{pin}", _Methods({"PATCH": relabel, "DELETE": delete})),
        # Any other path under /api: 404 JSON rather than Streamlit's index page.
        Route("/api", anything),
        Route("/api/{rest:path}", anything),
    ]


def standalone_app(store: SceneStore | None = None) -> Starlette:
    """The viewer's routes alone, as an ASGI app (no Streamlit), e.g. ``uvicorn`` in a benchmark or a test."""
    return Starlette(routes=routes(store))
