"""The SQLite store: connection and transactions, schema migrations, the key/value sync state,
device states and the daemon lock. Imports nothing else of ``agent``."""
