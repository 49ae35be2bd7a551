"""scratchnet serve through FastAPI's test client: answers, the page, and every bad request."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from scratchnet.serving import app as serve_module
from scratchnet.serving.predict import predict


def png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "PNG")
    return buf.getvalue()


def one() -> np.ndarray:
    page = np.full((60, 50), 255, np.uint8)
    page[10:50, 22:28] = 0  # a "1", dark on white
    return page


@pytest.fixture(scope="module")
def client(digits_model):
    with TestClient(serve_module.create_app(digits_model)) as c:
        yield c


def test_health_version_and_docs(client):
    assert client.get("/health").json() == {"status": "ready"}
    version = client.get("/version").json()
    assert version["scratchnet"] and version["model"]["input"] == [8, 8]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "cdn" not in docs.text.lower()  # offline: assets served here
    for asset in re.findall(r"(/docs-assets/[\w.-]+)", docs.text):
        assert client.get(asset).status_code == 200, asset
    assert "/predict" in client.get("/openapi.json").json()["paths"]


def test_every_error_is_json_with_an_error_field(client):
    assert client.get("/nowhere").json() == {"error": "Not Found"}
    assert client.get("/predict").status_code == 405 and set(client.get("/predict").json()) == {"error"}


def test_health_says_loading_until_the_model_is_loaded(digits_model):
    app = serve_module.create_app(digits_model)
    assert TestClient(app).get("/health").status_code == 503  # no lifespan ran: nothing loaded
    with TestClient(app) as c:
        assert c.get("/health").status_code == 200


def test_raw_body_and_multipart_give_what_predict_gives(client, digits_model, tmp_path):
    body = png(one())
    (tmp_path / "one.png").write_bytes(body)
    [expected] = predict([tmp_path / "one.png"], digits_model)
    raw = client.post("/predict", content=body, headers={"Content-Type": "image/png"})
    form = client.post("/predict", files={"file": ("one.png", body, "image/png")})
    for r in (raw, form):
        assert r.status_code == 200, r.text
        got = r.json()
        keys = ("digit", "probability", "probabilities", "uncertain", "score", "threshold", "why")
        assert {k: got[k] for k in keys} == {k: expected[k] for k in keys}
        assert isinstance(got["score"], float) and isinstance(got["threshold"], float)
        assert got["uncertain"] == (got["score"] > got["threshold"]) and (got["why"] is None) == (not got["uncertain"])
        seen = Image.open(io.BytesIO(base64.b64decode(got["input"].split(",", 1)[1])))
        assert seen.size == (8, 8)  # the digits model's input: what the model saw


def eleven() -> np.ndarray:
    """Two upright strokes side by side on a light page: "11"."""
    page = np.full((40, 60), 250, np.uint8)
    page[8:32, 14:20] = page[8:32, 40:46] = 0
    return page


@pytest.mark.parametrize("body, status, words", [
    (b"hello, not an image", 415, "not an image"),
    (b"", 422, "empty body"),
    (png(np.full((40, 40), 250, np.uint8)), 422, "looks blank"),
    (png(np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)), 422, "no digit found"),
    (png(eleven()), 422, "more than one digit"),
    (png(np.zeros((9000, 9000), bool)), 413, "pixel bound"),
])
def test_bad_requests_get_one_json_error_and_the_server_keeps_serving(client, body, status, words):
    r = client.post("/predict", content=body, headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == status and words in r.json()["error"], r.text
    assert set(r.json()) == {"error"}
    assert client.post("/predict", content=png(one())).status_code == 200


def test_a_body_over_the_limit_is_413(client, monkeypatch):
    monkeypatch.setattr(serve_module, "MAX_BODY", 1000)
    r = client.post("/predict", content=b"\x89PNG" + b"\x00" * 5000)
    assert r.status_code == 413 and "limit" in r.json()["error"]
    monkeypatch.undo()
    assert client.post("/predict", content=png(one())).status_code == 200


def test_a_streamed_body_over_the_limit_is_413_too(client, monkeypatch):
    monkeypatch.setattr(serve_module, "MAX_BODY", 1000)

    def chunks():  # no Content-Length: the limit is enforced while reading
        for _ in range(10):
            yield b"\x00" * 500
    r = client.post("/predict", content=chunks())
    assert r.status_code == 413 and "limit" in r.json()["error"]


def test_multipart_in_any_case_and_an_empty_file_field(client):
    body, boundary = png(one()), "XyZ"
    payload = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n"
               f"Content-Type: image/png\r\n\r\n").encode() + body + f"\r\n--{boundary}--\r\n".encode()
    r = client.post("/predict", content=payload, headers={"Content-Type": f"Multipart/Form-Data; boundary={boundary}"})
    assert r.status_code == 200, r.text
    r = client.post("/predict", files={"file": ("a.png", b"", "image/png")})
    assert r.status_code == 422 and "`file` field is empty" in r.json()["error"]


def test_two_file_fields_are_refused_not_one_silently_read(client):
    body = png(one())
    r = client.post("/predict", files=[("file", ("a.png", body, "image/png")), ("file", ("b.png", body, "image/png"))])
    assert r.status_code == 422 and "2 `file` fields" in r.json()["error"], r.text


@pytest.mark.parametrize("declared", ["text/plain", "application/json", "application/x-www-form-urlencoded"])
def test_a_raw_body_declared_as_something_else_is_415(client, declared):
    r = client.post("/predict", content=png(one()), headers={"Content-Type": declared})
    assert r.status_code == 415 and f"declared as {declared} is not an image" in r.json()["error"], r.text
    assert client.post("/predict", content=png(one()), headers={"Content-Type": "image/png"}).status_code == 200
    assert client.post("/predict", content=png(one())).status_code == 200  # no type declared: read as bytes


def test_multipart_without_a_file_field(client):
    r = client.post("/predict", data={"note": "no image"}, files={"other": ("x.txt", b"x", "text/plain")})
    assert r.status_code == 422 and "`file` field" in r.json()["error"]


def test_the_favicon_is_served(client):
    r = client.get("/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml") and "<svg" in r.text


def test_the_page_works_offline_and_on_touch_screens(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "<canvas" in html and "touch-action: none" in html and 'name="viewport"' in html
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", html), "the page must load nothing from elsewhere"
    assert "@import" not in html and "fonts.googleapis" not in html
