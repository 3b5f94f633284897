"""Building the OMS adapter from the configuration (the one place that knows both).

``oms.kind`` picks the adapter; both implement ``sync.adapter.OmsAdapter`` (same
methods, return types and errors, differences as capability attributes), so
nothing downstream knows which OMS it talks to.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from config.settings import Settings
from sync.adapter import OmsAdapter
from sync.client import StoreSyncClient
from sync.medusa import MedusaClient


def agent_version() -> str:
    try:
        return version("store-agent")
    except PackageNotFoundError:
        return "0+unknown"


def make_client(settings: Settings, **kwargs: Any) -> OmsAdapter:
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
