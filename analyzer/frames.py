"""Turn a sampled ``Frame`` message back into an RGB image, refusing bad ones."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from shared.messages import Frame

MAX_SIDE = 1920


class BadFrame(ValueError):
    """A frame that cannot be analysed; the worker logs it and moves on."""


def decode_frame(frame: Frame, max_bytes: int) -> npt.NDArray[np.uint8]:
    if len(frame.data) > max_bytes:
        raise BadFrame(f"frame of {len(frame.data)} bytes exceeds the {max_bytes}-byte limit")
    if not (0 < frame.width <= MAX_SIDE and 0 < frame.height <= MAX_SIDE):
        raise BadFrame(f"frame size {frame.width}x{frame.height} out of range")
    if frame.encoding == "rgb24":
        expected = frame.width * frame.height * 3
        if len(frame.data) != expected:
            raise BadFrame(f"rgb24 frame has {len(frame.data)} bytes, expected {expected}")
        return np.frombuffer(frame.data, dtype=np.uint8).reshape(frame.height, frame.width, 3)
    bgr = cv2.imdecode(np.frombuffer(frame.data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise BadFrame("JPEG data could not be decoded")
    if bgr.shape[0] != frame.height or bgr.shape[1] != frame.width:
        raise BadFrame(f"JPEG is {bgr.shape[1]}x{bgr.shape[0]}, header says {frame.width}x{frame.height}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)  # type: ignore[return-value]


def encode_jpeg(rgb: npt.NDArray[np.uint8], quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise BadFrame("JPEG encoding failed")
    return buf.tobytes()
