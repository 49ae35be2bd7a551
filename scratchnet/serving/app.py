"""serve: the exported model behind HTTP (FastAPI), with a draw-a-digit page.

    GET  /          the page: draw a digit, see the answer, its ten probabilities and what the model saw
    POST /predict   one image (multipart field `file`, or a raw PNG/JPEG body) -> JSON
    GET  /health    200 once the model is loaded, 503 before
    GET  /version   scratchnet's version and the model's classes and input shape
    GET  /docs      the OpenAPI documentation

The model is loaded once, at start-up; every image goes through the same reading as `predict`
(scratchnet/vision/images.py), so a photo reads the same either way.
"""

from __future__ import annotations

import asyncio
import os
import time
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import ImageError
from ..vision.images import DECODE_BUDGET, reading_cost
from .limits import LIMITS_ENV, SMALL_COST, Busy, Gate, Limits, hand_memory_back_promptly, trim
from .predict import Reader, data_url, input_png

MAX_BODY = 10 * 2 ** 20  # bytes: a phone photo fits, a flood does not
STATUS = {"not_image": 415, "too_large": 413, "empty": 422, "blank": 422, "no_digit": 422, "several_digits": 422,
          "unreadable": 422, "timeout": 503}
# what a raw body may be declared as: an image, bytes of no declared kind, or nothing at all
RAW_TYPES = ("image/", "application/octet-stream")
FAVICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#3b6cf6"/>'
           '<text x="16" y="24" font-size="22" text-anchor="middle" fill="#fff" font-family="sans-serif">7</text></svg>')
# /predict reads its body itself (to bound it while reading); this tells /docs what it accepts
PREDICT_BODY = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                       "properties": {"file": {"type": "string", "format": "binary",
                                                               "description": "a PNG or JPEG picture of one digit"}}}},
    "image/png": {"schema": {"type": "string", "format": "binary"}},
    "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
}}}
MODEL_ENV = "SCRATCHNET_SERVE_MODEL"  # how `--workers N` hands the model folder to each worker
DETECTOR_ENV = "SCRATCHNET_SERVE_DETECTOR"  # and the detector's file


class Answer(BaseModel):
    digit: int | str = Field(description="the class the model reads")
    probability: float = Field(description="its probability")
    probabilities: list[float] = Field(description="every class's probability, in class order")
    uncertain: bool = Field(description="true when the picture is probably not a digit, or not one the model knows")
    score: float | None = Field(description="the `uncertain` detector's score: how strongly the picture looks like no "
                                "digit (the sum of its two networks' log-odds); null when the detector is off")
    threshold: float | None = Field(description="the score above which a picture is flagged `uncertain`; null when "
                                    "the detector is off")
    why: str | None = Field(description="why it is flagged, in words; null when it is not")
    input: str = Field(description="the 28x28 image the model saw, as a PNG data URL")


def create_app(export_dir: Path | str, detector: Path | str | None = None, limits: Limits | None = None) -> FastAPI:
    """The FastAPI app serving the model in export_dir with its detector (Reader.load's default: beside
    it), both loaded when the app starts; `limits` bound what one worker takes on (limits.py)."""
    state: dict = {}
    limits = limits or Limits()

    @asynccontextmanager
    async def lifespan(app):
        hand_memory_back_promptly()
        state["reader"] = Reader.load(export_dir, detector)
        state["big"] = Gate(limits.big_slots, limits.max_waiting, limits.queue_wait)
        state["small"] = Gate(limits.small_slots, limits.max_waiting, limits.queue_wait)
        yield
        state.clear()

    app = FastAPI(title="scratchnet", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Handwritten-digit recognition with a network written from scratch in NumPy.")
    # the bundled Swagger UI (offline, no CDN) reads OpenAPI 3.0 but not 3.1, FastAPI's default; this
    # schema uses nothing 3.1 adds, so it is the same document under the version the page can show
    app.openapi_version = "3.0.3"

    @app.exception_handler(StarletteHTTPException)  # ours, and the framework's 404 and 405 too
    async def one_line(request, exc):
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request, exc):  # never a bare 500 page: the client gets JSON, the log the trace
        import logging

        logging.getLogger("uvicorn.error").exception("unexpected error on %s", request.url.path)
        return JSONResponse({"error": f"internal error ({type(exc).__name__}); the server keeps serving"}, status_code=500)

    @app.exception_handler(Busy)
    async def busy(request, exc):
        return JSONResponse({"error": str(exc)}, status_code=503, headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(RequestValidationError)
    async def invalid(request, exc):
        return JSONResponse({"error": "; ".join(e.get("msg", "invalid") for e in exc.errors())}, status_code=422)

    # the OpenAPI page from the swagger-ui-bundle package, not a CDN: /docs works offline too
    import swagger_ui_bundle

    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="scratchnet API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon-32x32.png")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return files("scratchnet.serving").joinpath("web/index.html").read_text(encoding="utf-8")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(FAVICON, media_type="image/svg+xml")

    @app.get("/health")
    def health() -> JSONResponse:
        ready = "reader" in state
        return JSONResponse({"status": "ready" if ready else "loading"}, status_code=200 if ready else 503)

    @app.get("/version")
    def version() -> dict:
        reader = state.get("reader")
        model = {"classes": reader.classes, "input": list(reader.size)} if reader else None
        return {"scratchnet": __version__, "model": model}

    @app.post("/predict", response_model=Answer, openapi_extra=PREDICT_BODY, responses={
        408: {"description": "the body did not arrive within the upload timeout"},
        413: {"description": "body over 10 MiB, or an image above the pixel bound or the memory budget"},
        415: {"description": "not an image, or a body declared as something else"},
        422: {"description": "empty, unreadable or blank image, no digit on it or more than one, or a form without exactly one `file`"},
        503: {"description": "busy (no turn within the wait; see Retry-After), or the reading took too long"}})
    async def predict(request: Request) -> Answer:
        """Read one digit: a multipart upload (field `file`) or the raw PNG/JPEG bytes as the body."""
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY:
            raise HTTPException(413, f"body of {int(declared):,} bytes is over the {MAX_BODY:,}-byte limit")
        body = bytearray()
        try:
            async with asyncio.timeout(limits.upload_timeout):  # a stalled upload holds nothing for long
                async for chunk in request.stream():
                    body += chunk
                    if len(body) > MAX_BODY:
                        raise HTTPException(413, f"body is over the {MAX_BODY:,}-byte limit")
        except TimeoutError:
            raise HTTPException(408, f"the body did not arrive within {limits.upload_timeout:g} s") from None
        data = bytes(body)
        del body
        declared_type = request.headers.get("content-type", "").lower()
        if declared_type.startswith("multipart/form-data"):
            data = await _upload(request, data)
        elif declared_type and not declared_type.startswith(RAW_TYPES):
            kind = declared_type.split(";")[0].strip()
            raise HTTPException(415, f"a body declared as {kind} is not an image: send it as image/png or image/jpeg "
                                     "(or multipart with a `file` field)")
        if not data:
            raise HTTPException(422, "empty body: send a PNG or JPEG image")
        reader = state["reader"]
        cost = await run_in_threadpool(reading_cost, data)  # the header only, but a TIFF's pages take their time
        # over the budget is refused at the header, before any decoding: no big turn for it
        gate = state["big"] if SMALL_COST < cost <= DECODE_BUDGET else state["small"]
        try:
            async with gate.turn():
                deadline = time.monotonic() + limits.read_timeout
                try:
                    image, others = await run_in_threadpool(reader.read, data, "upload", deadline)
                except ImageError as e:
                    headers = {"Retry-After": "5"} if e.kind == "timeout" else None
                    raise HTTPException(STATUS.get(e.kind, 422), str(e), headers=headers) from None
                finally:
                    del data
                [answer] = await run_in_threadpool(reader.classify, image[None], [others])
        finally:
            if gate is state["big"] and not gate.holding and not gate.waiting:
                trim()  # the burst is over: its freed pages go back to the system
        return Answer(**answer, input=data_url(input_png(image)))

    return app


async def _upload(request: Request, body: bytes) -> bytes:
    """The bytes of the multipart field `file` of a request whose body was already read."""

    async def replay():
        return {"type": "http.request", "body": body, "more_body": False}

    form = await Request(request.scope, replay).form()
    try:
        uploads = form.getlist("file")
        if len(uploads) > 1:
            raise HTTPException(422, f"multipart body with {len(uploads)} `file` fields: send one image per request")
        upload = uploads[0] if uploads else None
        if upload is None or isinstance(upload, str):
            raise HTTPException(422, "multipart body without a `file` field holding the image")
        data = await upload.read()
        if not data:
            raise HTTPException(422, "the `file` field is empty: send a PNG or JPEG image")
        return data
    finally:
        await form.close()


def app_from_env():
    """The app for uvicorn's worker processes (`--workers N`): the model folder and the detector come
    from MODEL_ENV and DETECTOR_ENV."""
    return create_app(os.environ[MODEL_ENV], os.environ.get(DETECTOR_ENV) or None, Limits.from_env())


def serve(*, export_dir: Path | str, detector: Path | str | None = None, host: str, port: int, workers: int,
          limits: Limits | None = None) -> None:
    """Run the service until Ctrl-C. The model is checked first, so a bad folder is one error line."""
    import uvicorn

    Reader.load(export_dir, detector)
    limits = limits or Limits()
    if workers == 1:
        uvicorn.run(create_app(export_dir, detector, limits), host=host, port=port, log_level="info")
    else:
        os.environ[MODEL_ENV] = str(Path(export_dir).resolve())
        os.environ[DETECTOR_ENV] = str(Path(detector).resolve()) if detector is not None else ""
        os.environ[LIMITS_ENV] = limits.to_env()
        uvicorn.run("scratchnet.serving.app:app_from_env", factory=True, host=host, port=port, workers=workers, log_level="info")
