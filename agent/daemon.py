"""`store-agent run`: the daemon. Sync both ways, periodic jobs, until SIGTERM.

Workers: the outbox sender (woken within ~50 ms of a commit by any process,
seen through PRAGMA data_version), the feed long-poll, the metrics endpoint,
and APScheduler jobs for the heartbeat, reconciliation, the no-show scan,
alert rules and their webhook, and the nightly backup. Every database write
is a short synchronous transaction with no await inside, so cancelling a task
on SIGTERM can abandon an HTTP request in flight (safe: events stay pending
and are resent with the same id) but never a transaction half-way.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import random
import signal
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from agent.alerts import notify as alert_notify
from agent.alerts import rules as alert_rules
from agent.clock import age_s, iso, utc_now
from agent.errors import StoreAgentError, StoreError
from agent.kpis.escalation import evaluate_escalations
from agent.oms import make_client
from agent.ops import maintenance
from agent.ops.memory import malloc_trim
from agent.ops.metrics import StoreMetrics
from agent.printing.worker import PrintWorker
from agent.store import sync_state
from agent.store.connection import Store
from agent.store.daemon_lock import DaemonLock
from agent.store.devices import scanners
from agent.store.sync_state import SyncKey
from agent.workers.credentials import CredentialsWatch
from agent.workers.feed import FeedPuller
from agent.workers.housekeeping import heartbeat_body, scan_no_shows
from agent.workers.reconcile import reconcile
from agent.workers.schedule import JobSchedule
from agent.workers.sender import OutboxSender
from agent.workers.storage_watch import RETRY_S as STORAGE_RETRY_S
from agent.workers.storage_watch import StorageWatch
from config.errors import ConfigError
from config.loader import template_placeholders
from config.settings import Settings
from sync.errors import CredentialsError, SyncError
from sync.retry import backoff_delay

log = logging.getLogger("store_agent.daemon")
WAKE_POLL_S = 0.05
ALERTS_EVERY_S = 30
# A backup missed at night (PC off) runs this long after start, not during start-up.
BACKUP_CATCH_UP_S = 600
# Page cache of the connections that read little (the commit watch only asks for
# PRAGMA data_version; the print worker reads a few jobs): SQLite's default is 2 MiB each.
SMALL_CACHE_KIB = 256
# After work on this many orders or events at once, give the C heap's free pages back.
BIG_BATCH = 200
RELEASE_MEMORY_EVERY_S = 5
# While the OMS refuses the credentials, how often the files they come from are looked at.
CREDENTIALS_POLL_S = 1.0


class Daemon:
    store: Store
    storage: StorageWatch
    schedule: JobSchedule

    def __init__(self, settings: Settings, *, client_factory: Callable[..., Any] | None = None):
        self.settings = settings
        self.db_path = settings.storage.path
        self._client_factory = client_factory or make_client
        self.client = self._client_factory(settings)
        self.creds = CredentialsWatch(settings)  # what the client was built with, from where
        self.hup = asyncio.Event()  # set (and replaced) on SIGHUP: wakes every worker's pause
        self._retired_clients: list[Any] = []
        self.stop = asyncio.Event()
        self.wake = asyncio.Event()
        self.rng = random.Random()
        self.extra_workers: list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = []
        self.print_worker: PrintWorker | None = None
        self.feed_caught_up = False
        self.metrics = StoreMetrics(settings)
        self._trim = malloc_trim()
        self._big_batch_done = False

    # --- workers ---------------------------------------------------------------
    async def watch_commits(self, store: Store) -> None:
        """Wake the sender when any connection commits (CLI, UI, feed)."""
        last = -1
        while not self.stop.is_set():
            await asyncio.sleep(WAKE_POLL_S)
            try:
                current = store.data_version()
            except StoreError as exc:  # a damaged file or a failing disk: the workers say so too
                self.storage.failed("commit watch", exc)
                await self._sleep(STORAGE_RETRY_S)
                continue
            if current != last:
                last = current
                self.wake.set()

    async def run_sender(self, sender: OutboxSender) -> None:
        while not self.stop.is_set():
            self.wake.clear()
            self.credentials_changed()
            try:
                report = await sender.drain()
            except StoreError as exc:
                self.storage.failed("sender", exc)
                await self._sleep(STORAGE_RETRY_S)
                continue
            self.storage.succeeded()
            if report.sent >= BIG_BATCH:
                self._big_batch_done = True
            if report.sent or report.dead:
                log.info("sent=%d acked=%d dead=%d requests=%d", report.sent, report.acked,
                         report.dead, report.requests)
            if report.error:
                log.warning("sending paused %.1f s: %s", report.wait_s, report.error)
                await self._sleep(report.wait_s, refused=report.credentials_rejected)
            else:
                await self._wait_for_wake(timeout=5.0)

    async def run_feed(self, feed: FeedPuller) -> None:
        failures = 0
        while not self.stop.is_set():
            self.credentials_changed()
            try:
                report = await feed.pull(wait=self.settings.sync.long_poll_s)
                failures = 0
                self.feed_caught_up = not report.has_more
                if report.changes >= BIG_BATCH:
                    self._big_batch_done = True
                if report.changes:
                    log.info("feed: %d changes %s", report.changes, dict(report.outcomes))
                    self.wake.set()
                if report.cursor_reset:
                    self.schedule_reconcile()
                self.storage.succeeded()
            except StoreError as exc:
                self.storage.failed("feed", exc)
                await self._sleep(STORAGE_RETRY_S)
            except CredentialsError as exc:
                self._offline(str(exc))
                await self._sleep(self.settings.sync.credentials_retry_s, refused=True)
            except SyncError as exc:
                failures += 1
                self._offline(str(exc))
                delay = backoff_delay(failures - 1, rng=self.rng)
                log.warning("feed: %s; retrying in %.1f s", exc, delay)
                await self._sleep(delay)

    def _offline(self, error: str) -> None:
        try:
            with self.store.write() as conn:
                was_online = sync_state.mark_offline(conn, error)
        except StoreError as exc:
            self.storage.failed("sync state", exc)
            return
        if was_online:
            self._back_online_pending = True

    async def job_heartbeat(self) -> None:
        try:
            await self.client.heartbeat(heartbeat_body(self.store, self.devices()))
        except SyncError as exc:
            log.info("heartbeat not delivered: %s", exc)

    async def job_reconcile(self) -> None:
        try:
            report = await reconcile(self.store, self.settings, self.client)
            log.info("reconciled %d orders, %d findings", report.compared, len(report.findings))
            self._big_batch_done = True
            self.wake.set()
        except SyncError as exc:
            log.warning("reconciliation failed: %s", exc)

    async def job_checkpoint(self) -> None:
        self.store.checkpoint()

    async def job_release_memory(self) -> None:
        """After big batches only: an idle daemon has nothing to give back."""
        if self._big_batch_done and self._trim is not None:
            self._big_batch_done = False
            self._trim()

    async def job_no_shows(self) -> None:
        late = scan_no_shows(self.store)
        if late:
            log.info("no-shows: %s", ", ".join(late))

    async def job_alerts(self) -> None:
        alert_rules.evaluate(self.store, self.settings)
        evaluate_escalations(self.store, self.settings)
        await alert_notify.deliver(self.store, self.settings)

    async def job_backup(self) -> None:
        """VACUUM INTO, rotation, then retention: in a thread, so the loop keeps syncing."""
        try:
            await asyncio.to_thread(maintenance.nightly, self.settings)
        except (StoreAgentError, OSError) as exc:
            log.error("nightly backup failed, nothing purged: %s", exc)

    async def job_backup_catch_up(self) -> None:
        last = age_s(sync_state.get(self.store.conn, SyncKey.LAST_BACKUP_AT), utc_now())
        if last is None or last > 24 * 3600:
            await self.job_backup()

    async def job_watch_online(self) -> None:
        """Reconcile right after the OMS becomes reachable again."""
        online = sync_state.reported_online(self.store.conn)
        requested = sync_state.flag(self.store.conn, SyncKey.RECONCILE_REQUESTED)
        # Only once the feed has caught up: before that, the OMS's echoes of what the
        # store already did would all look like changes the store missed.
        if online and self.feed_caught_up and (self._back_online_pending or requested):
            self._back_online_pending = False
            await self.job_reconcile()

    def credentials_changed(self) -> bool:
        """Before a request: reload when a file the credentials come from changed."""
        return self.creds.files_changed(self.settings) and \
            self.reload_credentials("a credentials file changed")

    def on_sighup(self) -> None:
        """`systemctl reload store-agent`: apply the config's token and URL now, wake the workers."""
        self.creds.files_changed(self.settings)
        self.reload_credentials("SIGHUP")
        old, self.hup = self.hup, asyncio.Event()
        old.set()
        self.wake.set()

    def reload_credentials(self, why: str) -> bool:
        """Use the token and URL the config gives now, without a restart; True if they changed."""
        fresh = self.creds.reload(self.settings, why)
        if fresh is None:
            return False
        self._retired_clients.append(self.client)
        self.settings = fresh
        self.client = self._client_factory(fresh)
        for worker in (getattr(self, "sender", None), getattr(self, "feed", None)):
            if worker is not None:  # a SIGHUP may come before the workers exist
                worker.client = self.client
                worker.settings = fresh
        return True

    def devices(self) -> list[dict[str, Any]]:
        printers = self.print_worker.devices() if self.print_worker else []
        return printers + [{"id": s["id"], "kind": "scanner", "status": s["status"]}
                           for s in scanners(self.store.conn)]

    def schedule_reconcile(self) -> None:
        self.schedule.add(self.job_reconcile, id="reconcile-now", replace_existing=True)

    def _plan_jobs(self) -> None:
        sync, add, now = self.settings.sync, self.schedule.add, utc_now()
        # The heartbeat and the no-show scan run at start, then at their interval.
        add(self.job_heartbeat, "interval", seconds=sync.heartbeat_s, id="heartbeat",
            next_run_time=now)
        add(self.job_reconcile, "interval", minutes=sync.reconcile_every_min, id="reconcile")
        add(self.job_no_shows, "interval", minutes=1, id="no-shows", next_run_time=now)
        add(self.job_checkpoint, "interval", seconds=30, id="checkpoint")
        add(self.job_release_memory, "interval", seconds=RELEASE_MEMORY_EVERY_S,
            id="release-memory", max_instances=1)
        add(self.job_watch_online, "interval", seconds=2, id="online-watch", max_instances=1)
        add(self.job_alerts, "interval", seconds=ALERTS_EVERY_S, id="alerts", max_instances=1)
        hour, minute = (int(x) for x in self.settings.storage.backup_at.split(":"))
        add(self.job_backup, "cron", hour=hour, minute=minute, id="backup", max_instances=1)
        add(self.job_backup_catch_up, "date", id="backup-catch-up",
            run_date=now + timedelta(seconds=BACKUP_CATCH_UP_S))

    # --- lifecycle -------------------------------------------------------------
    async def _sleep(self, seconds: float, *, refused: bool = False) -> None:
        """Until stop or SIGHUP; when the OMS ``refused`` the credentials, also until a
        credentials file changes, looked at every CREDENTIALS_POLL_S."""
        hup, generation = self.hup, self.creds.generation
        deadline = asyncio.get_running_loop().time() + seconds
        while not (self.stop.is_set() or hup.is_set()):
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            step = min(left, CREDENTIALS_POLL_S) if refused else left
            stopper = asyncio.ensure_future(self.stop.wait())
            waker = asyncio.ensure_future(hup.wait())
            try:
                await asyncio.wait({stopper, waker}, timeout=step,
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopper.cancel()
                waker.cancel()
            if refused:  # whichever worker saw the change first reloaded: all go on now
                self.credentials_changed()
                if self.creds.generation != generation:
                    return

    async def _wait_for_wake(self, timeout: float) -> None:
        waiter = asyncio.ensure_future(self.wake.wait())
        stopper = asyncio.ensure_future(self.stop.wait())
        try:
            await asyncio.wait({waiter, stopper}, timeout=timeout,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            stopper.cancel()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop.set)
        loop.add_signal_handler(signal.SIGHUP, self.on_sighup)
        self._back_online_pending = True
        with DaemonLock(self.db_path), Store(self.db_path) as store, \
                Store(self.db_path) as sender_store, Store(self.db_path) as feed_store, \
                Store(self.db_path) as watch_store, contextlib.ExitStack() as stack:
            watch_store.limit_cache(SMALL_CACHE_KIB)
            self.store = store
            self.storage = StorageWatch(store)
            try:
                with store.write() as conn:
                    sync_state.put(conn, daemon_started_at=iso(utc_now()))
            except StoreError as exc:  # start anyway: the workers retry until the disk works
                self.storage.failed("start", exc)
            self.schedule = JobSchedule(self.stop, self.storage)
            self._plan_jobs()
            self.schedule.start()
            if self.settings.printers:  # its own connection, only when there is a printer
                print_store = stack.enter_context(Store(self.db_path))
                print_store.limit_cache(SMALL_CACHE_KIB)
                self.print_worker = PrintWorker(print_store, self.settings)
                self.extra_workers.append(self.print_worker.run)
            self.sender = OutboxSender(sender_store, self.settings, self.client, rng=self.rng,
                                       on_ack=self.metrics.observe_ack)
            self.feed = FeedPuller(feed_store, self.settings, self.client)
            tasks = [
                asyncio.create_task(self.watch_commits(watch_store), name="watch"),
                asyncio.create_task(self.run_sender(self.sender), name="sender"),
                asyncio.create_task(self.run_feed(self.feed), name="feed"),
                *[asyncio.create_task(w(self.stop)) for w in self.extra_workers],
                *([asyncio.create_task(self.metrics.serve(self.stop), name="metrics")]
                  if self.settings.metrics.listen else []),
            ]
            # Everything made so far (modules, settings, clients) lives as long as the daemon:
            # freezing it keeps the collector from rescanning it on every pass, which was a
            # fifth of the sender's CPU per event (docs/benchmarks.md, "Sync with the OMS").
            gc.collect()
            gc.freeze()
            log.info("store-agent daemon started: store %s, OMS %s, database %s",
                     self.settings.store_id, self.settings.oms.url, self.db_path)
            stopper = asyncio.create_task(self.stop.wait())
            done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
            crashed = [t for t in done if t is not stopper and t.exception()]
            self.stop.set()
            self.schedule.shutdown()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for client in (self.client, *self._retired_clients):
                await client.aclose()
            if crashed:
                error = crashed[0].exception()
                log.error("worker %s crashed: %r", crashed[0].get_name(), error)
                assert error is not None  # crashed holds only tasks that raised
                raise error
            log.info("store-agent daemon stopped cleanly")
        return 0


def run_daemon(settings: Settings) -> int:
    """Run until SIGTERM; a config still as `config init` wrote it is refused (exit 2).

    Started on the template, the daemon would knock on an example host with a made-up
    token and report "offline" forever: a store that looks connected and is not.
    """
    placeholders = template_placeholders(settings)
    if placeholders:
        raise ConfigError([*placeholders, "the daemon does not start on the unedited template:"
                           " edit the file, run `store-agent config check`, then start it again"])
    return asyncio.run(Daemon(settings).run())
