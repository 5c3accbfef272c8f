"""Turn a sampled ``Frame`` message back into an RGB image, refusing bad ones."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import simplejpeg

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
    # libjpeg-turbo straight to RGB (simplejpeg): ~0.17 ms for 320x240 against ~0.26 ms
    # for OpenCV's decode + colour swap, bit-identical. The header is read first, so a
    # frame that lies about its size is refused before anything is decompressed.
    try:
        height, width, _colorspace, _subsampling = simplejpeg.decode_jpeg_header(frame.data)
    except ValueError:
        raise BadFrame("JPEG data could not be decoded") from None
    if (height, width) != (frame.height, frame.width):
        raise BadFrame(f"JPEG is {width}x{height}, header says {frame.width}x{frame.height}")
    try:
        rgb = simplejpeg.decode_jpeg(frame.data, colorspace="RGB")
    except ValueError:
        raise BadFrame("JPEG data could not be decoded") from None
    return np.asarray(rgb, dtype=np.uint8)


def encode_jpeg(rgb: npt.NDArray[np.uint8], quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise BadFrame("JPEG encoding failed")
    return buf.tobytes()
