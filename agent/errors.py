"""The agent's errors: the product's one tree, re-exported (drawn in config.errors)."""

from config.errors import (  # noqa: F401  (re-exported for the agent layer)
    BusinessRuleError,
    ConfigError,
    ConfirmationNeededError,
    DaemonRunningError,
    InvalidActionError,
    ManagerOverrideNeededError,
    NeedsPersonError,
    NotAManagerError,
    OrderCancelledError,
    SnapshotError,
    StoreAgentError,
    StoreBusyError,
    StoreError,
    StoreSetupError,
    UnknownAssociateError,
    UnknownOrderError,
    UnknownStatusError,
    UsageError,
    WrongPickupCodeError,
    WrongStateError,
)
