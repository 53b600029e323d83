"""Demo and benchmark order data in the format of SHOP_ORDERS_FILE (ARCHITECTURE.md).

``python bench/shop/orders.py`` rewrites data/shop/demo-orders.json (deterministic);
:func:`bulk_orders` makes any number of synthetic orders for the benchmark.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

CATALOGUE = [
    ("JK-204-M", "Regenjacke Nordkap, M", 89.90),
    ("JK-204-L", "Regenjacke Nordkap, L", 89.90),
    ("BT-310-42", "Wanderschuh Fjell, 42", 129.00),
    ("BT-310-38", "Wanderschuh Fjell, 38", 129.00),
    ("SK-101", "Merino-Socken, 3 Paar", 24.90),
    ("RS-550", "Rucksack Lofoten 30 l", 74.50),
    ("TH-020", "Thermoskanne 0,75 l", 29.90),
    ("ZL-800", "Zelt Hardanger 2P", 249.00),
    ("SL-120", "Schlafsack Polar -10", 159.00),
    ("MU-007", "Fleecemütze", 19.90),
]

CARRIER_NUMBERS = {
    "DHL": lambda r: "00340434" + "".join(r.choice("0123456789") for _ in range(12)),
    "DPD": lambda r: "0" + "".join(r.choice("0123456789") for _ in range(13)),
    "Hermes": lambda r: "H" + "".join(r.choice("0123456789") for _ in range(19)),
    "GLS": lambda r: "".join(r.choice("0123456789") for _ in range(11)),
    "UPS": lambda r: "1Z" + "".join(r.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ")
                                   for _ in range(16)),
}

# (order_id, status, country, zip, carrier, ordered, shipped, delivered, item indexes)
# dates are placed around a clock frozen at Friday, 4 December 2026 in the tests
DEMO = [
    ("10482", "shipped", "DE", "10115", "DHL", "2026-11-28T10:15", "2026-11-30T16:02", None, [0]),
    ("10483", "processing", "DE", "80331", None, "2026-12-04T09:20", None, None, [2, 4]),
    ("10484", "processing", "AT", "1010", None, "2026-12-03T18:45", None, None, [5]),
    ("10485", "processing", "CH", "8001", None, "2026-12-04T11:05", None, None, [7, 8, 9]),
    ("10486", "shipped", "AT", "5020", "DPD", "2026-12-01T08:30", "2026-12-02T15:10", None, [1]),
    ("10487", "shipped", "CH", "3011", "UPS", "2026-11-30T12:00", "2026-12-01T14:40", None,
     [3, 6]),
    ("10488", "shipped", "DE", "20095", "Hermes", "2026-12-02T21:10", "2026-12-03T13:25", None,
     [4]),
    ("10489", "shipped", "DE", "50667", "GLS", "2026-12-02T07:55", "2026-12-02T16:30", None,
     [5, 9]),
    ("10490", "delivered", "DE", "10115", "DHL", "2026-11-20T19:00", "2026-11-23T15:00",
     "2026-11-24T11:32", [0, 4, 9]),
    ("10491", "delivered", "AT", "1010", "DPD", "2026-11-16T10:00", "2026-11-16T16:00",
     "2026-11-19T12:10", [2]),
    ("10492", "delivered", "CH", "8001", "UPS", "2026-11-09T09:00", "2026-11-10T15:00",
     "2026-11-13T10:45", [8]),
    ("10493", "delivered", "DE", "01067", "Hermes", "2026-11-25T14:30", "2026-11-26T15:00",
     "2026-11-28T09:15", [6, 4]),
    ("10494", "delivered", "DE", "70173", "GLS", "2026-12-01T11:00", "2026-12-01T16:10",
     "2026-12-02T13:40", [1]),
    ("10377", "delivered", "DE", "60311", "DHL", "2026-10-14T10:00", "2026-10-15T15:00",
     "2026-10-16T12:00", [3, 5]),  # past its 30-day return window
    ("10495", "cancelled", "DE", "04109", None, "2026-11-29T13:00", None, None, [7]),
    ("10496", "cancelled", "AT", "6020", None, "2026-12-02T08:00", None, None, [0, 9]),
    ("10497", "returned", "DE", "28195", "DHL", "2026-11-02T10:00", "2026-11-03T15:00",
     "2026-11-04T11:00", [2]),
    ("10498", "returned", "CH", "4051", "UPS", "2026-10-28T09:00", "2026-10-29T15:00",
     "2026-11-02T12:00", [1, 6]),
    ("10499", "shipped", "DE", "44135", "DHL", "2026-12-03T09:10", "2026-12-03T17:00", None,
     [9]),
    ("10500", "processing", "DE", "90402", None, "2026-12-04T15:40", None, None, [6]),
    ("10501", "delivered", "AT", "8010", "GLS", "2026-11-23T12:00", "2026-11-24T16:00",
     "2026-11-27T10:20", [4, 5]),
    ("10502", "shipped", "AT", "4020", "DHL", "2026-12-02T10:00", "2026-12-03T15:30", None,
     [8]),
    ("10503", "shipped", "CH", "1201", "DPD", "2026-12-01T13:00", "2026-12-02T16:00", None,
     [0]),
    ("10504", "delivered", "DE", "30159", "DPD", "2026-11-18T09:00", "2026-11-18T16:00",
     "2026-11-19T14:00", [3]),
    ("10505", "delivered", "CH", "6003", "GLS", "2026-11-24T08:00", "2026-11-24T15:00",
     "2026-11-27T11:00", [9, 4]),
    ("10506", "processing", "AT", "9020", None, "2026-12-04T07:30", None, None, [1, 2]),
    ("10507", "shipped", "DE", "01069", "UPS", "2026-12-03T08:00", "2026-12-03T16:45", None,
     [7]),
    ("10508", "delivered", "DE", "40213", "Hermes", "2026-11-05T10:00", "2026-11-06T15:00",
     "2026-11-09T10:00", [5]),
    ("10509", "cancelled", "CH", "9000", None, "2026-11-27T16:00", None, None, [8]),
    ("10510", "returned", "AT", "1100", "DPD", "2026-11-10T10:00", "2026-11-10T16:00",
     "2026-11-13T09:00", [0, 1]),
    ("10511", "shipped", "DE", "18055", "GLS", "2026-12-03T12:30", "2026-12-04T13:10", None,
     [4, 6, 9]),
    ("10512", "processing", "DE", "24103", None, "2026-12-03T16:20", None, None, [3]),
]

FIRST = ["Jana", "Lukas", "Mia", "Felix", "Lea", "Paul", "Emma", "Jonas", "Sophie", "Max",
         "Anna", "Elias", "Marie", "Noah", "Laura", "Ben"]
LAST = ["Becker", "Schmidt", "Huber", "Meier", "Keller", "Wagner", "Fischer", "Gruber",
        "Weber", "Brunner", "Hofmann", "Schneider", "Steiner", "Wolf", "Bauer", "Frei"]
DOMAIN = {"DE": "example.de", "AT": "example.at", "CH": "example.ch"}
OFFSET = "+01:00"


def _order(rng: random.Random, order_id: str, status: str, country: str, zip_code: str,
           carrier: str | None, ordered: str, shipped: str | None, delivered: str | None,
           item_indexes: list[int], email: str) -> dict[str, Any]:
    items = []
    for index in item_indexes:
        sku, name, price = CATALOGUE[index]
        items.append({"sku": sku, "name": name, "quantity": 1 if index != 4 else 2,
                      "price": price})
    total = round(sum(i["price"] * i["quantity"] for i in items), 2)
    return {
        "order_id": order_id, "email": email, "zip_code": zip_code, "country": country,
        "status": status, "ordered_at": ordered + ":00" + OFFSET,
        "shipped_at": shipped + ":00" + OFFSET if shipped else None,
        "delivered_at": delivered + ":00" + OFFSET if delivered else None,
        "carrier": carrier,
        "tracking_number": CARRIER_NUMBERS[carrier](rng) if carrier else None,
        "items": items, "total": total, "currency": "CHF" if country == "CH" else "EUR",
    }


def demo_orders() -> list[dict[str, Any]]:
    """The demo shop's orders (deterministic)."""
    rng = random.Random(4)
    orders = []
    for n, (order_id, status, country, zip_code, carrier, ordered, shipped, delivered,
            items) in enumerate(DEMO):
        email = (f"{FIRST[n % len(FIRST)].lower()}.{LAST[(n * 7) % len(LAST)].lower()}"
                 f"@{DOMAIN[country]}")
        if order_id == "10482":
            email = "jana.becker@example.de"
        order = _order(rng, order_id, status, country, zip_code, carrier, ordered, shipped,
                       delivered, items, email)
        if order_id == "10482":
            order["tracking_number"] = "00340434161094015902"
        if status == "cancelled":
            order["updated_at"] = ordered[:11] + "18:00:00" + OFFSET
        if status == "returned":
            order["updated_at"] = (delivered or ordered)[:8] + "20T10:00:00" + OFFSET
        orders.append(order)
    return orders


def bulk_orders(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """``count`` synthetic orders (ids 2000000, 2000001, ...) for the benchmark."""
    rng = random.Random(seed)
    statuses = ["processing", "shipped", "delivered", "cancelled", "returned"]
    countries = [("DE", "10115"), ("AT", "1010"), ("CH", "8001")]
    result = []
    for n in range(count):
        status = rng.choice(statuses)
        country, zip_code = rng.choice(countries)
        carrier = rng.choice(list(CARRIER_NUMBERS)) if status not in (
            "processing", "cancelled") else None
        day = 1 + n % 28
        result.append(_order(
            rng, str(2_000_000 + n), status, country, zip_code, carrier,
            f"2026-11-{day:02d}T10:00", f"2026-11-{day:02d}T16:00" if carrier else None,
            f"2026-11-{min(day + 2, 30):02d}T12:00" if status in ("delivered", "returned")
            else None, rng.sample(range(len(CATALOGUE)), rng.randint(1, 3)),
            f"kunde{n}@example.de"))
    return result


def main() -> None:
    """Writes data/shop/demo-orders.json."""
    target = ROOT / "data" / "shop" / "demo-orders.json"
    target.write_text(json.dumps(demo_orders(), indent=1, ensure_ascii=False) + "\n",
                      encoding="utf-8")
    print(f"wrote {target} ({len(DEMO)} orders)", file=sys.stderr)


if __name__ == "__main__":
    main()
