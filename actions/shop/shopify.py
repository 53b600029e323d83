"""Order backend on the Shopify Admin GraphQL API (``SHOP_BACKEND=shopify``).

Looks an order up by its name ("#10482") and compares the customer's email or the
shipping postal code locally in constant time; an unknown name and a wrong postal code
both come back as ``None``. Returns are requested with ``returnRequest``; cancel and
address-change wishes are recorded as order tags for the team.
"""

from __future__ import annotations

import hmac
import logging
import threading
from typing import Any

import httpx

from actions.shop.backend import BackendUnavailable, ReturnRecord
from actions.shop.models import Order, OrderItem, normalise_order_id

logger = logging.getLogger(__name__)

ORDER_QUERY = """
query OrderByName($query: String!) {
  orders(first: 1, query: $query) {
    edges {
      node {
        id
        name
        email
        createdAt
        updatedAt
        cancelledAt
        displayFulfillmentStatus
        returnStatus
        shippingAddress { zip countryCodeV2 }
        totalPriceSet { shopMoney { amount currencyCode } }
        lineItems(first: 50) {
          edges { node { sku name quantity originalUnitPriceSet { shopMoney { amount } } } }
        }
        fulfillments(first: 5) {
          createdAt
          deliveredAt
          displayStatus
          trackingInfo(first: 1) { company number url }
          fulfillmentLineItems(first: 50) {
            edges { node { id quantity lineItem { sku } } }
          }
        }
      }
    }
  }
}
"""

RETURN_REQUEST = """
mutation RequestReturn($input: ReturnRequestInput!) {
  returnRequest(input: $input) {
    return { id name status }
    userErrors { field message }
  }
}
"""

TAGS_ADD = """
mutation TagOrder($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) {
    userErrors { field message }
  }
}
"""


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


class ShopifyOrderBackend:
    """Orders from a Shopify store through the Admin GraphQL API."""

    def __init__(self, store_url: str, access_token: str, api_version: str = "2025-01",
                 timeout: float = 3.0) -> None:
        """Creates the client (nothing is sent here).

        Args:
            store_url: ``https://<store>.myshopify.com`` (a local fake in tests).
            access_token: Admin API access token (environment only).
            api_version: Admin API version, e.g. ``2025-01``.
            timeout: Seconds per request.
        """
        self._endpoint = f"{store_url.rstrip('/')}/admin/api/{api_version}/graphql.json"
        self._token = access_token
        self._timeout = timeout
        self._lock = threading.Lock()
        self._fulfillment_lines: dict[str, tuple[str, dict[str, list[tuple[str, int]]]]] = {}

    def _call(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        if not self._token:
            raise BackendUnavailable("Shopify: SHOPIFY_ACCESS_TOKEN is not set")
        try:
            response = httpx.post(
                self._endpoint, json={"query": query, "variables": variables},
                headers={"X-Shopify-Access-Token": self._token,
                         "Content-Type": "application/json"},
                timeout=self._timeout)
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"Shopify: {type(exc).__name__}") from exc
        if not 200 <= response.status_code < 300:
            raise BackendUnavailable(f"Shopify answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise BackendUnavailable("Shopify answered something that is not JSON") from exc
        if not isinstance(body, dict):
            raise BackendUnavailable("Shopify answered an unexpected body")
        if body.get("errors"):
            codes = [str((e.get("extensions") or {}).get("code", "")) for e in body["errors"]
                     if isinstance(e, dict)]
            raise BackendUnavailable(f"Shopify GraphQL errors: {', '.join(codes) or 'unknown'}")
        data = body.get("data")
        if not isinstance(data, dict):
            raise BackendUnavailable("Shopify answered without data")
        return data

    def _to_order(self, node: dict[str, Any]) -> Order:
        order_id = normalise_order_id(str(node["name"]))
        if order_id is None:
            raise ValueError("order name is malformed")
        fulfillments = node.get("fulfillments") or []
        tracking: dict[str, Any] = next(
            (t for f in fulfillments for t in (f.get("trackingInfo") or [])), {})
        delivered_at = next((f.get("deliveredAt") for f in fulfillments
                             if f.get("deliveredAt")), None)
        if not delivered_at and any(f.get("displayStatus") == "DELIVERED" for f in fulfillments):
            delivered_at = node.get("updatedAt")
        if node.get("cancelledAt"):
            status = "cancelled"
        elif node.get("returnStatus") == "RETURNED":
            status = "returned"
        elif delivered_at:
            status = "delivered"
        elif fulfillments:
            status = "shipped"
        else:
            status = "processing"
        money = node["totalPriceSet"]["shopMoney"]
        address = node.get("shippingAddress") or {}
        items = tuple(
            OrderItem(sku=str(e["node"].get("sku") or ""), name=str(e["node"]["name"]),
                      quantity=int(e["node"]["quantity"]),
                      price=float(e["node"]["originalUnitPriceSet"]["shopMoney"]["amount"]))
            for e in node["lineItems"]["edges"])
        lines: dict[str, list[tuple[str, int]]] = {}
        for fulfillment in fulfillments:
            for edge in (fulfillment.get("fulfillmentLineItems") or {}).get("edges", []):
                sku = str((edge["node"].get("lineItem") or {}).get("sku") or "")
                lines.setdefault(sku, []).append((str(edge["node"]["id"]),
                                                  int(edge["node"]["quantity"])))
        with self._lock:
            self._fulfillment_lines[order_id] = (str(node["id"]), lines)
        return Order(
            order_id=order_id, email=str(node.get("email") or "").lower(),
            zip_code=str(address.get("zip") or "").replace(" ", ""),
            country=str(address.get("countryCodeV2") or ""), status=status,
            ordered_at=str(node["createdAt"]),
            shipped_at=fulfillments[0].get("createdAt") if fulfillments else None,
            delivered_at=delivered_at, carrier=tracking.get("company"),
            tracking_number=tracking.get("number"), items=items,
            total=float(money["amount"]), currency=str(money["currencyCode"]),
            updated_at=node.get("cancelledAt") or node.get("updatedAt"))

    def get_order(self, order_id: str) -> Order | None:
        """The order named ``#order_id``, or None.

        Raises:
            BackendUnavailable: When Shopify is unreachable or answers garbage.
        """
        if normalise_order_id(order_id) != order_id:
            return None  # never put unchecked text into Shopify's search syntax
        data = self._call(ORDER_QUERY, {"query": f"name:#{order_id}"})
        try:
            edges = data["orders"]["edges"]
            for edge in edges:
                node = edge["node"]
                if normalise_order_id(str(node.get("name"))) == order_id:
                    return self._to_order(node)
        except (KeyError, TypeError, ValueError) as exc:
            raise BackendUnavailable(f"Shopify answered an unusable order: {exc}") from exc
        return None

    def find_verified(self, order_id: str, *, zip_code: str | None = None,
                      email: str | None = None) -> Order | None:
        """The order when the postal code or email matches, else None (same for unknown)."""
        order = self.get_order(order_id)
        expected_zip = order.zip_code if order else "\x00" * 5
        expected_email = order.email if order else "\x00" * 16
        if zip_code is not None:
            matches = _same(expected_zip, zip_code)
        elif email is not None:
            matches = _same(expected_email, email.lower())
        else:
            matches = False
        return order if order is not None and matches else None

    def create_return(self, order: Order, skus: tuple[str, ...], label: bool) -> ReturnRecord:
        """Requests a return in Shopify for the fulfilled quantities of ``skus``.

        Raises:
            BackendUnavailable: When Shopify refuses or cannot be reached.
        """
        with self._lock:
            known = self._fulfillment_lines.get(order.order_id)
        if known is None:
            self.get_order(order.order_id)
            with self._lock:
                known = self._fulfillment_lines.get(order.order_id)
        if known is None:
            raise BackendUnavailable("Shopify: order not found for the return")
        gid, lines = known
        return_lines = [{"fulfillmentLineItemId": line_id, "quantity": quantity,
                         "returnReason": "OTHER"}
                        for sku in skus for line_id, quantity in lines.get(sku, [])]
        if not return_lines:
            raise BackendUnavailable("Shopify: no fulfilled line items for the return")
        data = self._call(RETURN_REQUEST, {"input": {"orderId": gid,
                                                     "returnLineItems": return_lines}})
        try:
            result = data["returnRequest"]
            if result.get("userErrors"):
                raise BackendUnavailable("Shopify refused the return request")
            created = result["return"]
            rma = str(created.get("name") or created["id"])
        except (KeyError, TypeError) as exc:
            raise BackendUnavailable(f"Shopify answered an unusable return: {exc}") from exc
        return ReturnRecord(rma=rma, order_id=order.order_id, skus=skus, label_url=None)

    def record_request(self, order_id: str, kind: str, conversation_id: str) -> None:
        """Tags the order (``kdbot-cancel_order``) so the team sees the wish in Shopify.

        Raises:
            BackendUnavailable: When Shopify refuses or cannot be reached.
        """
        with self._lock:
            known = self._fulfillment_lines.get(order_id)
        if known is None:
            if self.get_order(order_id) is None:
                raise BackendUnavailable("Shopify: order not found for the request")
            with self._lock:
                known = self._fulfillment_lines[order_id]
        data = self._call(TAGS_ADD, {"id": known[0], "tags": [f"kdbot-{kind}"]})
        if (data.get("tagsAdd") or {}).get("userErrors"):
            raise BackendUnavailable("Shopify refused the tag")
