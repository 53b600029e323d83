"""Builds the German spaCy pipeline the Rasa config loads by path (nothing is downloaded).

A blank ``de`` pipeline with spaCy's rule-based tokenizer and the lookup lemmatizer
whose table ships in the ``spacy-lookups-data`` wheel, saved to ``models/spacy-de``
(ignored by git). ``scripts/train.py`` calls :func:`ensure_pipeline` before training,
so the directory exists wherever a model is trained or served.

Usage: ``python scripts/build_spacy_de.py [--force]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIPELINE_DIR = ROOT / "models" / "spacy-de"
# bump when the pipeline below changes, so existing directories are rebuilt
BUILD_VERSION = "1"
MARKER = "kdbot-build.json"


def build_pipeline(target: Path) -> None:
    """Creates the blank German pipeline with the lookup lemmatizer in ``target``.

    Args:
        target: Directory to write the pipeline to (replaced if it exists).
    """
    import spacy

    nlp = spacy.blank("de")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    # loads the de_lemma_lookup table from the installed spacy-lookups-data wheel
    nlp.initialize()
    if target.exists():
        shutil.rmtree(target)
    nlp.to_disk(target)
    (target / MARKER).write_text(json.dumps({"version": BUILD_VERSION}))


def ensure_pipeline(target: Path = PIPELINE_DIR, force: bool = False) -> bool:
    """Builds the pipeline unless an up-to-date build is already in ``target``.

    Args:
        target: Directory of the pipeline.
        force: Rebuild even if the directory is up to date.

    Returns:
        True if the pipeline was (re)built.
    """
    marker = target / MARKER
    if not force and marker.exists():
        try:
            if json.loads(marker.read_text()).get("version") == BUILD_VERSION:
                return False
        except (OSError, ValueError):
            pass
    build_pipeline(target)
    return True


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = parser.parse_args()
    built = ensure_pipeline(force=args.force)
    print(f"spaCy pipeline {'built' if built else 'is up to date'}: "
          f"{PIPELINE_DIR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
