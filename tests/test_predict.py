"""predict on real image files: MNIST digits redrawn as photos and scans, and every kind of bad image."""

import json

import numpy as np
import pytest
from PIL import Image

from scratchnet.errors import ImageError
from scratchnet.serving.predict import mnist_like, predict
from scratchnet.vision.images import mnist_style, to_gray
from tests.support.cli import invoke


def as_photo(image: np.ndarray, scale: int, canvas=(300, 420), at=(40, 170), paper=235) -> np.ndarray:
    """A 28x28 MNIST digit (white on black, [0, 1]) redrawn dark on light paper, enlarged, off-centre."""
    big = np.asarray(Image.fromarray((image * 255).astype(np.uint8)).resize((28 * scale, 28 * scale), Image.Resampling.BICUBIC))
    page = np.full(canvas, paper, dtype=np.uint8)
    ink = (paper - big.astype(np.int32) * paper // 255).astype(np.uint8)
    y, x = at
    page[y:y + ink.shape[0], x:x + ink.shape[1]] = ink
    return page


def save_variants(page: np.ndarray, folder, stem):
    """The same picture as grey PNG, RGB JPEG, RGBA PNG, palette PNG and 16-bit PNG."""
    paths = []
    grey = Image.fromarray(page)
    grey.save(p := folder / f"{stem}-grey.png"); paths.append(p)
    grey.convert("RGB").save(p := folder / f"{stem}-rgb.jpg", quality=92); paths.append(p)
    rgba = np.zeros((*page.shape, 4), np.uint8)
    rgba[..., :3] = 30  # dark ink colour everywhere; alpha carries the shape over a transparent page
    rgba[..., 3] = 255 - page
    Image.fromarray(rgba, "RGBA").save(p := folder / f"{stem}-rgba.png"); paths.append(p)
    grey.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE).save(p := folder / f"{stem}-palette.png"); paths.append(p)
    Image.fromarray(page.astype(np.uint16) * 257).save(p := folder / f"{stem}-16bit.png"); paths.append(p)
    return paths


def test_recovers_labels_from_photos_of_test_digits(mnist_model, tmp_path):
    export_dir, test = mnist_model
    picks = [int(np.flatnonzero(test["labels"] == d)[0]) for d in range(10)]
    paths, truth = [], []
    for n, i in enumerate(picks):
        page = as_photo(test["x"][i], scale=4 + n % 4, at=(20 + 7 * n, 30 + 20 * n))
        variants = save_variants(page, tmp_path, f"digit{n}") if n < 3 else [tmp_path / f"digit{n}.png"]
        if n >= 3:
            Image.fromarray(page).save(variants[0])
        paths += variants
        truth += [int(test["labels"][i])] * len(variants)
    results = predict(paths, export_dir)
    assert [r["digit"] for r in results] == truth
    assert all(r["probability"] > 0.5 for r in results)


def test_mnist_style_matches_mnist_geometry(mnist_model):
    _, test = mnist_model
    redone = mnist_style(as_photo(test["x"][0], 5) / 255)
    assert redone.shape == (28, 28)
    ys, xs = np.nonzero(redone > 0.2)
    assert max(np.ptp(ys), np.ptp(xs)) < 20  # fits the 20x20 box
    cy, cx = (np.indices(redone.shape) * redone).reshape(2, -1).sum(1) / redone.sum()
    assert abs(cy - 13.5) < 1 and abs(cx - 13.5) < 1  # centre of mass at the centre


def test_cli_lines_and_json(digits_model, tmp_path):
    page = np.full((50, 40), 255, np.uint8)
    page[10:40, 18:23] = 0  # a "1"
    Image.fromarray(page).save(tmp_path / "one.png")
    np.savez(tmp_path / "batch.npz", x=bundled_digits(2))
    result = invoke(*["predict", str(tmp_path / "one.png"), str(tmp_path / "batch.npz"), "--model", str(digits_model)])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith(str(tmp_path / "one.png") + "\t")
    result = invoke(*["predict", "--json", str(tmp_path / "one.png"), "--model", str(digits_model)])
    parsed = json.loads(result.output)
    assert parsed[0]["digit"] in range(10) and len(parsed[0]["probabilities"]) == 10


def bundled_digits(n: int) -> np.ndarray:
    """n of scikit-learn's 8x8 digits as float32 in [0, 1], white ink on black: what the digits model reads."""
    from sklearn.datasets import load_digits

    return (load_digits().images[:n] / 16).astype(np.float32)


def test_an_npz_is_read_only_when_it_is_what_the_model_reads(digits_model, tmp_path):
    """Dark-on-light digits, an all-ones array and an all-zeros one were confident answers once; now
    each image gets its own clear refusal and the MNIST-like ones their answers."""
    digits = bundled_digits(10)
    batch = np.concatenate([digits, 1 - digits, np.ones((1, 8, 8), np.float32), np.zeros((1, 8, 8), np.float32)])
    np.savez(tmp_path / "mixed.npz", x=batch)
    results = predict([tmp_path / "mixed.npz"], digits_model)
    assert [("error" in r) for r in results] == [False] * 10 + [True] * 12
    assert sum(r["digit"] == d for r, d in zip(results[:10], range(10))) >= 8  # load_digits' first ten are 0..9
    assert all("dark ink on a light ground" in r["error"] for r in results[10:21])
    assert "looks blank" in results[21]["error"]
    every = bundled_digits(2000)  # all 1,797: small digits whose ink reaches the edge are digits too
    for image in every:
        mnist_like(image, "digit")
    for image in 1 - every:
        with pytest.raises(ImageError, match="dark ink on a light ground"):
            mnist_like(image, "inverted")
    np.savez(tmp_path / "loud.npz", x=digits * 255)  # floats must be in [0, 1]; uint8 is 0-255
    [loud] = predict([tmp_path / "loud.npz"], digits_model)
    assert "float images must lie in [0, 1]" in loud["error"] and "white ink on black" in loud["error"]
    assert "white ink on black as MNIST" in " ".join(invoke("predict", "--help").output.split())


def _bad(kind, path):
    if kind == "text":
        path.write_text("hello, not an image")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)).save(path, format="PNG")
        path.write_bytes(path.read_bytes()[:200])
    elif kind == "animated":
        frames = [Image.new("L", (20, 20), c) for c in (0, 255)]
        frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:])
    elif kind == "huge":
        Image.new("1", (9000, 9000)).save(path, format="PNG")
    elif kind == "blank":
        Image.new("RGB", (64, 64), (250, 250, 250)).save(path, format="PNG")
    elif kind == "noise":
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)).save(path, format="PNG")
    elif kind == "missing":
        pass


@pytest.mark.parametrize("kind, message", [
    ("text", "not an image"), ("empty", "empty file"), ("truncated", "cannot decode"),
    ("animated", "2 frames"), ("huge", "pixel bound"), ("blank", "looks blank"), ("noise", "no digit found"), ("missing", "not found"),
])
def test_bad_images_one_clear_error(digits_model, tmp_path, kind, message):
    path = tmp_path / f"{kind}.png"
    _bad(kind, path)
    [result] = predict([path], digits_model)
    assert set(result) == {"file", "error"} and message in result["error"]
    result = invoke(*["predict", str(path), "--model", str(digits_model)])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0 and message in result.output


def test_a_batch_survives_a_bad_file(digits_model, tmp_path):
    page = np.full((50, 40), 255, np.uint8)
    page[10:40, 18:23] = 0
    Image.fromarray(page).save(tmp_path / "good.png")
    Image.fromarray(page.T.copy()).save(tmp_path / "good2.png")
    _bad("blank", tmp_path / "blank.png")
    files = [str(tmp_path / n) for n in ("good.png", "blank.png", "good2.png")]
    result = invoke(*["predict", *files, "--model", str(digits_model)])
    assert result.exit_code == 1  # not every file could be read
    lines = result.output.strip().splitlines()
    assert [line.split("\t")[0] for line in lines if not line.startswith("error:")] == [files[0], files[2]]
    assert [line for line in lines if line.startswith("error:")] == [f"error: {files[1]}: looks blank (no ink stands out "
                                                                      "from the background); nothing to classify"]
    parsed = json.loads(invoke(*["predict", "--json", *files, "--model", str(digits_model)]).stdout)
    keys = ["digit", "file", "probabilities", "probability", "score", "threshold", "uncertain", "why"]
    assert [sorted(r) for r in parsed] == [keys, ["error", "file"], keys]
    ok = invoke(*["predict", files[0], files[2], "--model", str(digits_model), "--save-inputs", str(tmp_path / "seen")])
    assert ok.exit_code == 0, ok.output
    seen = sorted(p.name for p in (tmp_path / "seen").iterdir())
    assert seen == ["good.png", "good2.png"]
    assert np.asarray(Image.open(tmp_path / "seen" / "good.png")).shape == (8, 8)  # the digits model's input size


def test_photos_in_every_condition_and_not_digits(mnist_model, tmp_path):
    """The photo-like set of tests/support/photos.py: at least 9 of 10 right in every condition,
    at most 2 of 110 flagged, and at least 90 % of the non-digits refused (blank) or flagged."""
    from scratchnet.data.idx import read_idx
    from tests.support.data import mnist_dir
    from tests.support.photos import digit_photos, non_digits, pick_digits

    export_dir, _ = mnist_model
    mnist = mnist_dir()
    digits = pick_digits(read_idx(mnist / "t10k-images-idx3-ubyte.gz"), read_idx(mnist / "t10k-labels-idx1-ubyte.gz"))
    doubted = 0
    for condition, items in digit_photos(digits).items():
        paths = []
        for label, data in items:
            paths.append(tmp_path / f"{condition}-{label}.img")
            paths[-1].write_bytes(data)
        results = predict(paths, export_dir)
        right = sum(r.get("digit") == label for r, (label, _) in zip(results, items))
        assert right >= 9, (condition, results)
        doubted += sum(r.get("uncertain", False) for r in results)
    assert doubted <= 2, doubted  # of 110: the rule flags 1 % of MNIST digits by design
    flagged = total = 0
    for kind, items in non_digits().items():
        paths = []
        for i, data in enumerate(items):
            paths.append(tmp_path / f"{kind}-{i}.img")
            paths[-1].write_bytes(data)
        results = predict(paths, export_dir)
        if kind in ("near-blank page", "noise", "photo of text"):
            assert all("error" in r or r["uncertain"] for r in results), (kind, results)
        flagged += sum("error" in r or r["uncertain"] for r in results)
        total += len(results)
    assert flagged / total >= 0.9, (flagged, total)  # the issue asks 90 % (the default model: 63 of 70)


def test_missing_model_folder(tmp_path):
    result = invoke(*["predict", str(tmp_path / "x.png"), "--model", str(tmp_path / "none")])
    expected = "no exported model here: run `dvc repro` or `scratchnet export` first, or name the folder with --model"
    assert result.exit_code == 1 and expected in result.output


def test_a_folder_is_named_as_a_folder(digits_model, tmp_path):
    [result] = predict([tmp_path], digits_model)
    assert "a folder, not an image file" in result["error"]


def test_to_gray_handles_modes(tmp_path):
    Image.fromarray(np.full((4, 4), 65535, np.uint16)).save(tmp_path / "w16.png")
    assert to_gray(tmp_path / "w16.png").max() == pytest.approx(1.0)
    Image.new("LA", (4, 4), (0, 0)).save(tmp_path / "clear.png")  # fully transparent: white paper
    assert to_gray(tmp_path / "clear.png").min() == pytest.approx(1.0)


def test_dim_paper_is_still_paper_and_a_damaged_header_is_one_error(tmp_path):
    page = np.full((60, 50), 0.45)  # grey paper darker than mid-grey, darker ink on it
    page[10:50, 22:28] = 0.08
    Image.fromarray((page * 255).astype(np.uint8)).save(tmp_path / "dim.png")
    seen = mnist_style(to_gray(tmp_path / "dim.png"))
    assert seen.max() > 0.9 and seen[:, :8].max() == 0  # the stroke, white on black, centred
    tiff = tmp_path / "broken.tif"
    Image.new("L", (20, 20), 255).save(tiff)
    data = bytearray(tiff.read_bytes())
    data[8:40] = b"\x00" * 32  # wipe the first IFD entries: no dimensions
    tiff.write_bytes(bytes(data))
    with pytest.raises(ImageError):
        to_gray(tiff)


def drawn(strokes, size=(200, 200), width=12):
    """Black polylines (lists of (x, y)) on a white page, as a grayscale array in [0, 1]."""
    from PIL import ImageDraw

    page = Image.new("L", size[::-1], 255)
    d = ImageDraw.Draw(page)
    for line in strokes:
        d.line(line, fill=0, width=width, joint="curve")
    return np.asarray(page, np.float32) / 255


ONE = [[(60, 40), (60, 160)]]
TWO = [[(100, 60), (130, 40), (160, 60), (160, 90), (100, 160), (165, 160)]]
FIVE_PEN_LIFTED = [[(80, 40), (150, 40)], [(80, 50), (75, 95), (120, 90), (145, 120), (130, 155), (80, 160)]]
FOUR_TWO_STROKES = [[(90, 40), (70, 120), (160, 120)], [(140, 60), (140, 170)]]


def test_two_digits_side_by_side_are_refused_and_pen_lifts_are_not():
    with pytest.raises(ImageError, match="more than one digit") as e:
        mnist_style(drawn(ONE + TWO, size=(200, 220)), name="12.png")
    assert e.value.kind == "several_digits"
    for strokes in (FIVE_PEN_LIFTED, FOUR_TWO_STROKES, TWO):  # one digit in two strokes stays one digit
        assert mnist_style(drawn(strokes)).max() > 0.9


def test_a_thin_pen_on_a_large_canvas_is_brought_to_mnist_weight():
    """A 2-pixel outline of an 8 on a 200-pixel page: in 28x28 its strokes are solid, as MNIST's are,
    not a faint hairline; a bold pen is left as drawn."""
    from PIL import ImageDraw

    page = Image.new("L", (200, 200), 255)
    d = ImageDraw.Draw(page)
    d.ellipse((70, 30, 130, 95), outline=0, width=2)
    d.ellipse((62, 95, 138, 170), outline=0, width=2)
    seen = mnist_style(np.asarray(page, np.float32) / 255)
    assert seen.max() > 0.9 and (seen > 0.5).sum() >= 40, ((seen > 0.5).sum(), seen.max())
    bold = mnist_style(drawn(TWO, width=14))
    assert 0 < (bold > 0.5).mean() < 0.3  # thickened no further


def test_a_thin_eight_and_two_digits_read_right(mnist_model, tmp_path):
    from PIL import ImageDraw

    export_dir, _ = mnist_model
    page = Image.new("L", (200, 200), 255)
    d = ImageDraw.Draw(page)
    d.ellipse((70, 30, 130, 95), outline=0, width=2)
    d.ellipse((62, 95, 138, 170), outline=0, width=2)
    page.save(tmp_path / "thin8.png")
    Image.fromarray((drawn(ONE + TWO, size=(200, 220)) * 255).astype(np.uint8)).save(tmp_path / "12.png")
    thin, twelve = predict([tmp_path / "thin8.png", tmp_path / "12.png"], export_dir)
    assert thin["digit"] == 8 and thin["probability"] > 0.9, thin  # (two perfect ellipses may still be flagged)
    assert "more than one digit" in twelve["error"], twelve


def test_every_mode_pillow_opens_is_read_as_it_looks(tmp_path):
    """Float, premultiplied-alpha, 16-bit and MPO (a phone's JPEG with a second image) pictures: a dark
    stroke on light paper, read dark on light; a 16-bit picture's values are out of 65535."""
    page = np.full((60, 50), 0.9, np.float32)
    page[10:50, 22:28] = 0.1
    Image.fromarray(page, "F").save(tmp_path / "float.tif")
    assert to_gray(tmp_path / "float.tif")[30, 25] < 0.2 and to_gray(tmp_path / "float.tif")[5, 5] > 0.9
    rgba = np.zeros((60, 50, 4), np.uint8)
    rgba[10:50, 22:28] = (0, 0, 0, 255)  # black ink on a transparent page (white once composited)
    from scratchnet.vision.images import _one_band  # Pillow reads RGBa (a TIFF's associated alpha) but cannot write it

    lum, alpha = _one_band(Image.fromarray(rgba, "RGBA").convert("RGBa"))
    assert np.asarray(alpha)[5, 5] == 0 and np.asarray(alpha)[30, 25] == 255 and np.asarray(lum)[30, 25] == 0
    Image.fromarray(np.full((20, 20), 200, np.uint16)).save(tmp_path / "dim16.png")
    assert to_gray(tmp_path / "dim16.png").max() == pytest.approx(200 / 65535, rel=1e-3)
    photo = Image.fromarray((page * 255).astype(np.uint8)).convert("RGB")
    photo.save(tmp_path / "phone.mpo", "MPO", save_all=True, append_images=[photo.resize((25, 30))])
    assert Image.open(tmp_path / "phone.mpo").format == "MPO"
    assert mnist_style(to_gray(tmp_path / "phone.mpo")).max() > 0.9
