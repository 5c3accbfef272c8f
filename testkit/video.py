"""Writing RGB frames to real video files: Y4M for Chromium's fake camera, MP4 (H.264,
yuv420p, what phones and browsers record) for the offline ``analyze`` command.

Frames come as an iterable so a long clip is never held in memory at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]


def _rate(fps: float) -> Fraction:
    """An exact frame rate: 15 stays 15/1 and 29.97 becomes 30000/1001."""
    rate = Fraction(fps).limit_denominator(1001)
    if rate <= 0:
        raise ValueError(f"frame rate must be positive, not {fps}")
    return rate


def _check_size(rgb: Image, index: int, size: tuple[int, int] | None) -> tuple[int, int]:
    h, w = rgb.shape[:2]
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"frame {index} is not RGB: shape {rgb.shape}")
    if size is None:
        if w % 2 or h % 2:
            raise ValueError(f"4:2:0 video needs an even frame size, not {w}x{h}")
        return (w, h)
    if (w, h) != size:
        raise ValueError(f"frame {index} is {w}x{h}, not {size[0]}x{size[1]}")
    return size


def write_y4m(path: Path, frames: Iterable[Image], fps: float) -> int:
    """Write RGB frames (all the same even size) as an I420 YUV4MPEG2 file; returns the
    number of frames. Chromium's ``--use-file-for-fake-video-capture`` plays it in a loop."""
    rate = _rate(fps)
    count = 0
    size: tuple[int, int] | None = None
    with path.open("wb") as out:
        for rgb in frames:
            if size is None:
                size = _check_size(rgb, count, None)
                w, h = size
                header = f"YUV4MPEG2 W{w} H{h} F{rate.numerator}:{rate.denominator} Ip A1:1 C420jpeg\n"
                out.write(header.encode("ascii"))
            else:
                _check_size(rgb, count, size)
            # Y plane (h rows), then U and V (h/4 rows each, full width): exactly I420's layout.
            planes = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420)
            out.write(b"FRAME\n")
            out.write(planes.tobytes())
            count += 1
    if count == 0:
        path.unlink(missing_ok=True)
        raise ValueError("no frames to write")
    return count


def write_mp4(path: Path, frames: Iterable[Image], fps: float, crf: int = 18) -> int:
    """Write RGB frames as H.264 (yuv420p) in an MP4 file; returns the number of frames.

    ``crf`` 18 is visually lossless, so landmarks found on the decoded video match those
    on the rendered frames to a fraction of a pixel.
    """
    import av  # only the offline tools and tests write video files

    rate = _rate(fps)
    count = 0
    size: tuple[int, int] | None = None
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for rgb in frames:
            if size is None:
                size = _check_size(rgb, count, None)
                stream.width, stream.height = size
            else:
                _check_size(rgb, count, size)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            container.mux(stream.encode(frame))
            count += 1
        if count:
            container.mux(stream.encode(None))  # flush the encoder's delayed frames
    if count == 0:
        path.unlink(missing_ok=True)
        raise ValueError("no frames to write")
    return count


def write_video(path: Path, frames: Iterable[Image], fps: float) -> int:
    """Write a clip in the format its suffix names (.y4m or .mp4)."""
    suffix = path.suffix.lower()
    if suffix == ".y4m":
        return write_y4m(path, frames, fps)
    if suffix in (".mp4", ".m4v", ".mov"):
        return write_mp4(path, frames, fps)
    raise ValueError(f"cannot write {suffix or 'suffix-less'} video: use .y4m or .mp4")
