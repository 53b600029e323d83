"""Live parcel status from carriers, behind one small interface.

The DHL adapter speaks the DHL Shipment Tracking - Unified API
(``GET {base}/track/shipments?trackingNumber=...`` with the ``DHL-API-Key`` header).
Any other carrier, or DHL without an API key, has no live status: the answer then
falls back to the order data and says how current it is.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

logger = logging.getLogger(__name__)

# DHL's statusCode values, mapped onto our own small vocabulary
DHL_STATUS_CODES = {"pre-transit": "pre_transit", "transit": "transit",
                    "delivered": "delivered", "failure": "failure", "unknown": "unknown"}


class CarrierUnavailable(RuntimeError):
    """The carrier API is down, too slow, or answered something unusable."""


@dataclass(frozen=True)
class CarrierStatus:
    """The carrier's latest word on a parcel."""

    code: str  # pre_transit | transit | delivered | failure | unknown
    description: str  # the carrier's own text (in the requested language when offered)
    timestamp: dt.datetime
    estimated_delivery: dt.datetime | None = None


class CarrierClient(Protocol):
    """Looks up the live status of a parcel."""

    def supports(self, carrier: str | None) -> bool:
        """True when this client can ask the given carrier."""
        ...

    async def status(self, tracking_number: str, language: str) -> CarrierStatus | None:
        """The latest status, or None when the carrier does not know the parcel.

        Raises:
            CarrierUnavailable: When the carrier cannot answer in time or sensibly.
        """
        ...


def _parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


class DHLTrackingClient:
    """Client of the DHL Shipment Tracking - Unified API."""

    def __init__(self, api_key: str, base_url: str = "https://api-eu.dhl.com",
                 timeout: float = 3.0) -> None:
        """Creates the client (no connection is opened here).

        Args:
            api_key: The DHL-API-Key (from the environment, never from a file).
            base_url: API base URL (a local fake in tests).
            timeout: Seconds before the call counts as failed.
        """
        self._api_key = api_key
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout

    def supports(self, carrier: str | None) -> bool:
        """DHL parcels only, and only with an API key."""
        return bool(self._api_key) and (carrier or "").upper() == "DHL"

    async def status(self, tracking_number: str, language: str) -> CarrierStatus | None:
        """Asks DHL for the parcel's latest status.

        Args:
            tracking_number: The DHL piece code.
            language: ``de`` or ``en`` for DHL's description text.

        Returns:
            The latest status, or None when DHL does not know the parcel (404).

        Raises:
            CarrierUnavailable: On timeouts, connection errors, 5xx/429 or garbage.
        """
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.get(
                    f"{self._base_url}/track/shipments",
                    params={"trackingNumber": tracking_number, "language": language},
                    headers={"DHL-API-Key": self._api_key, "Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise CarrierUnavailable(f"DHL: {type(exc).__name__}") from exc
        if response.status_code == 404:
            return None
        if not 200 <= response.status_code < 300:
            raise CarrierUnavailable(f"DHL answered HTTP {response.status_code}")
        try:
            shipment = response.json()["shipments"][0]
            status = shipment["status"]
            timestamp = _parse_time(status.get("timestamp"))
            if timestamp is None:
                raise ValueError("status without timestamp")
            code = DHL_STATUS_CODES.get(str(status.get("statusCode", "unknown")), "unknown")
            description = str(status.get("description") or status.get("status") or "")
            estimated = _parse_time(shipment.get("estimatedTimeOfDelivery"))
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise CarrierUnavailable(f"DHL answered an unusable body: {exc}") from exc
        return CarrierStatus(code=code, description=description[:300], timestamp=timestamp,
                             estimated_delivery=estimated)


class NoCarrierClient:
    """Used when no carrier API is configured: never asks anyone."""

    def supports(self, carrier: str | None) -> bool:
        """Supports no carrier."""
        return False

    async def status(self, tracking_number: str, language: str) -> CarrierStatus | None:
        """Never called (``supports`` is always False)."""
        return None
