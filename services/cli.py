"""``telerehab`` command line: ``up`` runs everything on one machine; ``gateway`` and
``analyzer`` run one part each (as in a deployment); ``session`` opens a session;
``clinic`` runs the clinic API alone and ``db`` migrates its database."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from shared.settings import LANDMARKERS, Settings, SettingsError


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # aiortc/aioice are chatty at INFO about every candidate pair.
    for noisy in ("aioice", "aiortc"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="telerehab", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start Redis if needed, the gateway and analyzers; print demo links")
    up.add_argument(
        "--workers", type=int, default=None, help="analyzer workers (default TELEREHAB_ANALYZER_WORKERS)"
    )
    up.add_argument("--no-demo", action="store_true", help="do not open a demo session")
    sub.add_parser("gateway", help="run the WebRTC gateway")
    an = sub.add_parser("analyzer", help="run one analyzer worker")
    an.add_argument("--id", default=None, help="worker id (default host-pid-random)")
    sess = sub.add_parser("session", help="open a session on a running gateway and print its links")
    sess.add_argument("--ttl", type=int, default=None, help="seconds the links stay valid")
    ana = sub.add_parser(
        "analyze",
        help="measure a recorded video with the live engine (its relaxed stretch is found in the clip)",
    )
    ana.add_argument("video", help="video file (anything FFmpeg reads: mp4, webm, mov, y4m...)")
    ana.add_argument(
        "--exercise",
        default=None,
        help="catalogue exercise name (default: detect it), or 'rest' for a clip at rest (counts twitches)",
    )
    ana.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    ana.add_argument(
        "--neutral",
        default=None,
        metavar="START-END",
        help="seconds of relaxed face to measure from (default: the calmest, least active frames)",
    )
    ana.add_argument(
        "--landmarker",
        choices=LANDMARKERS,
        default=None,
        help="landmark backend (default TELEREHAB_LANDMARKER, tracked)",
    )
    clinic = sub.add_parser("clinic", help="run the clinic API alone (clinic create-admin: add an admin)")
    clinic_sub = clinic.add_subparsers(dest="clinic_command")
    admin = clinic_sub.add_parser("create-admin", help="create an admin; the password is read from stdin")
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", default="Administrator")
    db = sub.add_parser("db", help="clinic database migrations (DATABASE_URL)")
    db.add_argument("action", choices=("upgrade", "downgrade", "current"))
    db.add_argument("revision", nargs="?", default=None, help="target (default: head / one step down)")
    args = parser.parse_args(argv)
    if args.command == "analyze":
        return _analyze(args.video, args.exercise, args.json, args.neutral, args.landmarker)

    _setup_logging(args.verbose)
    # Quiet TensorFlow Lite / absl start-up chatter in the analyzer's logs.
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"telerehab: configuration error: {exc}", file=sys.stderr)
        return 2

    if args.command in ("clinic", "db"):
        from services.clinic.manage import command

        return command(settings, args)
    if args.command == "gateway":
        from services.site import run as run_gateway

        if not settings.secret:
            print("telerehab: set TELEREHAB_SECRET (the key that signs join links)", file=sys.stderr)
            return 2
        run_gateway(settings)
        return 0
    if args.command == "analyzer":
        from analyzer.service import run as run_analyzer

        run_analyzer(settings, args.id)
        return 0
    if args.command == "session":
        from services.launcher import open_session

        return open_session(settings, args.ttl)
    from services.launcher import up as run_up

    return run_up(settings, workers=args.workers, demo=not args.no_demo)


def _analyze(
    video: str, exercise: str | None, as_json: bool, neutral: str | None = None, landmarker: str | None = None
) -> int:
    """Progress and errors go to stderr; the report (text or JSON) alone to stdout."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from pathlib import Path

    from analyzer.landmark_model import make_landmarker
    from analyzer.offline import AnalyzeError, Progress, analyze, format_report, parse_span
    from shared.exercises import CatalogueError

    try:
        span = parse_span(neutral) if neutral else None
        kind = landmarker or Settings.from_env().landmarker
        report = analyze(
            Path(video), exercise, progress=Progress, neutral=span, landmarker=make_landmarker(kind)
        )
    except (AnalyzeError, CatalogueError, SettingsError) as exc:
        print(f"telerehab analyze: {exc}", file=sys.stderr)
        return exc.exit_code if isinstance(exc, AnalyzeError) else 2
    if as_json:
        json.dump(report, sys.stdout, separators=(",", ":"))
        sys.stdout.write("\n")
    else:
        print(format_report(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
