"""The one exception tree of store-agent.

Every error the product raises on purpose derives from ``StoreAgentError``.
Each layer translates the errors of the libraries it wraps (sqlite3, httpx,
pyserial, pydantic, tomllib) into this tree at its own boundary, so callers
above never catch a library's exception type. The root lives in ``config``
because that is the lowest layer: every other layer may import it.

The command line maps the tree onto exit codes (``../shared/cli.md``):
``ConfigError`` and ``UsageError`` exit 2, ``BusinessRuleError`` exits 3,
``NeedsPersonError`` exits 4; ``StoreError`` (the store's disk or database cannot
be used right now), ``sync.SyncError`` and ``drivers.DeviceError``
(the OMS or a device cannot be used right now) exit 5, an extension of the
contract's codes; anything else is a bug and exits 1.

    StoreAgentError
    ├── ConfigError                  config file, key or value is wrong (exit 2)
    ├── UsageError                   a flag or argument is malformed (exit 2)
    ├── StoreError                   the local SQLite store (agent.store.connection) (exit 5)
    │   ├── StoreBusyError           another process held the write lock too long
    │   ├── StoreSetupError          pragmas refused, migrations failed, schema too new
    │   ├── StoreUnavailableError    the disk or the file failed under us; nothing changed
    │   │   ├── StoreDiskFullError   the disk holding the database is full
    │   │   ├── StoreIOError         the disk returned an I/O error, or refused a write
    │   │   └── StoreCorruptError    the database file is damaged: restore a backup
    │   └── DaemonRunningError       an operation that needs the daemon stopped (exit 3)
    ├── BusinessRuleError            refused by a rule; nothing changed (exit 3)
    │   ├── UnknownOrderError
    │   ├── WrongStateError
    │   ├── WrongPickupCodeError
    │   ├── OrderCancelledError
    │   ├── NotAManagerError
    │   ├── UnknownAssociateError
    │   ├── InvalidActionError       bad bin id, quantity, reason or line id
    │   ├── WrongItemError           the scanned item is not on the order (or none is left to pick)
    │   ├── BinNotScannedError       a bin (tote) of the order was not scanned at handoff
    │   └── IdCheckNeededError       an ID check the handoff needs was not recorded
    ├── NeedsPersonError             a person must decide before we act (exit 4)
    │   ├── ConfirmationNeededError  offline handoff under "warn" without --yes
    │   └── ManagerOverrideNeededError
    └── SnapshotError                an OMS snapshot that must not be applied
        └── UnknownStatusError       its status is not in the status map

Layers above add their own subtrees under ``StoreAgentError`` (``sync``:
``SyncError``; ``drivers``: ``DeviceError``) and draw them in their own
module docstrings.
"""

from __future__ import annotations


class StoreAgentError(Exception):
    """Root of every error store-agent raises on purpose."""

    exit_code = 1


class ConfigError(StoreAgentError):
    """The configuration cannot be loaded. ``problems`` holds one line per problem."""

    exit_code = 2

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class UsageError(StoreAgentError):
    exit_code = 2


class StoreError(StoreAgentError):
    exit_code = 5  # cli.md: 5 = the store's disk or database cannot be used right now


class StoreBusyError(StoreError):
    pass


class StoreSetupError(StoreError):
    pass


class StoreUnavailableError(StoreError):
    pass


class StoreDiskFullError(StoreUnavailableError):
    pass


class StoreIOError(StoreUnavailableError):
    pass


class StoreCorruptError(StoreUnavailableError):
    pass


class DaemonRunningError(StoreError):
    exit_code = 3


class BusinessRuleError(StoreAgentError):
    exit_code = 3


class UnknownOrderError(BusinessRuleError):
    pass


class WrongStateError(BusinessRuleError):
    pass


class WrongPickupCodeError(BusinessRuleError):
    pass


class OrderCancelledError(BusinessRuleError):
    pass


class NotAManagerError(BusinessRuleError):
    pass


class UnknownAssociateError(BusinessRuleError):
    pass


class InvalidActionError(BusinessRuleError):
    pass


class WrongItemError(BusinessRuleError):
    """A scanned item that is not on the order, or of which nothing is left to pick."""


class BinNotScannedError(BusinessRuleError):
    """A handoff without every bin (tote) of the order scanned, and no manager override."""


class IdCheckNeededError(BusinessRuleError):
    """An age-restricted line (or an alternate person, by config) handed over without an ID check."""


class NeedsPersonError(StoreAgentError):
    exit_code = 4


class ConfirmationNeededError(NeedsPersonError):
    pass


class ManagerOverrideNeededError(NeedsPersonError):
    pass


class SnapshotError(StoreAgentError):
    pass


class UnknownStatusError(SnapshotError):
    pass
