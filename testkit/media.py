"""Test media files: a Y4M clip of the synthetic face for Chromium's fake camera."""

from __future__ import annotations

from pathlib import Path

from testkit.synthetic import Movement, SyntheticFace
from testkit.video import write_y4m


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
