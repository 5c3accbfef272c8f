"""Accuracy of ``telerehab analyze`` on real faces with known, synthetic movement, against
a naive per-side landmark baseline scored on the same clips in the same run.

Every clip is a real photo (``benchmarks.faces``: nine faces from packages) warped with
known per-side movement by ``testkit.synthetic`` (the affected side moves k times the
healthy side), rendered at 448x336, 15 fps, written as H.264 and analysed by exactly
what ``telerehab analyze VIDEO --exercise E --json`` runs (``analyzer.offline.analyze``),
so the figures are the user's figures. Clip kinds, per face:

* k grid: smile, eye closure, brow raise, pucker at k in {0, .25, .5, .75, 1} after
  1.6 s of rest, with a little head sway (the affected side alternates by face); snarl,
  lip press and cheek puff at k in {0, .5, 1} (reported per exercise, not in "all"; a lip
  press's true k is what the warp really moved on each side);
* three repetitions of a smile: ``attempts`` (movements to target and back) exact?
* resting droop: one mouth corner 4 px lower at rest; error of the reported mm;
* synkinesis: a smile during which the affected eye narrows 25-50 % (positives) or not
  (negatives): AUC of the reported index, and the side it names;
* head motion (large sway), and five nuisances: dim, noise, low bitrate, low resolution,
  blur (each on a k = 0.5 smile);
* a short lead-in (0.5 s of rest) and rest only at the end: the neutral stretch must be
  found in the clip itself.

``--landmarker facemesh`` measures with the whole graph instead of the default tracked
landmarker. Clips where the engine declines a measure and says why
(``summary.not_measured``) are counted apart (``summarise``).

The naive baseline (``naive_symmetry``): the whole FaceMesh graph's
landmarks (refined irises) on the same frames, recorded while ``analyze`` ran;
neutral = the mean of the first 8 frames, each frame similarity-aligned to it, the
exercise's per-side measure, min/max of the per-side 95th-percentile peaks.

    python -m benchmarks.analysis_accuracy [--faces a b] [--kinds grid reps ...] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from analyzer.alignment import align
from analyzer.landmark_model import make_landmarker
from analyzer.landmarks import FaceMeshLandmarker, Landmarks, Primable
from analyzer.metrics import Neutral, Side, measure, mm_per_unit
from analyzer.offline import analyze
from benchmarks.faces import FACES
from shared.exercises import get_exercise
from shared.settings import LANDMARKERS
from testkit.synthetic import HeadMotion, Movement, SyntheticFace, movement_at
from testkit.video import write_mp4

FPS = 15.0
SIZE = (448, 336)
KS = (0.0, 0.25, 0.5, 0.75, 1.0)
NAIVE_NEUTRAL_FRAMES = 8
Image = np.ndarray[Any, np.dtype[np.uint8]]


@dataclass(frozen=True)
class Movement1:
    exercise: str
    field: str  # Movement's field prefix
    amount: float  # the healthy side's warp (pixels of the 640x480 base, or a fraction)


MOVEMENTS = (
    Movement1("closed_smile", "smile", 14.0),
    Movement1("gentle_eye_closure", "eye_close", 0.8),
    Movement1("brow_raise", "brow", 12.0),
    Movement1("pucker", "pucker", 12.0),
)
# Three more movements, on a shorter grid (k in 0, .5, 1), reported on their own.
EXTRA = (
    Movement1("snarl", "snarl", 10.0),
    Movement1("lip_press", "lip_press", 6.0),
    Movement1("cheek_puff", "cheek", 10.0),
)
BY_EXERCISE = {m.exercise: m for m in MOVEMENTS + EXTRA}


def sided(m: Movement1, k: float, affected: Side, **extra: float) -> Movement:
    healthy: Side = "left" if affected == "right" else "right"
    values = {f"{m.field}_{healthy}": m.amount, f"{m.field}_{affected}": m.amount * k, **extra}
    return Movement(**values)


# -- image nuisances ---------------------------------------------------------------------
def dim(img: Image) -> Image:
    # A dark room: a quarter of the light, and the camera's gamma lifting the shadows.
    return np.clip(255 * ((img / 255.0) * 0.22) ** 1.15, 0, 255).astype(np.uint8)


def noise(img: Image, rng: np.random.Generator) -> Image:
    return np.clip(img + rng.normal(0, 10, img.shape), 0, 255).astype(np.uint8)


def low_resolution(img: Image) -> Image:
    h, w = img.shape[:2]
    small = cv2.resize(img, (w // 3, h // 3), interpolation=cv2.INTER_AREA)
    return np.asarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), dtype=np.uint8)


def blur(img: Image) -> Image:
    return np.asarray(cv2.GaussianBlur(img, (0, 0), 2.0), dtype=np.uint8)


@dataclass
class Clip:
    name: str
    exercise: str
    steps: list[tuple[Movement, float]]
    start: Movement = field(default_factory=Movement)
    motion: HeadMotion = field(default_factory=HeadMotion)
    nuisance: str = ""
    crf: int = 20
    truth: dict[str, Any] = field(default_factory=dict)


def frames(face: SyntheticFace, clip: Clip) -> Iterator[Image]:
    rng = np.random.default_rng(7)
    total = sum(s for _, s in clip.steps)
    for i in range(round(total * FPS)):
        t = i / FPS
        shift, scale, angle = clip.motion.at(t)
        img = face.render(movement_at(clip.steps, t, clip.start), shift=shift, scale=scale, angle_deg=angle)
        img = cv2.resize(img, SIZE, interpolation=cv2.INTER_AREA)
        if clip.nuisance == "dim":
            img = dim(img)
        elif clip.nuisance == "noise":
            img = noise(img, rng)
        elif clip.nuisance == "low_resolution":
            img = low_resolution(img)
        elif clip.nuisance == "blur":
            img = blur(img)
        yield np.ascontiguousarray(img)


def hold(move: Movement, lead: float = 1.6, tail: float = 0.8) -> list[tuple[Movement, float]]:
    return [(Movement(), lead), (move, 0.6), (move, 3.4), (Movement(), 0.6), (Movement(), tail)]


def clips_for(face_index: int, kinds: set[str], face: SyntheticFace | None = None) -> Iterator[Clip]:
    """The clips for ``face`` (the face at ``face_index``; needed for lip press, whose
    true k is what the warp really did: a thin lip runs out of vermilion on the healthy
    side first, so the affected side truly moves more than k times as much)."""
    affected: Side = "right" if face_index % 2 == 0 else "left"
    other: Side = "left" if affected == "right" else "right"
    smile = BY_EXERCISE["closed_smile"]
    if "grid" in kinds:
        for m in MOVEMENTS:
            for k in KS:
                yield Clip(
                    f"{m.exercise} k={k}",
                    m.exercise,
                    hold(sided(m, k, affected)),
                    motion=HeadMotion(seed=face_index * 31 + int(k * 4)),
                    truth={"k": k, "side": affected},
                )
    if "extra" in kinds:
        for m in EXTRA:
            for k in (0.0, 0.5, 1.0):
                movement = sided(m, k, affected)
                truth_k = k
                if m.exercise == "lip_press" and face is not None:
                    moved = face.lip_press_moved(movement.lip_press_left, movement.lip_press_right)
                    ratio = moved[affected] / moved[other]
                    truth_k = round(min(ratio, 1 / ratio) if ratio else 0.0, 3)
                yield Clip(
                    f"{m.exercise} k={k}",
                    m.exercise,
                    hold(movement),
                    motion=HeadMotion(seed=face_index * 17 + int(k * 4)),
                    truth={"k": truth_k, "side": affected, "extra": True},
                )
    if "reps" in kinds:
        move = sided(smile, 0.6, affected)
        steps = [(Movement(), 1.6)]
        for _ in range(3):
            steps += [(move, 0.7), (move, 3.3), (Movement(), 0.7), (Movement(), 1.0)]
        yield Clip("smile x3", "closed_smile", steps, truth={"attempts": 3, "k": 0.6, "side": affected})
    if "droop" in kinds:
        droop = 4.0
        start = Movement(**{f"droop_mouth_{affected}": droop})
        yield Clip(
            "resting droop",
            "closed_smile",
            [(start, 1.6), (sided(smile, 0.5, affected, **{f"droop_mouth_{affected}": droop}), 0.6)]
            + [(sided(smile, 0.5, affected, **{f"droop_mouth_{affected}": droop}), 2.0)],
            start=start,
            truth={"droop_px": droop, "side": affected, "attempts": 0},  # held 2 s, never released
        )
    if "synkinesis" in kinds:
        for n, narrow in enumerate((0.25, 0.35, 0.5)):
            for m in (smile, BY_EXERCISE["pucker"]):
                move = sided(m, 0.5, affected, **{f"eye_close_{affected}": narrow})
                yield Clip(
                    f"synkinesis {m.field} {narrow}",
                    m.exercise,
                    hold(move),
                    motion=HeadMotion(seed=200 + n),
                    truth={"synkinesis": True, "side": affected, "k": 0.5},
                )
            # Negatives: the same movement, both eyes still.
            yield Clip(
                f"no synkinesis {n}",
                smile.exercise if n % 2 == 0 else "pucker",
                hold(sided(smile if n % 2 == 0 else BY_EXERCISE["pucker"], 0.5 + 0.2 * n, affected)),
                motion=HeadMotion(seed=300 + n),
                truth={"synkinesis": False, "k": 0.5 + 0.2 * n, "side": affected},
            )
    if "motion" in kinds:
        for m in (smile, BY_EXERCISE["brow_raise"]):
            yield Clip(
                f"head motion {m.field}",
                m.exercise,
                hold(sided(m, 1.0, affected)),
                motion=HeadMotion(shift_px=12.0, angle_deg=8.0, scale=0.08, seed=face_index),
                truth={"k": 1.0, "side": affected},
            )
    if "nuisance" in kinds:
        for nuisance in ("dim", "noise", "low_bitrate", "low_resolution", "blur"):
            m = MOVEMENTS[(face_index + len(nuisance)) % len(MOVEMENTS)]
            yield Clip(
                f"{nuisance} {m.field}",
                m.exercise,
                hold(sided(m, 0.5, affected)),
                nuisance=nuisance,
                crf=38 if nuisance == "low_bitrate" else 20,
                truth={"k": 0.5, "side": affected},
            )
    if "lead" in kinds:
        m = BY_EXERCISE["closed_smile"] if face_index % 2 else BY_EXERCISE["brow_raise"]
        yield Clip(
            f"short rest {m.field}",
            m.exercise,
            hold(sided(m, 0.5, affected), lead=0.5),
            truth={"k": 0.5, "side": affected, "attempts": 1},
        )
        move = sided(BY_EXERCISE["gentle_eye_closure"], 0.25, other)
        yield Clip(
            "rest at the end eye",
            "gentle_eye_closure",
            [(move, 0.4), (move, 3.4), (Movement(), 0.6), (Movement(), 1.6)],
            start=move,
            truth={"k": 0.25, "side": other},
        )


class RecordingLandmarker:
    """The landmarker under test (``--landmarker``) for the engine, and the whole FaceMesh
    graph's answers on the same images for the naive baseline (as the issue's baseline
    did: MediaPipe's landmarks with refined irises): the same answers when the graph is
    the landmarker under test. ``analyze`` reads the clip's landmarks a second time when
    the landmarker under test learns per face (``prime``); the graph's are recorded on
    the first read only."""

    def __init__(self, kind: str) -> None:
        self.mesh = FaceMeshLandmarker()
        self.ours = self.mesh if kind == "facemesh" else make_landmarker(kind)
        self.seen: list[Landmarks | None] = []
        self.recording = True

    def detect(self, image: Image) -> Landmarks | None:
        if self.ours is not self.mesh and not self.recording:
            return self.ours.detect(image)
        found = self.mesh.detect(image)
        self.seen.append(found)
        return found if self.ours is self.mesh else self.ours.detect(image)

    def prime(self, images: Sequence[Image]) -> bool:
        primed = isinstance(self.ours, Primable) and self.ours.prime(images)
        self.recording = not primed
        return primed

    def close(self) -> None:
        if self.ours is not self.mesh:
            self.ours.close()
        self.mesh.close()


def naive_symmetry(seen: list[Landmarks | None], exercise: str) -> tuple[float | None, Side | None]:
    points = [lm.points for lm in seen if lm is not None]
    if len(points) <= NAIVE_NEUTRAL_FRAMES:
        return None, None
    ref = points[0]
    neutral_pts = np.mean([align(p, ref) for p in points[:NAIVE_NEUTRAL_FRAMES]], axis=0).astype(np.float32)
    neutral = Neutral.of(neutral_pts, mm_per_unit(neutral_pts))
    spec = get_exercise(exercise)
    values: dict[Side, list[float]] = {"left": [], "right": []}
    for p in points[NAIVE_NEUTRAL_FRAMES:]:
        f = measure(align(p, neutral_pts), neutral).features[spec.measure]
        values["left"].append(f["left"])
        values["right"].append(f["right"])
    left, right = (max(0.0, float(np.percentile(values[s], 95))) for s in ("left", "right"))
    high = max(left, right)
    if high <= 0:
        return None, None
    index = min(left, right) / high
    return index, (None if index >= 0.9 else ("left" if left < right else "right"))


def auc(positives: list[float], negatives: list[float]) -> float | None:
    if not positives or not negatives:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


@dataclass
class Tally:
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, **row: Any) -> None:
        self.rows.append(row)

    def where(self, **match: Any) -> list[dict[str, Any]]:
        return [r for r in self.rows if all(r.get(k) == v for k, v in match.items())]


def run_face(name: str, index: int, kinds: set[str], tally: Tally, workdir: Path, landmarker: str) -> None:
    face = SyntheticFace(FACES[name]())
    for clip in clips_for(index, kinds, face):
        path = workdir / f"{name}.mp4"
        write_mp4(path, frames(face, clip), FPS, crf=clip.crf)
        recorder = RecordingLandmarker(landmarker)
        started = time.monotonic()
        try:
            report = analyze(path, clip.exercise, landmarker=recorder)
        except Exception as exc:  # a refusal is a result: count it
            tally.add(face=name, clip=clip.name, exercise=clip.exercise, refused=str(exc), **clip.truth)
            print(f"  {name:9s} {clip.name:28s} REFUSED: {exc}")
            continue
        s = report["summary"]
        naive, naive_side = naive_symmetry(recorder.seen, clip.exercise)
        # What the engine declined, saying why (eyes nearly closed at rest): the clip's
        # exercise's measure (no symmetry), or eye closure (no eye narrowing: synkinesis).
        declined = s.get("not_measured", {})
        row = {
            "face": name,
            "clip": clip.name,
            "exercise": clip.exercise,
            "nuisance": clip.nuisance,
            "symmetry": s["symmetry"],
            "side": s["affected_side"],
            "attempts": s["attempts"],
            "reps": s["reps"],
            "synkinesis": s["synkinesis"],
            "synkinesis_side": s.get("synkinesis_side"),
            "resting_mouth_mm": s["resting_asymmetry_mm"]["mouth"],
            "mm_per_px": _mm_per_px(face),
            "naive": naive,
            "naive_side": naive_side,
            "seconds": time.monotonic() - started,
            "not_measured": declined.get(s["target"]["measure"]),
            "synkinesis_not_measured": declined.get("eye_closure"),
            "truth_side": clip.truth.get("side"),
            "attempts_truth": clip.truth.get("attempts", 1),
            **{k: v for k, v in clip.truth.items() if k not in ("side", "attempts")},
        }
        tally.add(**row)
        sym = "  n/a" if s["symmetry"] is None else f"{s['symmetry']:.2f}"
        nai = "  n/a" if naive is None else f"{naive:.2f}"
        print(
            f"  {name:9s} {clip.name:28s} k={clip.truth.get('k', '-')!s:5s} sym {sym} naive {nai} "
            f"side {s['affected_side']!s:5s} att {s['attempts']} synk {s['synkinesis']:.2f} "
            f"{s.get('synkinesis_side')!s:5s} rest mouth {s['resting_asymmetry_mm']['mouth']:+.1f}",
            flush=True,
        )


def _mm_per_px(face: SyntheticFace) -> float:
    """Millimetres per pixel of the 448 px clip, from the base face's iris (as Emotrics)."""
    return mm_per_unit(face.landmarks) * 640 / SIZE[0]


def _mae(rows: list[dict[str, Any]], key: str) -> float | None:
    errors = [abs((r[key] if r[key] is not None else 0.0) - r["k"]) for r in rows if "k" in r]
    return statistics.mean(errors) if errors else None


def summarise(tally: Tally) -> dict[str, Any]:
    """The figures over the clips the engine measured; clips where it declined a measure
    and said why (``not_measured``) are counted apart, and the overall figure is also
    given with each of them scored as a reading of 0 (the worst case for the engine)."""
    answered = [r for r in tally.rows if "refused" not in r]
    declined = [r for r in answered if r.get("not_measured")]
    measured = [r for r in answered if not r.get("not_measured")]
    extra = [r for r in measured if r.get("extra")]
    with_k = [r for r in measured if "k" in r and not r.get("extra")]
    out: dict[str, Any] = {"clips": len(tally.rows), "refused": len(tally.rows) - len(answered)}
    out["not_measured"] = {
        "clips": len(declined),
        "by_face": dict(sorted(Counter(r["face"] for r in declined).items())),
        "by_exercise": dict(sorted(Counter(r["exercise"] for r in declined).items())),
    }
    all_k = [r for r in answered if "k" in r and not r.get("extra")]
    out["symmetry_mae"] = {
        "all": _mae(with_k, "symmetry"),
        "naive": _mae(with_k, "naive"),
        "all_with_not_measured_as_0": _mae(all_k, "symmetry"),  # _mae reads None as 0
        "naive_on_every_clip": _mae(all_k, "naive"),
    }
    by_ex: dict[str, Any] = {}
    for m in MOVEMENTS + EXTRA:
        rows = [r for r in (extra if m in EXTRA else with_k) if r["exercise"] == m.exercise]
        by_ex[m.exercise] = {
            "engine": _mae(rows, "symmetry"),
            "naive": _mae(rows, "naive"),
            "clips": len(rows),
        }
    out["symmetry_mae"]["per_exercise"] = by_ex
    by_face: dict[str, Any] = defaultdict(dict)
    for r in with_k:
        by_face[r["face"]].setdefault("rows", []).append(r)
    out["symmetry_mae"]["per_face"] = {
        f: {"engine": _mae(v["rows"], "symmetry"), "naive": _mae(v["rows"], "naive")}
        for f, v in by_face.items()
    }
    nuis = [r for r in with_k if r.get("nuisance")]
    out["symmetry_mae"]["per_nuisance"] = {
        n: {"engine": _mae(rows, "symmetry"), "naive": _mae(rows, "naive")}
        for n in sorted({r["nuisance"] for r in nuis})
        for rows in [[r for r in nuis if r["nuisance"] == n]]
    }
    sym1 = [r for r in with_k if r["k"] == 1.0]
    out["symmetric_below_0.8"] = {
        "engine": sum((r["symmetry"] or 0) < 0.8 for r in sym1) / max(1, len(sym1)),
        "naive": sum((r["naive"] or 0) < 0.8 for r in sym1) / max(1, len(sym1)),
        "clips": len(sym1),
    }
    weak = [r for r in with_k if r["k"] <= 0.75 and r.get("truth_side")]
    out["weaker_side_right"] = {
        "engine": sum(r["side"] == r["truth_side"] for r in weak) / max(1, len(weak)),
        "naive": sum(r["naive_side"] == r["truth_side"] for r in weak) / max(1, len(weak)),
        "clips": len(weak),
    }
    # "synkinesis" holds the reading; the truth is in the clip's name.
    synk = [r for r in measured if not r.get("synkinesis_not_measured")]
    pos = [r for r in synk if r["clip"].startswith("synkinesis")]
    neg = [r for r in synk if r["clip"].startswith("no synkinesis")]
    out["synkinesis"] = {
        "auc": auc([r["synkinesis"] for r in pos], [r["synkinesis"] for r in neg]),
        "side_right": sum(r["synkinesis_side"] == r["truth_side"] for r in pos) / max(1, len(pos)),
        "alerted": sum(r["synkinesis"] >= 0.15 for r in pos) / max(1, len(pos)),
        "false_alerts": sum(r["synkinesis"] >= 0.15 for r in neg) / max(1, len(neg)),
        "clips": len(pos) + len(neg),
        "not_measured": sum(
            bool(r.get("synkinesis_not_measured")) for r in measured if "synkinesis" in r["clip"]
        ),
    }
    droop = [r for r in measured if r["clip"] == "resting droop"]
    errors = []
    for r in droop:
        # The droop adds to the face's own resting asymmetry: the change is compared,
        # against the same face's reading on its other clips.
        own = statistics.median(
            x["resting_mouth_mm"] for x in measured if x["face"] == r["face"] and x["clip"] != "resting droop"
        )
        truth = r["droop_px"] * r["mm_per_px"] * SIZE[0] / 640  # px of the 640 base → mm
        truth_signed = truth if r["truth_side"] == "right" else -truth  # left - right corner height
        errors.append(abs(r["resting_mouth_mm"] - own - truth_signed))
    out["resting_droop_error_mm"] = statistics.mean(errors) if errors else None
    counted = [r for r in measured if "attempts_truth" in r]
    out["attempts_exact"] = {
        "exact": sum(r["attempts"] == r["attempts_truth"] for r in counted) / max(1, len(counted)),
        "clips": len(counted),
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--faces", nargs="*", default=list(FACES), help=f"default: {list(FACES)}")
    kinds_all = ["grid", "extra", "reps", "droop", "synkinesis", "motion", "nuisance", "lead"]
    parser.add_argument("--kinds", nargs="*", default=kinds_all, help=f"default: {kinds_all}")
    parser.add_argument("--json", default=None)
    parser.add_argument(
        "--landmarker", choices=LANDMARKERS, default="tracked", help="TELEREHAB_LANDMARKER under test"
    )
    parser.add_argument("--summarise", default=None, metavar="JSON", help="only summarise an earlier --json")
    args = parser.parse_args()
    if args.summarise:
        rows = json.loads(Path(args.summarise).read_text())["rows"]
        print(json.dumps(summarise(Tally(rows)), indent=1))
        return
    started = time.monotonic()
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="telerehab-accuracy-") as tmp:
        for name in args.faces:
            print(f"== {name} ==", flush=True)
            run_face(name, list(FACES).index(name), set(args.kinds), tally, Path(tmp), args.landmarker)
    result = summarise(tally)
    result["seconds"] = round(time.monotonic() - started)
    result["landmarker"] = args.landmarker
    print(json.dumps(result, indent=1, default=lambda x: round(x, 3) if isinstance(x, float) else str(x)))
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": result, "rows": tally.rows}, indent=1))


if __name__ == "__main__":
    main()
