"""Order rules: states and associate actions, OMS snapshots, the handoff policy, the outbox, dead letters."""
