"""Setting up one store in a fresh Medusa through the admin API, and placing orders through the store API.

The store is what docs/medusa.md asks a retailer to create: a stock location
with a pickup fulfillment set (and the manual provider), its own sales channel
linked to the location, a region, a product stocked at the location, and a
pickup shipping option in the pickup set's service zone.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from tests.medusa.harness import Admin

CURRENCY = "usd"


@dataclass
class Shop:
    location_id: str
    sales_channel_id: str
    region_id: str
    shipping_option_id: str
    variant_ids: list[str]
    skus: list[str]


def setup_shop(admin: Admin) -> Shop:
    store = admin.call("GET", "/admin/stores")["stores"][0]
    admin.call("POST", f"/admin/stores/{store['id']}",
               json={"supported_currencies": [{"currency_code": CURRENCY, "is_default": True}]})
    channel = admin.call("POST", "/admin/sales-channels", json={"name": "Store S042"})["sales_channel"]
    location = admin.call("POST", "/admin/stock-locations", json={
        "name": "Store S042 (Main Street)",
        "address": {"address_1": "1 Main Street", "city": "Springfield", "country_code": "us"},
    })["stock_location"]
    lid = location["id"]
    admin.call("POST", f"/admin/stock-locations/{lid}/sales-channels", json={"add": [channel["id"]]})
    admin.call("POST", f"/admin/stock-locations/{lid}/fulfillment-providers", json={"add": ["manual_manual"]})
    location = admin.call("POST", f"/admin/stock-locations/{lid}/fulfillment-sets",
                          json={"name": "S042 pickup", "type": "pickup"},
                          params={"fields": "*fulfillment_sets"})["stock_location"]
    fset = next(f for f in location["fulfillment_sets"] if f["type"] == "pickup")
    zone_set = admin.call("POST", f"/admin/fulfillment-sets/{fset['id']}/service-zones", json={
        "name": "S042 counter", "geo_zones": [{"type": "country", "country_code": "us"}],
    })["fulfillment_set"]
    zone = zone_set["service_zones"][0]
    region = admin.call("POST", "/admin/regions", json={
        "name": "US", "currency_code": CURRENCY, "countries": ["us"],
        "payment_providers": ["pp_system_default"],
    })["region"]
    profiles = admin.call("GET", "/admin/shipping-profiles")["shipping_profiles"]
    profile = profiles[0] if profiles else admin.call(
        "POST", "/admin/shipping-profiles", json={"name": "Default", "type": "default"})["shipping_profile"]
    option = admin.call("POST", "/admin/shipping-options", json={
        "name": "Pick up at Main Street", "service_zone_id": zone["id"],
        "shipping_profile_id": profile["id"], "provider_id": "manual_manual", "price_type": "flat",
        "type": {"label": "Pickup", "description": "Pick up in store", "code": "pickup"},
        "prices": [{"currency_code": CURRENCY, "amount": 0}],
        "rules": [{"attribute": "enabled_in_store", "operator": "eq", "value": "true"},
                  {"attribute": "is_return", "operator": "eq", "value": "false"}],
    })["shipping_option"]
    product = admin.call("POST", "/admin/products", json={
        "title": "Garden hose", "status": "published", "shipping_profile_id": profile["id"],
        "options": [{"title": "Length", "values": ["15 m", "30 m"]}],
        "sales_channels": [{"id": channel["id"]}],
        "variants": [
            {"title": length, "sku": sku, "barcode": gtin, "manage_inventory": True,
             "options": {"Length": length}, "prices": [{"currency_code": CURRENCY, "amount": price}]}
            for length, sku, gtin, price in (("15 m", "HOSE-15", "4006381333931", 20),
                                             ("30 m", "HOSE-30", "4006381333948", 35))
        ],
    }, params={"fields": "*variants,*variants.inventory_items"})["product"]
    variant_ids, skus = [], []
    for variant in product["variants"]:
        variant_ids.append(variant["id"])
        skus.append(variant["sku"])
        item_id = variant["inventory_items"][0]["inventory_item_id"]
        admin.call("POST", f"/admin/inventory-items/{item_id}/location-levels",
                   json={"location_id": lid, "stocked_quantity": 1000})
    key = admin.call("POST", "/admin/api-keys",
                     json={"title": "storefront", "type": "publishable"})["api_key"]
    admin.call("POST", f"/admin/api-keys/{key['id']}/sales-channels", json={"add": [channel["id"]]})
    admin.publishable_key = key["token"]
    return Shop(lid, channel["id"], region["id"], option["id"], variant_ids, skus)


def place_order(admin: Admin, shop: Shop, quantities: tuple[int, ...] = (2, 1), *,
                name: str = "Ann Smith", phone: str = "+1 555 010 1234") -> dict:
    """A customer's order through the store API: cart, pickup method, payment, complete."""
    first, _, last = name.partition(" ")
    address = {"first_name": first, "last_name": last, "address_1": "2 Elm Street", "city": "Springfield",
               "country_code": "us", "postal_code": "12345", "phone": phone}
    items = [{"variant_id": v, "quantity": q} for v, q in zip(shop.variant_ids, quantities, strict=False)
             if q > 0]
    cart = admin.store("POST", "/store/carts", json={
        "region_id": shop.region_id, "sales_channel_id": shop.sales_channel_id, "email": "ann@example.com",
        "items": items, "shipping_address": address, "billing_address": address,
        # The storefront's random pickup code (the order number is no secret): kept on the order.
        "metadata": {"pickup_code": secrets.token_hex(5).upper()}})["cart"]
    admin.store("POST", f"/store/carts/{cart['id']}/shipping-methods",
                json={"option_id": shop.shipping_option_id})
    collection = admin.store("POST", "/store/payment-collections",
                             json={"cart_id": cart["id"]})["payment_collection"]
    admin.store("POST", f"/store/payment-collections/{collection['id']}/payment-sessions",
                json={"provider_id": "pp_system_default"})
    done = admin.store("POST", f"/store/carts/{cart['id']}/complete")
    assert done.get("type") == "order", done
    return done["order"]
