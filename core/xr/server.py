"""The WebXR viewer's web routes (Starlette), served by the app beside Streamlit (``st.App(routes=...)`` in
``app.py``) or on their own (:func:`standalone_app`, for the benchmark).

============================================  ==============================================================
``GET  /xr/{scene}``                          the viewer page (three.js; desktop and "Enter VR")
``GET  /xr/static/...``                       the viewer's bundled JavaScript and style sheet
``GET  /api/scenes/{scene}/model.glb``        the scene's model (binary glTF)
``GET  /api/scenes/{scene}/annotations``      its pins, oldest first: ``[{"id", "position", "label", "created"}]``
``POST /api/scenes/{scene}/annotations``      add one: JSON ``{"position": [x, y, z], "label": "..."}`` → 201
``PATCH /api/scenes/{scene}/annotations/N``   relabel one: JSON ``{"label": "..."}`` → 200
``DELETE /api/scenes/{scene}/annotations/N``  remove one → 204
============================================  ==============================================================

A scene id is a 128-bit random token: whoever has the link (the QR code on the export panel) may view and
annotate that scene, nobody can list scenes. Unknown ids get 404; bad input 400 (413 past 4 KB, 415 for a body
that is not JSON, which also keeps plain HTML forms on other sites from posting); a database that cannot be
reached 503, always with a sentence. Labels are data: stored as
given, sent as JSON, drawn by the viewer with ``textContent`` and canvas text, and the page's Content Security
Policy allows no inline script.
"""

from __future__ import annotations

import functools
import html
import json
import re
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from core.errors import InputError
from core.store.db import StoreError
from core.store.scenes import Annotation, Scene, SceneNotFound, SceneStore

__all__ = ["MAX_BODY_BYTES", "STATIC", "routes", "standalone_app", "viewer_path"]

MAX_BODY_BYTES = 4096
STATIC = Path(str(resources.files("core.xr") / "static"))
_SCENE_ID = re.compile(r"[0-9a-f]{32}")
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self' data: blob:; object-src 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def viewer_path(scene_id: str) -> str:
    """The viewer's path for a scene (append it to the app's address)."""
    return f"/xr/{scene_id}"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=_SECURITY_HEADERS)


def _as_json(annotation: Annotation) -> dict:
    return {"id": annotation.id, "position": list(annotation.position), "label": annotation.label,
            "created": annotation.created.isoformat()}  # fmt: skip


class _TooLarge(Exception):
    """A request body past :data:`MAX_BODY_BYTES` (answered 413)."""


class _Refused(Exception):
    """A request refused before its content is looked at: ``status`` and a sentence."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


async def _read_body(request: Request) -> bytes:
    """The request body, refused past :data:`MAX_BODY_BYTES` whatever the client says its length is."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _TooLarge
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _TooLarge
    return body


def _answering(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """The API handler with every refusal answered as a JSON sentence: 404 unknown scene or pin, 400 bad content,
    413/415 (:class:`_Refused`), 503 when the database cannot be reached."""

    @functools.wraps(handler)
    async def answer(request: Request) -> Response:
        try:
            return await handler(request)
        except _Refused as refusal:
            return _error(refusal.status, refusal.message)
        except SceneNotFound:
            return _error(404, "No such scene or annotation.")
        except InputError as error:
            return _error(400, str(error))
        except StoreError as error:
            return _error(503, f"The annotations cannot be reached just now: {error}")

    return answer


async def _json_object(request: Request, *, with_position: bool) -> dict:
    """The request's JSON object with a text ``label`` (and a ``position`` of three numbers if ``with_position``)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise _Refused(415, "Send the annotation as JSON (Content-Type: application/json).")
    try:
        value = json.loads(await _read_body(request))
    except _TooLarge as error:
        raise _Refused(413, f"An annotation is at most {MAX_BODY_BYTES} bytes of JSON.") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise _Refused(400, "The body is not valid JSON.") from error
    if not isinstance(value, dict):
        raise InputError("An annotation is a JSON object with 'position' and 'label'.")
    if with_position:
        position = value.get("position")
        if not isinstance(position, list) or len(position) != 3:
            raise InputError("An annotation needs 'position': [x, y, z] (metres) and 'label': text.")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in position):
            raise InputError("An annotation's position is three numbers (metres).")
    if not isinstance(value.get("label"), str):
        raise InputError("An annotation needs 'label': text.")
    return value


@functools.cache
def _page(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def routes(store: SceneStore | None = None) -> list[BaseRoute]:
    """The viewer's routes, over ``store`` (by default a :class:`SceneStore` on the project's database, opened on
    first use)."""

    @functools.cache
    def scenes() -> SceneStore:
        return store or SceneStore()

    def scene_of(request: Request) -> Scene:
        """The request's scene, or :class:`SceneNotFound` (also for ids that cannot be one)."""
        scene_id = request.path_params["scene"]
        if not _SCENE_ID.fullmatch(scene_id):
            raise SceneNotFound(f"No scene '{scene_id}'.")
        return scenes().get(scene_id)

    async def viewer(request: Request) -> Response:
        try:
            scene = await run_in_threadpool(scene_of, request)
        except SceneNotFound:
            return HTMLResponse(_page("missing.html"), status_code=404, headers=_SECURITY_HEADERS)
        page = _page("viewer.html").replace("{{scene}}", scene.id).replace("{{title}}", html.escape(scene.title))
        return HTMLResponse(page, headers={**_SECURITY_HEADERS, "Cache-Control": "no-store"})

    @_answering
    async def model(request: Request) -> Response:
        scene = await run_in_threadpool(scene_of, request)
        caching = {"Cache-Control": "private, max-age=3600"}  # a scene's model never changes
        return FileResponse(scene.path, media_type="model/gltf-binary", headers=caching)

    @_answering
    async def annotations(request: Request) -> Response:
        scene = await run_in_threadpool(scene_of, request)
        if request.method == "GET":
            pins = await run_in_threadpool(scenes().annotations, scene.id)
            return JSONResponse([_as_json(p) for p in pins], headers={"Cache-Control": "no-store"})
        body = await _json_object(request, with_position=True)
        pin = await run_in_threadpool(scenes().annotate, scene.id, tuple(body["position"]), body["label"])
        return JSONResponse(_as_json(pin), status_code=201)

    @_answering
    async def annotation(request: Request) -> Response:
        scene = await run_in_threadpool(scene_of, request)
        pin_id = request.path_params["pin"]
        if request.method == "DELETE":
            await run_in_threadpool(scenes().delete_annotation, scene.id, pin_id)
            return Response(status_code=204)
        body = await _json_object(request, with_position=False)
        pin = await run_in_threadpool(scenes().relabel, scene.id, pin_id, body["label"])
        return JSONResponse(_as_json(pin))

    return [
        Mount("/xr/static", app=StaticFiles(directory=STATIC), name="xr-static"),
        Route("/xr/{scene}", viewer, methods=["GET"]),
        Route("/api/scenes/{scene}/model.glb", model, methods=["GET"]),
        Route("/api/scenes/{scene}/annotations", annotations, methods=["GET", "POST"]),
        Route("/api/scenes/{scene}/annotations/{pin:int}", annotation, methods=["PATCH", "DELETE"]),
    ]


def standalone_app(store: SceneStore | None = None) -> Starlette:
    """The viewer's routes alone, as an ASGI app (no Streamlit), e.g. ``uvicorn`` in a benchmark or a test."""
    return Starlette(routes=routes(store))
