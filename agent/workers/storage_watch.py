"""The daemon's answer to a disk that fails under it: keep running, retry, raise `storage`.

A full disk, an I/O error or a damaged file (``StoreUnavailableError``) is not
a reason for the daemon to exit: systemd would restart it into the same wall,
and the events waiting in the outbox are safe where they are. Each worker that
meets one reports it here and retries after ``RETRY_S``; the first report logs
the message (which names the directory and the fix) and raises the critical
``storage`` alert; the next write that works resolves it.

The alert itself needs the disk. When even its row cannot be written, it is
kept here with the time the failure began and written, raised then resolved,
as soon as a write works again, so the record says when storage failed and
for how long.
"""

from __future__ import annotations

import logging

from agent.alerts import raise_alert, resolve_alert
from agent.clock import iso, utc_now
from agent.errors import StoreError
from agent.store.connection import Store

log = logging.getLogger("store_agent.storage")
RETRY_S = 5.0
KIND, KEY = "storage", "database"


class StorageWatch:
    def __init__(self, store: Store):
        self.store = store
        self.error: str | None = None
        self.since: str | None = None
        self._alert_written = False

    def failed(self, where: str, exc: StoreError) -> None:
        """A worker met a storage error; it retries after RETRY_S."""
        message = str(exc)
        if message != self.error:
            log.error("%s: %s; the daemon keeps running and retries every %g s", where, message,
                      RETRY_S)
        if self.error is None:
            self.since = iso(utc_now())
        self.error = message
        self._write_alert()

    def succeeded(self) -> None:
        """A worker's call went through: storage may work again.

        Only what committed counts: the alert is recorded first, then resolved, and the
        error is cleared only after both commits. A worker whose call only read (a drain
        with nothing to send) also lands here while the disk is still full; its writes
        then fail and the error stays for the next try.
        """
        if self.error is None:
            return
        if not self._alert_written and not self._write_alert():
            return
        try:
            with self.store.write() as conn:
                resolve_alert(conn, kind=KIND, key=KEY, now=iso(utc_now()))
        except StoreError:
            return
        log.warning("the database is writable again (storage failed since %s)", self.since)
        self.error = self.since = None
        self._alert_written = False

    def _write_alert(self) -> bool:
        """Record the alert (dated from the first failure); True once it has committed."""
        if self.error is None or self.since is None:
            return False
        try:
            with self.store.write() as conn:
                raise_alert(conn, kind=KIND, key=KEY, now=self.since, severity="critical",
                            message=f"the daemon cannot write the store's database: {self.error}")
        except StoreError:
            return False
        self._alert_written = True
        return True
