"""The wire: the Store Sync API contract, its client and the reference OMS.

Knows nothing of SQLite, nor of the agent: it may import only ``config``.
"""
