"""Secrets never reach a stored message: short tokens too, and Medusa's own error messages."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from sync.medusa import MedusaClient
from sync.medusa.admin import MedusaError
from sync.pipeline import RequestPipeline
from tests.local_http import ThreadedApp

KEY = "sk_0123456789abcdef"


def test_a_short_token_is_still_redacted_where_it_stands_alone():
    async def main():
        pipeline = RequestPipeline("http://127.0.0.1:9", headers={}, secrets=["ab12", KEY])
        try:
            said = pipeline.redact(f"Authorization: Bearer ab12; token=ab12, key {KEY}; ab123 xab12")
        finally:
            await pipeline.aclose()
        assert said == "Authorization: Bearer [token]; token=[token], key [token]; ab123 xab12"

    asyncio.run(main())


def test_medusa_error_messages_are_redacted_before_they_are_kept():
    async def refuse(request: web.Request) -> web.Response:
        # A server that echoes what it was sent, the key included.
        return web.json_response({"type": "invalid_data",
                                  "message": f"api key {KEY} may not cancel this order"}, status=400)

    app = web.Application()
    app.router.add_post("/admin/orders/{id}/cancel", refuse)
    with ThreadedApp(app) as oms:
        async def main():
            client = MedusaClient(oms.url, "S042", KEY, stock_location_id="sloc_1", sales_channel_id="sc_1")
            try:
                with pytest.raises(MedusaError) as refused:
                    await client.call("POST", "/admin/orders/order_1/cancel", json_body={})
            finally:
                await client.aclose()
            return refused.value

        error = asyncio.run(main())
    assert KEY not in error.detail and KEY not in str(error)
    assert error.detail == "api key [token] may not cancel this order"
