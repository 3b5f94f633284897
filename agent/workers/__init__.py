"""What the daemon runs besides printing: the outbox sender, the change feed, reconciliation,
the live check at handoff, heartbeat and no-shows, and the one-shot sync of the CLI and F5."""
