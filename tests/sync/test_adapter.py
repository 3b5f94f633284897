"""One OMS adapter protocol, one request pipeline: both adapters are OmsAdapters with their
capabilities declared, and the transport errors are translated in one place."""

from __future__ import annotations

import asyncio
import ssl

import httpx
import pytest

from sync.adapter import OmsAdapter
from sync.client import StoreSyncClient
from sync.errors import TlsError, TransientError
from sync.medusa import MedusaClient
from sync.pipeline import TRANSPORT_ERRORS, RequestPipeline, translate_transport_error


def _adapters():
    return [
        StoreSyncClient("http://127.0.0.1:9", "S042", "secret-token-1234"),
        MedusaClient("http://127.0.0.1:9", "S042", "secret-token-1234", stock_location_id="sloc_1",
                     sales_channel_id="sc_1"),
    ]


def test_both_adapters_implement_the_protocol_and_declare_their_capabilities():
    async def main():
        adapters = _adapters()
        try:
            for adapter in adapters:
                assert isinstance(adapter, OmsAdapter), type(adapter).__name__
                assert isinstance(adapter.pipeline, RequestPipeline)
            sync_api, medusa = adapters
            assert (sync_api.max_in_flight, sync_api.long_polls, sync_api.accepts_heartbeat) == (
                3, True, True)
            assert (medusa.max_in_flight, medusa.long_polls, medusa.accepts_heartbeat) == (
                1, False, False)
        finally:
            for adapter in adapters:
                await adapter.aclose()

    asyncio.run(main())


@pytest.mark.parametrize("adapter_index", [0, 1])
def test_an_unreachable_oms_is_one_transient_error_naming_the_request(adapter_index):
    """Port 9 (discard) on 127.0.0.1 refuses: a real connection error through the one pipeline."""

    async def main():
        adapters = _adapters()
        try:
            with pytest.raises(TransientError) as caught:
                await adapters[adapter_index].get_order("W1", timeout_s=2)
            return str(caught.value)
        finally:
            for adapter in adapters:
                await adapter.aclose()

    message = asyncio.run(main())
    assert "GET /" in message and "ConnectError" in message
    assert "secret-token-1234" not in message


def test_the_transport_error_table_translates_tls_anywhere_in_the_chain():
    inner = ssl.SSLCertVerificationError("certificate verify failed: self-signed certificate")
    try:
        try:
            raise inner
        except ssl.SSLError as exc:
            raise httpx.ConnectError("handshake failed") from exc
    except httpx.ConnectError as wrapped:
        assert isinstance(translate_transport_error("GET /changes", wrapped), TlsError)
    assert isinstance(translate_transport_error("GET /changes", httpx.ReadError("reset")),
                      TransientError)
    assert all(issubclass(ours, TransientError) for _, ours in TRANSPORT_ERRORS)
