"""The agent's errors: the local store and the business rules (exit codes in ``config.errors``).

    StoreAgentError                  (config.errors: the root, ConfigError, UsageError)
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

The root and the configuration's own errors are re-exported, so the agent and
the UI import every error they catch from here.
"""

from __future__ import annotations

from config.errors import ConfigError, StoreAgentError, UsageError

__all__ = [
    "BinNotScannedError",
    "BusinessRuleError",
    "ConfigError",
    "ConfirmationNeededError",
    "DaemonRunningError",
    "IdCheckNeededError",
    "InvalidActionError",
    "ManagerOverrideNeededError",
    "NeedsPersonError",
    "NotAManagerError",
    "OrderCancelledError",
    "SnapshotError",
    "StoreAgentError",
    "StoreBusyError",
    "StoreCorruptError",
    "StoreDiskFullError",
    "StoreError",
    "StoreIOError",
    "StoreSetupError",
    "StoreUnavailableError",
    "UnknownAssociateError",
    "UnknownOrderError",
    "UnknownStatusError",
    "UsageError",
    "WrongItemError",
    "WrongPickupCodeError",
    "WrongStateError",
]


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
