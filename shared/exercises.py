"""The exercise catalogue (``exercises.toml`` beside this module), typed and validated.

Both the analyzer (which counts repetitions) and the clinic (which builds home
programmes) read exercises from here, so an exercise name means the same thing
everywhere.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

import msgspec

Region = Literal["brow", "eye", "mouth", "nose", "cheek", "lips"]

# (region, direction) → the per-side measure the analyzer computes for it, and its unit.
MEASURES: dict[tuple[str, str], tuple[str, Literal["mm", "fraction"]]] = {
    ("brow", "up"): ("brow_lift", "mm"),
    ("eye", "close"): ("eye_closure", "fraction"),
    ("mouth", "up_out"): ("smile", "mm"),
    ("mouth", "medial"): ("pucker", "mm"),
    ("nose", "up"): ("snarl", "mm"),
    ("cheek", "out"): ("cheek_puff", "mm"),
    ("lips", "press"): ("lip_press", "mm"),
}


class CatalogueError(ValueError):
    """The catalogue file (or an exercise name) is not valid."""


class Control(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A region that must stay (nearly) still while the exercise's target moves."""

    region: Region
    direction: str
    max: float
    cue: str

    @property
    def measure(self) -> str:
        return MEASURES[(self.region, self.direction)][0]


class ExerciseSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    title: str
    instructions: str
    region: Region
    direction: str
    target: float
    hold_s: float
    reps: int
    sets: int
    tempo_s: float = 0.0
    rest_s: float = 10.0
    min_symmetry: float = 0.0
    max: float | None = None
    controls: tuple[Control, ...] = ()

    @property
    def measure(self) -> str:
        """Name of the per-side measure this exercise moves (e.g. ``"smile"``)."""
        return MEASURES[(self.region, self.direction)][0]

    @property
    def unit(self) -> Literal["mm", "fraction"]:
        return MEASURES[(self.region, self.direction)][1]

    def with_dose(
        self, *, reps: int | None = None, sets: int | None = None, hold_s: float | None = None
    ) -> ExerciseSpec:
        """The same exercise with a therapist's own reps, sets or hold."""
        return msgspec.structs.replace(
            self,
            reps=self.reps if reps is None else reps,
            sets=self.sets if sets is None else sets,
            hold_s=self.hold_s if hold_s is None else hold_s,
        )


def _validate(spec: ExerciseSpec) -> None:
    pairs = [(spec.region, spec.direction)] + [(c.region, c.direction) for c in spec.controls]
    for pair in pairs:
        if pair not in MEASURES:
            raise CatalogueError(f"exercise {spec.name!r}: cannot measure {pair[0]} moving {pair[1]!r}")
    if spec.target <= 0 or spec.hold_s < 0 or spec.reps < 1 or spec.sets < 1:
        raise CatalogueError(f"exercise {spec.name!r}: target, hold, reps and sets must be positive")
    if spec.max is not None and spec.max <= spec.target:
        raise CatalogueError(f"exercise {spec.name!r}: max must exceed target")


def parse_catalogue(text: bytes) -> dict[str, ExerciseSpec]:
    try:
        raw = msgspec.toml.decode(text, type=dict[str, dict[str, object]])
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise CatalogueError(f"exercise catalogue is not valid TOML: {exc}") from None
    catalogue: dict[str, ExerciseSpec] = {}
    for name, fields in raw.items():
        try:
            spec = msgspec.convert({"name": name, **fields}, ExerciseSpec)
        except msgspec.ValidationError as exc:
            raise CatalogueError(f"exercise {name!r}: {exc}") from None
        _validate(spec)
        catalogue[name] = spec
    return catalogue


@cache
def load_catalogue() -> dict[str, ExerciseSpec]:
    """The bundled catalogue, in file order."""
    return parse_catalogue(resources.files("shared").joinpath("exercises.toml").read_bytes())


def get_exercise(name: str) -> ExerciseSpec:
    catalogue = load_catalogue()
    try:
        return catalogue[name]
    except KeyError:
        known = ", ".join(catalogue)
        raise CatalogueError(f"unknown exercise {name!r}; known exercises: {known}") from None
