"""Stopping asyncio tasks reliably.

On Python 3.11 a cancellation can be lost when it lands while a library is inside
``asyncio.wait_for`` (redis-py's send path does this): the task swallows it and keeps
running. So owners cancel, wait a little, and cancel again until the task is really done.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)


async def cancel_and_wait(task: asyncio.Task[Any], attempts: int = 20, wait_s: float = 0.5) -> None:
    """Cancel ``task`` and wait until it has finished; never raises the task's error."""
    for _ in range(attempts):
        if task.done():
            break
        task.cancel()
        await asyncio.wait({task}, timeout=wait_s)
    if not task.done():
        log.error("task %s ignored %d cancellations; leaving it", task.get_name(), attempts)
        return
    if not task.cancelled() and task.exception() is not None:
        log.error("task %s had failed: %r", task.get_name(), task.exception())
