"""Unit tests of the NLU-side actions, rasa-sdk style (Tracker from events)."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from actions.fallback import ActionFallback
from actions.language import ActionSetLanguage
from actions.recommendation import ActionRefuseRecommendation


def user(text: str, intent: str, entities: list[dict[str, Any]] | None = None
         ) -> dict[str, Any]:
    return {"event": "user", "text": text,
            "parse_data": {"text": text, "intent": {"name": intent, "confidence": 0.9},
                           "entities": entities or []}}


def bot(response: str) -> dict[str, Any]:
    return {"event": "bot", "text": "...", "metadata": {"utter_action": response}}


def lang(value: str, explicit: bool = False) -> dict[str, Any]:
    return {"entity": "language", "value": value, "extractor": "LanguageDetector",
            "explicit": explicit}


def tracker(events: list[dict[str, Any]], **slots: Any) -> Tracker:
    latest = next((e["parse_data"] for e in reversed(events) if e["event"] == "user"), {})
    return Tracker("t", {"language": "de", "language_explicit": False, **slots}, latest,
                   events, False, None, {}, "action_listen")


async def run(action: Any, events: list[dict[str, Any]], **slots: Any
              ) -> tuple[CollectingDispatcher, list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    result = await action.run(dispatcher, tracker(events, **slots), {})
    return dispatcher, result


# --- language -------------------------------------------------------------------

@pytest.mark.parametrize(("current", "explicit_before", "entities", "expected"), [
    ("de", False, [], []),  # short message: keep
    ("en", False, [], []),
    ("de", False, [lang("en")], [SlotSet("language", "en")]),
    ("en", False, [lang("de")], [SlotSet("language", "de")]),
    ("de", False, [lang("de")], []),
    ("de", False, [lang("en", True)],
     [SlotSet("language", "en"), SlotSet("language_explicit", True)]),
    ("en", True, [lang("de")], []),  # explicit choice sticks
    ("en", True, [lang("de", True)], [SlotSet("language", "de")]),
])
async def test_language_slot(current: str, explicit_before: bool,
                             entities: list[dict[str, Any]], expected: list) -> None:
    _, events = await run(ActionSetLanguage(), [user("x", "greet", entities)],
                          language=current, language_explicit=explicit_before)
    assert events == expected


async def test_language_action_ignores_other_entities() -> None:
    _, events = await run(ActionSetLanguage(),
                          [user("10482", "provide_order_details",
                                [{"entity": "order_id", "value": "10482"}])], language="en")
    assert events == []


# --- fallback -------------------------------------------------------------------

async def test_first_miss_asks_to_rephrase() -> None:
    dispatcher, events = await run(ActionFallback(), [
        user("Hallo", "greet"), bot("utter_greet"), user("xqzv", "nlu_fallback")])
    assert [m["response"] for m in dispatcher.messages] == ["utter_ask_rephrase"]
    assert events == [UserUtteranceReverted()]


async def test_second_consecutive_miss_hands_over() -> None:
    dispatcher, events = await run(ActionFallback(), [
        user("xqzv", "nlu_fallback"), bot("utter_ask_rephrase"), user("plörk", "nlu_fallback")])
    assert dispatcher.messages == []
    assert events == [UserUtteranceReverted(), SlotSet("handoff_reason", "fallback"),
                      FollowupAction("action_handoff")]


async def test_misses_separated_by_an_understood_message_start_over() -> None:
    dispatcher, events = await run(ActionFallback(), [
        user("xqzv", "nlu_fallback"), bot("utter_ask_rephrase"),
        user("Lieferzeit?", "delivery_time"), bot("utter_delivery_time"),
        user("plörk", "nlu_fallback")])
    assert [m["response"] for m in dispatcher.messages] == ["utter_ask_rephrase"]
    assert events == [UserUtteranceReverted()]


def action(name: str) -> dict[str, Any]:
    return {"event": "action", "name": name}


async def test_unpredictable_turns_count_as_misses() -> None:
    """A message the policies could not answer (core fallback) counts like nlu_fallback."""
    dispatcher, events = await run(ActionFallback(), [
        user("zzz", "affirm"), action("action_fallback"), bot("utter_ask_rephrase"),
        action("action_listen"), user("jjj", "deny")])
    assert dispatcher.messages == []
    assert events == [UserUtteranceReverted(), SlotSet("handoff_reason", "fallback"),
                      FollowupAction("action_handoff")]


async def test_an_answered_turn_is_no_miss() -> None:
    dispatcher, events = await run(ActionFallback(), [
        user("ja", "affirm"), action("utter_thank"), bot("utter_thank"),
        action("action_listen"), user("jjj", "deny")])
    assert [m["response"] for m in dispatcher.messages] == ["utter_ask_rephrase"]
    assert events == [UserUtteranceReverted()]


async def test_misses_of_an_earlier_session_do_not_count() -> None:
    dispatcher, events = await run(ActionFallback(), [
        user("xqzv", "nlu_fallback"), bot("utter_ask_rephrase"),
        {"event": "session_started"}, user("plörk", "nlu_fallback")])
    assert [m["response"] for m in dispatcher.messages] == ["utter_ask_rephrase"]


# --- product advice -------------------------------------------------------------

async def test_first_recommendation_request_is_refused() -> None:
    dispatcher, events = await run(ActionRefuseRecommendation(), [
        user("Welche Jacke empfehlen Sie?", "ask_recommendation")])
    assert [m["response"] for m in dispatcher.messages] == ["utter_no_recommendation"]
    assert events == []


async def test_second_recommendation_request_goes_to_a_person() -> None:
    dispatcher, events = await run(ActionRefuseRecommendation(), [
        user("Welche Jacke empfehlen Sie?", "ask_recommendation"),
        bot("utter_no_recommendation"),
        user("Wo ist meine Bestellung?", "track_order"), bot("utter_ask_order_id"),
        user("Und welche Größe soll ich nehmen?", "ask_recommendation")])
    assert [m["response"] for m in dispatcher.messages] == ["utter_recommendation_to_person"]
    assert events == [SlotSet("handoff_reason", "request_human"),
                      FollowupAction("action_handoff")]
