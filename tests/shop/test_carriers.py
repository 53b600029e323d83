"""DHL Shipment Tracking adapter against a local fake, and the fallback in the answer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import time_machine
from rasa_sdk.executor import CollectingDispatcher

from actions.orders import ActionAnswerOrderRequest
from actions.shop.carriers import CarrierUnavailable, DHLTrackingClient
from actions.shop.services import set_services
from tests.shop.fakes import DHL_API_KEY, FakeServer, fake_dhl
from tests.shop.helpers import (
    FRIDAY_MORNING,
    make_services,
    make_tracker,
    message,
    responses,
    user_event,
    verified_slots,
)


@pytest.fixture
def dhl() -> Iterator[FakeServer]:
    with fake_dhl() as server:
        yield server


async def test_status_in_dhl_wire_format(dhl: FakeServer) -> None:
    client = DHLTrackingClient(DHL_API_KEY, dhl.url, timeout=1)
    status = await client.status("00340434161094015902", "de")
    assert status is not None
    assert status.code == "transit"
    assert status.description == "Die Sendung wurde in das Zustellfahrzeug geladen."
    assert status.timestamp == dt.datetime(2026, 12, 3, 6, 12, tzinfo=dt.timezone.utc)
    assert status.estimated_delivery is not None
    request = dhl.requests[-1]
    assert request["key"] == DHL_API_KEY
    assert request["query"] == {"trackingNumber": ["00340434161094015902"], "language": ["de"]}


async def test_unknown_parcel_is_none(dhl: FakeServer) -> None:
    client = DHLTrackingClient(DHL_API_KEY, dhl.url, timeout=1)
    assert await client.status("00340434000000000000", "de") is None


@pytest.mark.parametrize("mode", ["down", "slow", "garbage"])
async def test_down_slow_or_garbage_is_unavailable(dhl: FakeServer, mode: str) -> None:
    dhl.mode = mode
    client = DHLTrackingClient(DHL_API_KEY, dhl.url, timeout=0.5)
    with pytest.raises(CarrierUnavailable):
        await client.status("00340434161094015902", "de")


async def test_wrong_key_is_unavailable(dhl: FakeServer) -> None:
    with pytest.raises(CarrierUnavailable, match="401"):
        await DHLTrackingClient("wrong", dhl.url, timeout=1).status("00340434161094015902", "de")


def test_only_dhl_with_a_key_is_supported() -> None:
    assert DHLTrackingClient("k").supports("DHL")
    assert not DHLTrackingClient("k").supports("DPD")
    assert not DHLTrackingClient("").supports("DHL")


async def track(tmp_path: Path, redis_url: str, key_prefix: str, client: DHLTrackingClient
                ) -> CollectingDispatcher:
    set_services(make_services(tmp_path, redis_url, key_prefix, carriers=client))
    try:
        with time_machine.travel(FRIDAY_MORNING, tick=False):
            dispatcher = CollectingDispatcher()
            tracker = make_tracker(verified_slots("10482", "10115"),
                                   events=[user_event("Wo ist mein Paket?", "track_order")])
            await ActionAnswerOrderRequest().run(dispatcher, tracker, {})
    finally:
        set_services(None)
    return dispatcher


async def test_tracking_answer_shows_the_live_dhl_status(tmp_path: Path, redis_url: str,
                                                         key_prefix: str,
                                                         dhl: FakeServer) -> None:
    dispatcher = await track(tmp_path, redis_url, key_prefix,
                             DHLTrackingClient(DHL_API_KEY, dhl.url, timeout=1))
    assert responses(dispatcher) == ["utter_order_shipped", "utter_carrier_live_status",
                                     "utter_order_tracking_link"]
    live = message(dispatcher, "utter_carrier_live_status")
    assert live["carrier_status_date"] == "Donnerstag, 3. Dezember 2026"
    assert live["carrier_status_time"] == "07:12"
    # DHL's own estimate wins over the computed one
    assert message(dispatcher, "utter_order_shipped")["expected_delivery_date"] == \
        "Freitag, 4. Dezember 2026"


@pytest.mark.parametrize("mode", ["down", "slow", "garbage"])
async def test_tracking_falls_back_to_order_data(tmp_path: Path, redis_url: str,
                                                 key_prefix: str, dhl: FakeServer,
                                                 mode: str) -> None:
    dhl.mode = mode
    dispatcher = await track(tmp_path, redis_url, key_prefix,
                             DHLTrackingClient(DHL_API_KEY, dhl.url, timeout=0.5))
    assert responses(dispatcher) == ["utter_order_shipped", "utter_carrier_status_unavailable",
                                     "utter_order_tracking_link"]
    assert message(dispatcher, "utter_carrier_status_unavailable")["last_change_date"] == \
        "Montag, 30. November 2026"
