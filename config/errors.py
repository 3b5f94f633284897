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
    └── UsageError                   a flag or argument is malformed (exit 2)

Layers above add their own subtrees under ``StoreAgentError`` and draw them
in their own module docstrings: ``agent.errors`` (the store and the business
rules: ``StoreError``, ``BusinessRuleError``, ``NeedsPersonError``,
``SnapshotError``), ``sync.errors`` (``SyncError``) and ``drivers.errors``
(``DeviceError``).
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
