"""Shopify Admin GraphQL backend against a local fake store, alone and behind the form."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import time_machine
from rasa_sdk.executor import CollectingDispatcher

from actions.config import settings
from actions.orders import ActionAnswerOrderRequest
from actions.shop.backend import BackendUnavailable
from actions.shop.services import build_services, set_services
from actions.shop.shopify import ShopifyOrderBackend
from actions.verification import ValidateOrderVerificationForm
from tests.shop.fakes import SHOPIFY_TOKEN, FakeServer, fake_shopify
from tests.shop.helpers import (
    DEMO_ORDERS,
    FRIDAY_MORNING,
    events_as_dicts,
    form_tracker,
    make_services,
    make_tracker,
    responses,
    user_event,
    verified_slots,
)


@pytest.fixture
def store() -> Iterator[FakeServer]:
    with fake_shopify(json.loads(DEMO_ORDERS.read_text())) as server:
        yield server


@pytest.fixture
def backend(store: FakeServer) -> ShopifyOrderBackend:
    return ShopifyOrderBackend(store.url, SHOPIFY_TOKEN, timeout=0.5)


@pytest.mark.parametrize(("order_id", "status"), [
    ("10482", "shipped"), ("10483", "processing"), ("10490", "delivered"),
    ("10495", "cancelled"), ("10497", "returned"),
])
def test_statuses_from_shopify(backend: ShopifyOrderBackend, order_id: str,
                               status: str) -> None:
    order = backend.get_order(order_id)
    assert order is not None and order.status == status


def test_order_fields_from_shopify(backend: ShopifyOrderBackend, store: FakeServer) -> None:
    order = backend.find_verified("10482", zip_code="10115")
    assert order is not None
    assert (order.carrier, order.tracking_number) == ("DHL", "00340434161094015902")
    assert order.country == "DE" and order.total == 89.90
    assert [i.sku for i in order.items] == ["JK-204-M"]
    request = store.requests[-1]
    assert request["token"] == SHOPIFY_TOKEN
    assert request["body"]["variables"] == {"query": "name:#10482"}


@pytest.mark.parametrize(("order_id", "kwargs"), [
    ("10482", {"zip_code": "10117"}), ("99999", {"zip_code": "10115"}),
    ("10482", {"email": "someone.else@example.de"}),
])
def test_no_match_is_none(backend: ShopifyOrderBackend, order_id: str, kwargs: dict) -> None:
    assert backend.find_verified(order_id, **kwargs) is None


def test_email_matches(backend: ShopifyOrderBackend) -> None:
    assert backend.find_verified("10482", email="jana.becker@example.de") is not None


def test_search_syntax_is_never_sent(backend: ShopifyOrderBackend, store: FakeServer) -> None:
    assert backend.get_order("10482 OR name:*") is None
    assert store.requests == []


@pytest.mark.parametrize("mode", ["down", "slow", "garbage", "throttled"])
def test_store_trouble_is_backend_unavailable(backend: ShopifyOrderBackend, store: FakeServer,
                                              mode: str) -> None:
    store.mode = mode
    with pytest.raises(BackendUnavailable):
        backend.get_order("10482")


def test_wrong_token_is_backend_unavailable(store: FakeServer) -> None:
    with pytest.raises(BackendUnavailable, match="401"):
        ShopifyOrderBackend(store.url, "wrong").get_order("10482")


def test_return_request_and_tags(backend: ShopifyOrderBackend, store: FakeServer) -> None:
    order = backend.get_order("10490")
    assert order is not None
    record = backend.create_return(order, ("SK-101",), label=True)
    assert record.rma == "#R1" and record.label_url is None
    sent = store.returns[0]  # type: ignore[attr-defined]
    assert sent["orderId"].startswith("gid://shopify/Order/")
    assert [line["quantity"] for line in sent["returnLineItems"]] == [2]
    backend.record_request("10483", "cancel_order", "conv-1")
    assert store.tags[0]["tags"] == ["kdbot-cancel_order"]  # type: ignore[attr-defined]


def test_chosen_by_settings(store: FakeServer, monkeypatch: pytest.MonkeyPatch,
                            redis_url: str) -> None:
    monkeypatch.setenv("SHOP_BACKEND", "shopify")
    monkeypatch.setenv("SHOPIFY_STORE_URL", store.url)
    monkeypatch.setenv("SHOPIFY_ACCESS_TOKEN", SHOPIFY_TOKEN)
    monkeypatch.setenv("REDIS_URL", redis_url)
    services = build_services(settings())
    assert isinstance(services.backend, ShopifyOrderBackend)
    assert services.backend.get_order("10482") is not None


async def test_verification_and_tracking_through_shopify(
        tmp_path: Path, redis_url: str, key_prefix: str,
        backend: ShopifyOrderBackend) -> None:
    set_services(make_services(tmp_path, redis_url, key_prefix, backend=backend))
    try:
        dispatcher = CollectingDispatcher()
        events = await ValidateOrderVerificationForm().run(
            dispatcher, form_tracker({"order_number": "10482"}, {"zip_code": "10117"}, "10117"),
            {})
        assert responses(dispatcher) == ["utter_verification_failed"]
        events = await ValidateOrderVerificationForm().run(
            CollectingDispatcher(),
            form_tracker({"order_number": "10482"}, {"zip_code": "10115"}, "10115"), {})
        assert events_as_dicts(events)["verification"] == "verified"
        with time_machine.travel(FRIDAY_MORNING, tick=False):
            dispatcher = CollectingDispatcher()
            await ActionAnswerOrderRequest().run(
                dispatcher, make_tracker(verified_slots("10482", "10115"),
                                         events=[user_event("wo?", "track_order")]), {})
        assert responses(dispatcher)[0] == "utter_order_shipped"
    finally:
        set_services(None)


async def test_shopify_down_during_verification(tmp_path: Path, redis_url: str,
                                                key_prefix: str, store: FakeServer,
                                                backend: ShopifyOrderBackend) -> None:
    store.mode = "down"
    set_services(make_services(tmp_path, redis_url, key_prefix, backend=backend))
    try:
        dispatcher = CollectingDispatcher()
        events = await ValidateOrderVerificationForm().run(
            dispatcher, form_tracker({"order_number": "10482"}, {"zip_code": "10115"}, "10115"),
            {})
    finally:
        set_services(None)
    assert responses(dispatcher) == ["utter_shop_unavailable"]
    assert events_as_dicts(events)["requested_slot"] is None
