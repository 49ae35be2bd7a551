"""Reading a picture takes bounded memory, by design: the header is checked against DECODE_BUDGET
before decoding, a JPEG decodes at a reduced scale, and a big picture is reduced while still 8-bit.
Measured as the growth of a fresh process's high-water mark (VmHWM) over one reading."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw

from scratchnet.vision.images import DECODE_BUDGET, WORK_BYTES

MiB = 2 ** 20
READ_ONE = """
import sys
from pathlib import Path
from scratchnet.errors import ImageError
from scratchnet.vision.images import prepare, to_gray

def hwm():
    return next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM"))

prepare(to_gray(Path(sys.argv[2])))  # imports and first-call allocations, on a small picture
before = hwm()
try:
    prepare(to_gray(Path(sys.argv[1])))
    print("read", hwm() - before)
except ImageError as e:
    print("refused", hwm() - before, e)
"""


def digit_page(size, mode):
    """A drawn 0 on a page of `size` (w, h) in `mode`."""
    w, h = size
    page = Image.new("RGBA" if mode in ("RGBA", "P", "LA") else "L", size, (255, 255, 255, 0) if mode in ("RGBA", "P", "LA") else 255)
    ImageDraw.Draw(page).ellipse((w * 0.35, h * 0.2, w * 0.65, h * 0.8), outline=(0, 0, 0, 255) if page.mode == "RGBA" else 0,
                                 width=max(w, h) // 40)
    if mode == "P":
        return page.convert("P")  # a palette picture with transparency
    if mode == "I;16":
        return Image.fromarray(np.asarray(page, np.uint16) * 257)
    return page.convert(mode)


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    folder = tmp_path_factory.mktemp("big")
    made = {}
    for name, size, mode, fmt in [("24 MP RGBA PNG", (6000, 4000), "RGBA", "PNG"), ("24 MP RGB JPEG", (6000, 4000), "RGB", "JPEG"),
                                  ("24 MP RGB TIFF", (6000, 4000), "RGB", "TIFF"), ("24 MP 16-bit PNG", (6000, 4000), "I;16", "PNG"),
                                  ("12 MP palette PNG with transparency", (4000, 3000), "P", "PNG"),
                                  ("24 MP grey-and-alpha PNG", (6000, 4000), "LA", "PNG"),
                                  ("49 MP RGB PNG", (7000, 7000), "RGB", "PNG"), ("small", (300, 200), "L", "PNG")]:
        path = folder / f"{name.replace(' ', '-')}.{fmt.lower()}"
        digit_page(size, mode).save(path, fmt, **({"compression": "tiff_lzw"} if fmt == "TIFF" else {}))
        made[name] = path
    return made


def read_in_fresh_process(path, small):
    out = subprocess.run([sys.executable, "-c", READ_ONE, str(path), str(small)], capture_output=True, text=True, check=True).stdout
    verdict, grew, *why = out.split(" ", 2)
    return verdict, int(grew), " ".join(why)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
@pytest.mark.parametrize("name", ["24 MP RGBA PNG", "24 MP RGB JPEG", "24 MP RGB TIFF", "24 MP 16-bit PNG",
                                  "12 MP palette PNG with transparency", "24 MP grey-and-alpha PNG"])
def test_a_24_megapixel_picture_is_read_within_the_stated_bound(pictures, name):
    verdict, grew, why = read_in_fresh_process(pictures[name], pictures["small"])
    assert verdict == "read", why
    assert grew <= DECODE_BUDGET + WORK_BYTES, f"{name}: {grew / MiB:.0f} MiB"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_a_picture_over_the_budget_is_refused_before_decoding(pictures):
    verdict, grew, why = read_in_fresh_process(pictures["49 MP RGB PNG"], pictures["small"])
    assert verdict == "refused" and "over the 150 MiB budget" in why, why
    assert grew < 16 * MiB, f"{grew / MiB:.0f} MiB: it was decoded"
