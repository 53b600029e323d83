"""The order-backend interface every implementation (SQLite, Shopify) follows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from actions.shop.models import Order


class BackendUnavailable(RuntimeError):
    """The backend cannot be reached or answered something we cannot use."""


@dataclass(frozen=True)
class ReturnRecord:
    """A return created in the backend."""

    rma: str
    order_id: str
    skus: tuple[str, ...]
    label_url: str | None


class OrderBackend(Protocol):
    """Looks orders up and records what the shopper asked for."""

    def find_verified(self, order_id: str, *, zip_code: str | None = None,
                      email: str | None = None) -> Order | None:
        """The order when ``order_id`` exists AND the zip code or email matches, else None.

        Implementations never tell an unknown number from a wrong zip code or email.

        Raises:
            BackendUnavailable: When the backend cannot answer.
        """
        ...

    def get_order(self, order_id: str) -> Order | None:
        """The order (for a conversation that is already verified), or None.

        Raises:
            BackendUnavailable: When the backend cannot answer.
        """
        ...

    def create_return(self, order: Order, skus: tuple[str, ...], label: bool) -> ReturnRecord:
        """Creates a return for the given items of a delivered order.

        Raises:
            BackendUnavailable: When the backend cannot answer.
        """
        ...

    def record_request(self, order_id: str, kind: str, conversation_id: str) -> None:
        """Records a shopper's request (``cancel_order``, ``change_address``) for a person.

        Raises:
            BackendUnavailable: When the backend cannot answer.
        """
        ...
