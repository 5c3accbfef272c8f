"""Test media files: a Y4M clip of the synthetic face for Chromium's fake camera."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from analyzer.synthetic import Movement, SyntheticFace

Image = npt.NDArray[np.uint8]


def write_y4m(path: Path, frames: Iterable[Image], fps: int) -> int:
    """Write RGB frames (all the same even size) as an I420 YUV4MPEG2 file; returns the
    number of frames. Chromium's ``--use-file-for-fake-video-capture`` plays it in a loop."""
    count = 0
    with path.open("wb") as out:
        size: tuple[int, int] | None = None
        for rgb in frames:
            h, w = rgb.shape[:2]
            if size is None:
                if w % 2 or h % 2:
                    raise ValueError(f"I420 needs an even frame size, not {w}x{h}")
                size = (w, h)
                out.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii"))
            elif (w, h) != size:
                raise ValueError(f"frame {count} is {w}x{h}, not {size[0]}x{size[1]}")
            # Y plane (h rows), then U and V (h/4 rows each, full width): exactly I420's layout.
            planes = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420)
            out.write(b"FRAME\n")
            out.write(planes.tobytes())
            count += 1
    if count == 0:
        raise ValueError("no frames to write")
    return count


def smile_clip(
    face: SyntheticFace,
    path: Path,
    fps: int = 15,
    neutral_s: float = 3.0,
    smile_s: float = 3.0,
    smile_left: float = 14.0,
) -> Path:
    """A neutral face for ``neutral_s``, then a smile on the patient's left for ``smile_s``."""
    neutral = face.render(Movement())
    smile = face.render(Movement(smile_left=smile_left))
    n_neutral, n_smile = round(neutral_s * fps), round(smile_s * fps)
    write_y4m(path, [neutral] * n_neutral + [smile] * n_smile, fps)
    return path
