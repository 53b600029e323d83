"""Local fake HTTP servers speaking the wire formats of services outside our machine.

- DHL Shipment Tracking - Unified API: ``GET /track/shipments?trackingNumber=...`` with
  the ``DHL-API-Key`` header; 200 ``{"shipments": [...]}``, 404 problem JSON.
- Shopify Admin GraphQL API: ``POST /admin/api/<version>/graphql.json`` with the
  ``X-Shopify-Access-Token`` header; ``{"data": ...}`` or ``{"errors": [...]}``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


class FakeServer:
    """A threaded HTTP server on 127.0.0.1 whose behaviour tests can switch."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.fake = self  # type: ignore[attr-defined]
        self.httpd.daemon_threads = True  # shutting down never waits for a "slow" answer
        self.mode = "ok"  # ok | down | slow | garbage | throttled
        self.requests: list[dict[str, Any]] = []
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> FakeServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return

    @property
    def fake(self) -> Any:
        return self.server.fake  # type: ignore[attr-defined]

    def send_json(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def common_modes(self) -> bool:
        """Handles down/slow/garbage; True when the request was answered."""
        if self.fake.mode == "down":
            self.send_json(503, {"title": "Service Unavailable", "status": 503})
            return True
        if self.fake.mode == "slow":
            time.sleep(2)
        if self.fake.mode == "garbage":
            self.send_json(200, b"<html>maintenance</html>", "text/html")
            return True
        return False


# ---- DHL --------------------------------------------------------------------------------

DHL_API_KEY = "test-dhl-key"
DHL_SHIPMENTS: dict[str, dict[str, Any]] = {
    "00340434161094015902": {
        "id": "00340434161094015902", "service": "parcel-de",
        "origin": {"address": {"countryCode": "DE", "addressLocality": "Berlin"}},
        "destination": {"address": {"countryCode": "DE", "postalCode": "10115"}},
        "status": {"timestamp": "2026-12-03T07:12:00+01:00",
                   "location": {"address": {"addressLocality": "Berlin"}},
                   "statusCode": "transit", "status": "In Zustellung",
                   "description": "Die Sendung wurde in das Zustellfahrzeug geladen."},
        "estimatedTimeOfDelivery": "2026-12-04T18:00:00+01:00",
        "details": {"product": {"productName": "DHL PAKET"}},
        "events": [{"timestamp": "2026-12-03T07:12:00+01:00", "statusCode": "transit",
                    "description": "Die Sendung wurde in das Zustellfahrzeug geladen."}],
    },
}


class DHLHandler(_Handler):
    def do_GET(self) -> None:  # noqa: N802
        parsed = urlparse(self.path)
        query = parse_qs(parsed.query)
        self.fake.requests.append({"path": parsed.path, "query": query,
                                   "key": self.headers.get("DHL-API-Key")})
        if self.headers.get("DHL-API-Key") != DHL_API_KEY:
            self.send_json(401, {"status": 401, "title": "Unauthorized",
                                 "detail": "Unauthorized for given resource."})
            return
        if self.common_modes():
            return
        if parsed.path != "/track/shipments" or "trackingNumber" not in query:
            self.send_json(400, {"status": 400, "title": "Bad Request"})
            return
        shipment = DHL_SHIPMENTS.get(query["trackingNumber"][0])
        if shipment is None:
            self.send_json(404, {"type": "https://api.dhl.com/exceptions/not-found",
                                 "title": "No result found", "status": 404,
                                 "detail": "No shipment with given tracking number found."})
            return
        self.send_json(200, {"shipments": [shipment], "possibleAdditionalShipmentsUrl": []})


# ---- Shopify ----------------------------------------------------------------------------

SHOPIFY_TOKEN = "shpat_test_token"


def shopify_node(order: dict[str, Any], number: int) -> dict[str, Any]:
    """A Shopify Admin GraphQL ``Order`` node made from one of our demo orders."""
    gid = f"gid://shopify/Order/{5000 + number}"
    fulfillments = []
    if order["shipped_at"]:
        fulfillments.append({
            "createdAt": order["shipped_at"], "deliveredAt": order["delivered_at"],
            "displayStatus": "DELIVERED" if order["delivered_at"] else "IN_TRANSIT",
            "trackingInfo": [{"company": order["carrier"], "number": order["tracking_number"],
                              "url": None}],
            "fulfillmentLineItems": {"edges": [
                {"node": {"id": f"gid://shopify/FulfillmentLineItem/{9000 + number}{i}",
                          "quantity": item["quantity"], "lineItem": {"sku": item["sku"]}}}
                for i, item in enumerate(order["items"])]},
        })
    return {
        "id": gid, "name": f"#{order['order_id']}", "email": order["email"],
        "createdAt": order["ordered_at"], "updatedAt": order.get("updated_at")
        or order["delivered_at"] or order["shipped_at"] or order["ordered_at"],
        "cancelledAt": order.get("updated_at") if order["status"] == "cancelled" else None,
        "displayFulfillmentStatus": "FULFILLED" if fulfillments else "UNFULFILLED",
        "returnStatus": "RETURNED" if order["status"] == "returned" else "NO_RETURN",
        "shippingAddress": {"zip": order["zip_code"], "countryCodeV2": order["country"]},
        "totalPriceSet": {"shopMoney": {"amount": f"{order['total']:.2f}",
                                        "currencyCode": order["currency"]}},
        "lineItems": {"edges": [
            {"node": {"sku": i["sku"], "name": i["name"], "quantity": i["quantity"],
                      "originalUnitPriceSet": {"shopMoney": {"amount": f"{i['price']:.2f}",
                                                             "currencyCode": "EUR"}}}}
            for i in order["items"]]},
        "fulfillments": fulfillments,
    }


class ShopifyHandler(_Handler):
    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.fake.requests.append({"path": self.path, "body": body,
                                   "token": self.headers.get("X-Shopify-Access-Token")})
        if self.headers.get("X-Shopify-Access-Token") != SHOPIFY_TOKEN:
            self.send_json(401, {"errors": "[API] Invalid API key or access token "
                                           "(unrecognized login or wrong password)"})
            return
        if not re.fullmatch(r"/admin/api/\d{4}-\d{2}/graphql\.json", self.path):
            self.send_json(404, {"errors": "Not Found"})
            return
        if self.common_modes():
            return
        if self.fake.mode == "throttled":
            self.send_json(200, {"errors": [{"message": "Throttled",
                                             "extensions": {"code": "THROTTLED"}}]})
            return
        query, variables = body.get("query", ""), body.get("variables") or {}
        cost = {"requestedQueryCost": 12, "actualQueryCost": 12,
                "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1988,
                                   "restoreRate": 100.0}}
        if "OrderByName" in query:
            match = re.fullmatch(r"name:#?(\S+)", variables.get("query", ""))
            nodes = [n for n in self.fake.orders
                     if match and n["name"].lstrip("#") == match.group(1)]
            self.send_json(200, {"data": {"orders": {"edges": [{"node": n} for n in nodes[:1]]}},
                                 "extensions": {"cost": cost}})
        elif "RequestReturn" in query:
            number = len(self.fake.returns) + 1
            self.fake.returns.append(variables["input"])
            self.send_json(200, {"data": {"returnRequest": {
                "return": {"id": f"gid://shopify/Return/{number}", "name": f"#R{number}",
                           "status": "REQUESTED"}, "userErrors": []}},
                "extensions": {"cost": cost}})
        elif "TagOrder" in query:
            self.fake.tags.append(variables)
            self.send_json(200, {"data": {"tagsAdd": {"node": {"id": variables["id"]},
                                                      "userErrors": []}},
                                 "extensions": {"cost": cost}})
        else:
            self.send_json(200, {"errors": [{"message": "unknown operation",
                                             "extensions": {"code": "undefinedField"}}]})


@contextmanager
def fake_dhl() -> Iterator[FakeServer]:
    """A running fake of the DHL tracking API."""
    server = FakeServer(DHLHandler).start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def fake_shopify(orders: list[dict[str, Any]]) -> Iterator[FakeServer]:
    """A running fake Shopify store holding ``orders`` (our demo-order format)."""
    server = FakeServer(ShopifyHandler)
    server.orders = [shopify_node(o, n) for n, o in enumerate(orders)]  # type: ignore[attr-defined]
    server.returns = []  # type: ignore[attr-defined]
    server.tags = []  # type: ignore[attr-defined]
    server.start()
    try:
        yield server
    finally:
        server.stop()
