"""The store-agent command line (contract: docs/cli.md)."""
