"""Every Redis key name, in one place.

Per-session keys carry the session id as a hash tag (``rehab:{sid}:frames``) so that
all of a session's keys live in one slot and the layout works unchanged on Redis
Cluster (and so Lua scripts may touch several of them at once).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")

ANALYZER_GROUP = "analyzers"
CLINIC_GROUP = "clinic"
SESSIONS_STREAM_MAXLEN = 10_000  # approximate cap on the sessions stream
ENDED_STREAM_MAXLEN = 10_000  # approximate cap on the ended-sessions stream


def valid_session_id(sid: str) -> bool:
    return bool(_SID.match(sid))


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = "rehab"

    def _session(self, sid: str, name: str) -> str:
        if not valid_session_id(sid):
            raise ValueError(f"invalid session id {sid!r}")
        return f"{self.prefix}:{{{sid}}}:{name}"

    def sessions(self) -> str:
        """Stream of live sessions; analyzer workers claim its entries through a group."""
        return f"{self.prefix}:sessions"

    def ended_sessions(self) -> str:
        """Stream of ended sessions' summaries (figures only), for the clinic to keep."""
        return f"{self.prefix}:ended-sessions"

    def worker(self, worker_id: str) -> str:
        """Presence of a live analyzer worker (expires unless its heartbeat renews it)."""
        return f"{self.prefix}:worker:{worker_id}"

    def session_meta(self, sid: str) -> str:
        """Hash that exists while the session is open; its absence means 'ended'."""
        return self._session(sid, "meta")

    def session_frames(self, sid: str) -> str:
        """Stream of sampled patient frames, trimmed to the newest few."""
        return self._session(sid, "frames")

    def session_feedback(self, sid: str) -> str:
        """Stream of analysis results for the gateway to fan out."""
        return self._session(sid, "feedback")

    def session_commands(self, sid: str) -> str:
        """Stream of commands for the analyzer (start an exercise, the assessment, ...)."""
        return self._session(sid, "commands")

    def session_state(self, sid: str) -> str:
        """The analyzer's checkpoint (baseline etc.) so a successor can resume."""
        return self._session(sid, "state")

    def session_lease(self, sid: str) -> str:
        """Which worker analyses the session now; expires unless renewed."""
        return self._session(sid, "lease")

    def session_ended(self, sid: str) -> str:
        """Tombstone: the session was ended on purpose (not lost in a Redis restart)."""
        return self._session(sid, "ended")

    def session_keys(self, sid: str) -> tuple[str, ...]:
        """The keys that hold a live session's data (meta first), all deleted at its end."""
        return (
            self.session_meta(sid),
            self.session_frames(sid),
            self.session_feedback(sid),
            self.session_commands(sid),
            self.session_state(sid),
            self.session_lease(sid),
        )
