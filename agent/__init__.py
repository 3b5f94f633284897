"""The headless core: the store, the order rules, the daemon and its workers (no UI here)."""
