"""Trains the Rasa model only when its inputs changed.

The model is named after a SHA-256 over everything that shapes it: the config,
the domain, the training data and the code of our own NLU components. A model
with that name in ``models/`` is reused; ``models/current`` names the one to serve.

Usage: ``python scripts/train.py [--config config.yml] [--print-path]``
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INPUT_GLOBS = ("bot/domain/**/*.yml", "data/nlu/**/*.yml", "data/rules/**/*.yml",
               "data/stories/**/*.yml", "bot/**/*.py", "requirements.lock",
               "scripts/build_spacy_de.py")


def model_inputs(config: Path) -> list[Path]:
    """All files whose content shapes the trained model, in a stable order."""
    files = {config.resolve()}
    for pattern in INPUT_GLOBS:
        files.update(p.resolve() for p in ROOT.glob(pattern) if p.is_file())
    # channels do not shape the model
    return sorted(f for f in files if "channels" not in f.relative_to(ROOT).parts)


def inputs_hash(config: Path) -> str:
    digest = hashlib.sha256()
    for path in model_inputs(config):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=os.environ.get("RASA_CONFIG", "config.yml"))
    parser.add_argument("--out", default="models")
    parser.add_argument("--print-path", action="store_true", help="only print the model path")
    args = parser.parse_args()

    config = (ROOT / args.config).resolve()
    out = (ROOT / args.out).resolve()
    if not args.print_path:
        # the German spaCy pipeline that config.yml loads by path (built locally, no download)
        sys.path.insert(0, str(ROOT / "scripts"))
        from build_spacy_de import ensure_pipeline
        ensure_pipeline()
    name = f"{config.stem}-{inputs_hash(config)}"
    model = out / f"{name}.tar.gz"
    if args.print_path:
        print(model)
        return 0
    if model.exists():
        print(f"model is up to date: {model.relative_to(ROOT)}")
    else:
        print(f"training {model.relative_to(ROOT)} (inputs changed) ...", flush=True)
        cmd = [sys.executable, "-m", "rasa", "train", "--config", str(config),
               "--domain", "bot/domain", "--data", "data", "--out", str(out),
               "--fixed-model-name", name]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false"}
        log = Path(os.environ.get("KDBOT_VAR_DIR", ROOT / "var")) / "log" / "train.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with log.open("w") as output:
            result = subprocess.run(cmd, cwd=ROOT, env=env, stdout=output,
                                    stderr=subprocess.STDOUT)
        if result.returncode != 0 or not model.exists():
            print("\n".join(log.read_text().splitlines()[-30:]), file=sys.stderr)
            print(f"error: rasa train failed (full log: {log})", file=sys.stderr)
            return 1
        print(f"trained in {time.monotonic() - started:.0f} s (log: {log})")
    if config.name == "config.yml":
        (out / "current").write_text(str(model.relative_to(ROOT)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
