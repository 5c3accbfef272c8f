"""A fake-camera clip whose movement the browser can see for itself.

The synthetic face rests, then smiles (on the patient's left), in a loop; a small square
in the top-left corner of every frame is white while the face smiles and black while it
rests. ``WATCH_CAMERA_JS`` (an init script) reads that square from the patient page's
self-view on every frame the page presents (``requestVideoFrameCallback``) and records
each rest → smile onset with the frame's presentation time. Tests count smiles the camera
showed (to check a rep count against the motion), and ``benchmarks.cue_latency`` times
each onset to the moment the page renders the movement.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

from testkit.synthetic import Movement, SyntheticFace
from testkit.video import write_y4m

Image = npt.NDArray[np.uint8]

MARKER_PX = 24  # side of the marker square, in pixels of the 640x480 frame


def _marked(rgb: Image, on: bool) -> Image:
    out = rgb.copy()
    out[:MARKER_PX, :MARKER_PX] = 255 if on else 0
    return out


def marked_smile_clip(
    face: SyntheticFace,
    path: Path,
    *,
    fps: int = 15,
    neutral_s: float = 3.0,
    smile_s: float = 3.0,
    smile_left: float = 14.0,
    smile_right: float = 0.0,
    ramp_s: float = 0.0,
) -> Path:
    """Rest for ``neutral_s``, smile for ``smile_s`` (looped by Chromium), with the marker
    on from the first frame that moves. ``ramp_s`` > 0 eases into and out of the smile
    (a slow, controlled movement, as the exercises ask) within ``smile_s``."""
    rest, full = Movement(), Movement(smile_left=smile_left, smile_right=smile_right)
    neutral = _marked(face.render(rest), on=False)
    smile = _marked(face.render(full), on=True)
    n_ramp = round(ramp_s * fps)
    ramp = [_marked(face.render(rest.lerp(full, (k + 1) / (n_ramp + 1))), on=True) for k in range(n_ramp)]
    n_hold = round(smile_s * fps) - 2 * n_ramp
    if n_hold < 1:
        raise ValueError("smile_s must be longer than twice ramp_s")

    def frames() -> Iterator[Image]:
        yield from [neutral] * round(neutral_s * fps)
        yield from ramp
        yield from [smile] * n_hold
        yield from reversed(ramp)

    write_y4m(path, frames(), fps)
    return path


# window.__camera = {frames, smiling, onsets: [{at, presented, frame}], ends: [...]}:
#   at        performance.now() in the frame callback
#   presented the frame's presentationTime (when it was handed to the compositor)
WATCH_CAMERA_JS = """
window.__camera = { frames: 0, smiling: null, onsets: [], ends: [] };
addEventListener("DOMContentLoaded", () => {
  const video = document.getElementById("self-video");
  if (!video || !("requestVideoFrameCallback" in HTMLVideoElement.prototype)) return;
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 4;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const onFrame = (now, meta) => {
    if (video.videoWidth) {
      const side = %(marker)d * video.videoWidth / 640;
      ctx.drawImage(video, side * 0.2, side * 0.2, side * 0.6, side * 0.6, 0, 0, 4, 4);
      const px = ctx.getImageData(0, 0, 4, 4).data;
      let sum = 0;
      for (let i = 0; i < px.length; i += 4) sum += px[i + 1];
      const smiling = sum / 16 > 128;
      const cam = window.__camera;
      const event = { at: performance.now(), presented: meta.presentationTime, frame: meta.presentedFrames };
      if (cam.smiling === false && smiling) cam.onsets.push(event);
      if (cam.smiling === true && !smiling) cam.ends.push(event);
      cam.smiling = smiling;
      cam.frames++;
    }
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
});
""".replace("%(marker)d", str(MARKER_PX))
