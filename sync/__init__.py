"""The wire: the Store Sync API contract, its client and the reference OMS. Knows nothing of SQLite."""
