"""Building the OMS client from the configuration (the one place that knows both).

``oms.kind`` picks the adapter; both offer the same methods, return types and
errors, so nothing downstream knows which OMS it talks to.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from config.settings import Settings
from sync.client import StoreSyncClient
from sync.medusa import MedusaClient


def agent_version() -> str:
    try:
        return version("store-agent")
    except PackageNotFoundError:
        return "0+unknown"


def make_client(settings: Settings, **kwargs) -> StoreSyncClient | MedusaClient:
    oms = settings.oms
    common = {"timeout_s": oms.timeout_s, "ca_bundle": oms.ca_bundle, "client_cert": oms.client_cert,
              "agent_version": agent_version(), **kwargs}
    if oms.kind == "medusa":
        return MedusaClient(oms.url, settings.store_id, settings.oms_token(),
                            stock_location_id=oms.medusa.stock_location_id,
                            sales_channel_id=oms.medusa.sales_channel_id,
                            shipping_option_ids=oms.medusa.shipping_option_ids,
                            poll_s=oms.medusa.poll_s, **common)
    return StoreSyncClient(oms.url, settings.store_id, settings.oms_token(), **common)
