"""`/model/parse` latency and NLU training time: our pipeline vs. the stock `rasa init` one.

Both NLU models are trained on our data (``data/nlu``) in the same run (``rasa train
nlu``; the policies do not take part in parsing), each is served by a real ``rasa run
--enable-api`` on a free port, and the held-out messages of ``tests/nlu/heldout_nlu.yml``
are sent to ``POST /model/parse`` one after another (after a warm-up). The stock config
is the ``config.yml`` that ``rasa init`` writes, taken from the installed Rasa package.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import httpx  # noqa: E402

from bench.report import ROOT, machine, percentile, write_section  # noqa: E402
from tests.conftest import free_port  # noqa: E402

WORK = Path(os.environ.get("KDBOT_VAR_DIR", ROOT / "var")) / "bench" / "nlu"
REQUESTS = int(os.environ.get("BENCH_NLU_REQUESTS", "300"))
WARMUP = 20
# RASA_MAX_CACHE_SIZE=0: no component comes from Rasa's training cache, both train fully
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false",
       "TF_CPP_MIN_LOG_LEVEL": "2", "RASA_MAX_CACHE_SIZE": "0"}


def stock_config() -> Path:
    import rasa

    source = Path(rasa.__file__).parent / "cli" / "initial_project" / "config.yml"
    target = WORK / "config.stock.yml"
    shutil.copy(source, target)
    return target


def train(config: Path, name: str) -> tuple[Path, float]:
    """Trains an NLU-only model; returns its path and the wall-clock seconds."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from build_spacy_de import ensure_pipeline

    ensure_pipeline()
    model = WORK / f"{name}.tar.gz"
    model.unlink(missing_ok=True)  # else `rasa train` may reuse an unchanged model
    started = time.monotonic()
    with (WORK / f"train-{name}.log").open("w") as log:
        subprocess.run([sys.executable, "-m", "rasa", "train", "nlu", "--config", str(config),
                        "--nlu", "data/nlu", "--domain", "bot/domain", "--out", str(WORK),
                        "--fixed-model-name", name], cwd=ROOT, env=ENV, check=True,
                       stdout=log, stderr=subprocess.STDOUT)
    return model, time.monotonic() - started


def texts() -> list[str]:
    from rasa.shared.nlu.training_data.loading import load_data

    return [m.get("text") for m in
            load_data(str(ROOT / "tests/nlu/heldout_nlu.yml")).intent_examples]


def serve_and_measure(model: Path, messages: list[str]) -> list[float]:
    """Starts `rasa run` with the model and times POST /model/parse (milliseconds)."""
    port = free_port()
    endpoints = WORK / "endpoints.yml"  # none: in-memory tracker, no action server
    endpoints.write_text("# benchmark: no endpoints\n")
    credentials = WORK / "credentials.yml"  # not the project's: its channels need Redis
    credentials.write_text("rest:\n")
    log = (WORK / f"serve-{model.stem}.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "rasa", "run", "--enable-api", "--model", str(model),
         "--port", str(port), "--interface", "127.0.0.1", "--endpoints", str(endpoints),
         "--credentials", str(credentials)],
        cwd=ROOT, env=ENV, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        with httpx.Client(timeout=30) as client:
            while True:
                try:
                    if client.get(f"{url}/status").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"rasa run did not start (log: {log.name})")
                time.sleep(1)
            for i in range(WARMUP):
                client.post(f"{url}/model/parse", json={"text": messages[i % len(messages)]})
            timings = []
            for i in range(REQUESTS):
                started = time.perf_counter()
                response = client.post(f"{url}/model/parse",
                                       json={"text": messages[i % len(messages)]})
                timings.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
        return timings
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def main() -> int:
    """Runs the benchmark and writes the `nlu` section of docs/BENCHMARKS.md."""
    WORK.mkdir(parents=True, exist_ok=True)
    messages = texts()
    results = {}
    for name, config in (("ours", ROOT / "config.yml"), ("stock", stock_config())):
        model, seconds = train(config, name)
        timings = serve_and_measure(model, messages)
        results[name] = (seconds, percentile(timings, 50), percentile(timings, 99))
        print(f"{name}: train {seconds:.0f} s, p50 {results[name][1]:.1f} ms, "
              f"p99 {results[name][2]:.1f} ms", flush=True)
    ours, stock = results["ours"], results["stock"]
    body = "\n".join([
        "## NLU latency and training time (`bench/nlu/run.py`)", "",
        machine(), "",
        f"Both NLU models trained on `data/nlu` in this run (`rasa train nlu`), served by "
        f"`rasa run --enable-api`; {REQUESTS} sequential `POST /model/parse` requests with "
        f"the held-out messages after {WARMUP} warm-up requests. Stock = the `config.yml` "
        "of `rasa init` (Rasa's default pipeline: whitespace tokens, DIET with 2 "
        "transformer layers, 100 epochs, ResponseSelector).", "",
        "| pipeline | NLU training (s) | parse p50 (ms) | parse p99 (ms) |",
        "| --- | --- | --- | --- |",
        f"| ours (`config.yml`) | {ours[0]:.0f} | {ours[1]:.1f} | {ours[2]:.1f} |",
        f"| stock `rasa init` | {stock[0]:.0f} | {stock[1]:.1f} | {stock[2]:.1f} |",
        f"| ratio ours / stock | {ours[0] / stock[0]:.2f} | {ours[1] / stock[1]:.2f} | "
        f"{ours[2] / stock[2]:.2f} |", "",
        f"Target: our p99 no slower than stock: "
        f"{'met' if ours[2] <= stock[2] else 'NOT met'}.",
    ])
    write_section("nlu", body)
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
