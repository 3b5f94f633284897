"""The Medusa v2 adapter: the Store Sync client interface over Medusa's admin API (docs/medusa.md)."""

from sync.medusa.client import MedusaClient

__all__ = ["MedusaClient"]
