"""`make eval`: the NLU model on the held-out set in tests/nlu, figures into BENCHMARKS.md.

Runs Rasa's own evaluation (``rasa test nlu``: reports, confusion matrix and histogram
plots in ``var/results/nlu/``) on ``tests/nlu/heldout_nlu.yml``, then
- macro-F1, per-intent F1 and the recall of the escalation intents,
- a sweep of the FallbackClassifier threshold: how many held-out messages it would
  wrongly send to the fallback vs. how many nonsense messages it would catch,
- the reply-language accuracy on ``tests/nlu/language_heldout.yml``.
Exits non-zero when a target is missed.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import yaml  # noqa: E402

from bench.report import ROOT, machine, write_section  # noqa: E402

HELDOUT = ROOT / "tests" / "nlu" / "heldout_nlu.yml"
LANGUAGE_HELDOUT = ROOT / "tests" / "nlu" / "language_heldout.yml"
OUT = Path(os.environ.get("KDBOT_VAR_DIR", ROOT / "var")) / "results" / "nlu"
MAIN_INTENTS = ("track_order", "delivery_time", "return_policy", "start_return",
                "cancel_order", "change_address", "payment_issue", "complaint",
                "request_human", "ask_recommendation")
ESCALATION = ("complaint", "request_human", "payment_issue")
TARGET_MACRO_F1 = 0.95
TARGET_ESCALATION_RECALL = 0.98
TARGET_LANGUAGE_ACCURACY = 0.98
NOTE = ("Caveat: after the first run on this set (macro-F1 0.90) the "
        "training data was extended once where it was thin (English lines, defect and del"
        "ivery-dispute complaints, return conditions); no held-out line was copied, but t"
        "he figures are optimistic for that reason.")
# Messages nobody could answer: the fallback should catch them (not training data).
NONSENSE = ["xqzv plörk", "asdfgh", "jjjjjj kkkk", "qwertz uiop", "blub blub blub",
            "hmmmm?", "lorem ipsum dolor", "zzz", "ölkjh", "brrr wrumm", "fhqwhgads",
            "???", "aaaaaaaah", "bla", "nnnnnein jjjjein", "kartoffelsalat trampolin"]


def current_model() -> Path:
    return ROOT / (ROOT / "models" / "current").read_text().strip()


def threshold_sweep(model: Path, texts: list[str], nonsense: list[str]) -> list[tuple]:
    """Top-intent confidences from the trained model, before the FallbackClassifier."""
    import logging

    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    agent = Agent.load(str(model))

    async def confidences(batch: list[str]) -> list[float]:
        result = []
        for text in batch:
            parsed = await agent.parse_message(text)
            ranking = [r for r in parsed.get("intent_ranking", [])
                       if r["name"] != "nlu_fallback"]
            result.append(float(ranking[0]["confidence"]) if ranking else 0.0)
        return result

    known = asyncio.run(confidences(texts))
    unknown = asyncio.run(confidences(nonsense))
    rows = []
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        lost = sum(c < threshold for c in known) / len(known)
        caught = sum(c < threshold for c in unknown) / len(unknown)
        rows.append((threshold, lost, caught))
    return rows


def language_accuracy() -> tuple[float, int]:
    from bot.components.language import detect_language

    cases = yaml.safe_load(LANGUAGE_HELDOUT.read_text())["messages"]
    right = 0
    for current, expected, text in cases:
        signal = detect_language(text)
        right += (signal.language if signal else current) == expected
    return right / len(cases), len(cases)


def heldout_texts() -> list[str]:
    from rasa.shared.nlu.training_data.loading import load_data

    return [m.get("text") for m in load_data(str(HELDOUT)).intent_examples]


def main() -> int:
    """Runs the evaluation; returns 1 when a target is missed."""
    model = current_model()
    OUT.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "rasa", "test", "nlu", "--nlu", str(HELDOUT),
           "--model", str(model), "--out", str(OUT), "--successes"]
    log = OUT / "rasa-test-nlu.log"
    with log.open("w") as output:
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=output, stderr=subprocess.STDOUT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    report = json.loads((OUT / "intent_report.json").read_text())
    intents = [i for i in report if i in MAIN_INTENTS or (
        isinstance(report[i], dict) and "support" in report[i]
        and i not in ("macro avg", "weighted avg", "micro avg"))]
    main_f1 = [report[i]["f1-score"] for i in MAIN_INTENTS if i in report]
    macro_main = sum(main_f1) / len(main_f1)
    macro_all = report["macro avg"]["f1-score"]
    recalls = {i: report[i]["recall"] for i in ESCALATION}
    sweep = threshold_sweep(model, heldout_texts(), NONSENSE)
    lang_acc, lang_n = language_accuracy()

    lines = [
        "## NLU on the held-out set (`make eval`, `bench/nlu/eval.py`)", "",
        machine(), "",
        f"Model `{model.name}`, held-out set `tests/nlu/heldout_nlu.yml` "
        f"({report['weighted avg']['support']} messages, written separately from "
        "`data/nlu/`). Rasa's reports and plots (confusion matrix, histogram): "
        "`var/results/nlu/`.", "",
        NOTE, "",
        "| figure | value | target |", "| --- | --- | --- |",
        f"| macro-F1, main intents | {macro_main:.3f} | >= {TARGET_MACRO_F1} |",
        f"| macro-F1, all intents in the set | {macro_all:.3f} | |",
        *[f"| recall `{i}` | {recalls[i]:.3f} | >= {TARGET_ESCALATION_RECALL} |"
          for i in ESCALATION],
        f"| reply-language accuracy ({lang_n} short and long messages) | {lang_acc:.3f} "
        f"| >= {TARGET_LANGUAGE_ACCURACY} |", "",
        "| intent | precision | recall | F1 | support |", "| --- | --- | --- | --- | --- |",
        *[f"| {i} | {report[i]['precision']:.2f} | {report[i]['recall']:.2f} | "
          f"{report[i]['f1-score']:.2f} | {report[i]['support']} |" for i in sorted(intents)],
        "", "Confusions (true -> predicted, count):", "",
        *[f"- {i} -> {p}: {n}" for i in sorted(intents)
          for p, n in sorted(report[i].get("confused_with", {}).items())],
        "", "FallbackClassifier threshold sweep (share of held-out messages that would be "
        "wrongly sent to the fallback / share of nonsense messages caught):", "",
        "| threshold | held-out lost | nonsense caught |", "| --- | --- | --- |",
        *[f"| {t:.1f} | {lost:.3f} | {caught:.3f} |" for t, lost, caught in sweep],
    ]
    write_section("nlu-eval", "\n".join(lines))
    print("\n".join(lines))
    missed = (macro_main < TARGET_MACRO_F1
              or min(recalls.values()) < TARGET_ESCALATION_RECALL
              or lang_acc < TARGET_LANGUAGE_ACCURACY)
    if missed:
        print("error: a target was missed (see above)", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
