"""Building the OMS client from the configuration (the one place that knows both)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from config.settings import Settings
from sync.client import StoreSyncClient


def agent_version() -> str:
    try:
        return version("store-agent")
    except PackageNotFoundError:
        return "0+unknown"


def make_client(settings: Settings, **kwargs) -> StoreSyncClient:
    return StoreSyncClient(
        settings.oms.url,
        settings.store_id,
        settings.oms_token(),
        timeout_s=settings.oms.timeout_s,
        ca_bundle=settings.oms.ca_bundle,
        client_cert=settings.oms.client_cert,
        agent_version=agent_version(),
        **kwargs,
    )
