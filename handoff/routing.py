"""Routing: how urgent an escalation is (its severity raises it in the queue)."""

from __future__ import annotations

from collections.abc import Mapping

# reasons that are urgent on their own (docs/conventions.md lists the reason words)
REASON_SEVERITY = {
    "legal_threat": 3,
    "payment_issue": 2,
    "damaged_goods": 2,
    "wrong_goods": 1,
    "complaint": 1,
}
LANGUAGES = ("de", "en")


def severity(reason: str, flags: Mapping[str, bool]) -> int:
    """Severity 0 (normal) .. 3 (legal threat) of an escalation.

    Args:
        reason: The escalation reason word.
        flags: ``legal_threat`` / ``high_order_value`` flags of the context.

    Returns:
        The severity; a high order value raises it by one.
    """
    level = REASON_SEVERITY.get(reason, 0)
    if flags.get("legal_threat"):
        level = 3
    if flags.get("high_order_value"):
        level += 1
    return min(level, 3)


def queue_language(language: str) -> str:
    """The queue a conversation language goes to (unknown languages go to German)."""
    return language if language in LANGUAGES else "de"
