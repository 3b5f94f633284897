"""The daemon's timetable: its periodic jobs on APScheduler, and how a job ends.

Three of APScheduler's habits are wrong for a store PC, and are undone here once
for every job rather than at each ``add_job``:

- it skips a run that starts more than 1 s late (``misfire_grace_time``): on a busy
  PC that dropped the start's heartbeat and could drop the nightly backup. Late is
  better than never, and several missed runs make one (``coalesce``);
- at shutdown it cancels the jobs in flight and logs each ``CancelledError`` with a
  traceback as if the job had failed; a job cut off by a stop did nothing wrong (no
  transaction spans an await);
- a job that meets a failing disk would be logged as a crash; it is reported to the
  storage watch instead, and runs again at its next time.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any

from apscheduler.job import Job
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from agent.errors import StoreError
from agent.workers.storage_watch import StorageWatch

JobFn = Callable[[], Awaitable[None]]


class JobSchedule:
    def __init__(self, stop: asyncio.Event, storage: StorageWatch):
        self.stop = stop
        self.storage = storage
        self.scheduler = AsyncIOScheduler(job_defaults={"misfire_grace_time": None,
                                                        "coalesce": True})

    def add(self, job: JobFn, *args: Any, **kwargs: Any) -> None:
        """``add_job`` with the job wrapped; with no trigger, it runs once, now.

        Never pass ``next_run_time=None``: APScheduler reads it as "paused".
        """
        self.scheduler.add_job(self._quiet_on_stop(job), *args, **kwargs)

    def start(self) -> None:
        self.scheduler.start()

    def shutdown(self) -> None:
        self.scheduler.shutdown(wait=False)

    def jobs(self) -> list[Job]:
        jobs: list[Job] = self.scheduler.get_jobs()
        return jobs

    def _quiet_on_stop(self, job: JobFn) -> JobFn:
        @functools.wraps(job)
        async def run() -> None:
            try:
                await job()
            except asyncio.CancelledError:
                if not self.stop.is_set():
                    raise
            except StoreError as exc:  # the job runs again at its next time
                self.storage.failed(job.__name__.removeprefix("job_"), exc)

        return run
