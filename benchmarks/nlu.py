"""NLU benchmark: intent macro-F1 on a held-out split, our pipeline against Rasa's default tokenizer.

training_data/nlu.yml is split once (Rasa's stratified `train_test_split`, 80/20, fixed seed). Two NLU
models are trained on the same 80 %: the project pipeline (bot/config.yml, underthesea tokenizer) and
the same pipeline with Rasa's default WhitespaceTokenizer in its place, so the tokenizer is the only
difference. Both are scored by `rasa test nlu` on the same 20 %. Then the trained assistant
(var/rasa-models/tthc.tar.gz) is started to measure Rasa's start time, memory and parse latency.

Rasa lives in .venv-rasa: everything Rasa does here runs there through subprocesses.
Run alone with `python -m benchmarks.nlu`. Results are also written to var/bench/nlu.json.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from bot.rasa_server import DEFAULT_MODEL, PROJECT_ROOT, RASA_VENV, RasaServer, render_endpoints

log = logging.getLogger(__name__)

SEED = 42
TRAIN_FRACTION = 0.8
TARGET_MACRO_F1 = 0.93
BENCH_PORT = int(os.environ.get("TTHC_BENCH_RASA_PORT", "5077"))
OUT_FILE = PROJECT_ROOT / "var" / "bench" / "nlu.json"
FALLBACK_THRESHOLD = [0.0]  # set from bot/config.yml's FallbackClassifier

SPLIT_SCRIPT = """
import sys
from rasa.shared.nlu.training_data.loading import load_data
source, train_path, test_path, seed, fraction = sys.argv[1:6]
data = load_data(source)
train, test = data.train_test_split(train_frac=float(fraction), random_seed=int(seed))
train.persist_nlu(train_path)
test.persist_nlu(test_path)
print(len(train.intent_examples), len(test.intent_examples))
"""


def rasa_env(cache_dir: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(PROJECT_ROOT))
    if cache_dir is not None:
        env["RASA_CACHE_DIRECTORY"] = str(cache_dir)  # no cached components: honest training times
    return env


def run_rasa(args: list[str], log_file: Path) -> float:
    """Run a command of .venv-rasa with `nice`; returns seconds taken, raises with the log tail."""
    started = time.perf_counter()
    with log_file.open("wb") as handle:
        result = subprocess.run(
            ["nice", *args],
            cwd=PROJECT_ROOT,
            env=rasa_env(cache_dir=log_file.parent / f"cache-{log_file.stem}"),
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    if result.returncode != 0:
        tail = log_file.read_text(encoding="utf-8", errors="replace").splitlines()[-30:]
        raise RuntimeError(f"{' '.join(args[:3])} failed ({result.returncode}):\n" + "\n".join(tail))
    return time.perf_counter() - started


def split(workdir: Path) -> tuple[Path, Path, int, int]:
    train_dir = workdir / "train"
    train_dir.mkdir()
    test_file = workdir / "test.yml"
    output = subprocess.run(
        [
            str(RASA_VENV / "bin" / "python"), "-c", SPLIT_SCRIPT,
            str(PROJECT_ROOT / "training_data" / "nlu.yml"), str(train_dir / "nlu.yml"), str(test_file),
            str(SEED), str(TRAIN_FRACTION),
        ],
        cwd=PROJECT_ROOT, env=rasa_env(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    n_train, n_test = (int(n) for n in output.stdout.split()[-2:])
    for lookup in (PROJECT_ROOT / "training_data" / "lookups").glob("*.yml"):
        shutil.copy(lookup, train_dir / lookup.name)
    return train_dir, test_file, n_train, n_test


def pipeline_configs(workdir: Path) -> dict[str, Path]:
    ours = yaml.safe_load((PROJECT_ROOT / "bot" / "config.yml").read_text(encoding="utf-8"))
    ours.pop("policies", None)
    # The classifier is scored on its own; how many answers the fallback threshold would catch is
    # counted separately (fallback_share), from the predictions' confidence.
    fallback = next((c for c in ours["pipeline"] if c["name"] == "FallbackClassifier"), None)
    ours["pipeline"] = [c for c in ours["pipeline"] if c["name"] != "FallbackClassifier"]
    FALLBACK_THRESHOLD[0] = float(fallback.get("threshold", 0.3)) if fallback else 0.0
    default = json.loads(json.dumps(ours))
    default["pipeline"][0] = {"name": "WhitespaceTokenizer"}
    configs = {}
    for name, config in (("underthesea (ours)", ours), ("WhitespaceTokenizer (Rasa default)", default)):
        path = workdir / f"config-{len(configs)}.yml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
        configs[name] = path
    return configs


def evaluate(name: str, config: Path, train_dir: Path, test_file: Path, workdir: Path) -> dict[str, Any]:
    slug = "ours" if "ours" in name else "default"
    models = workdir / f"models-{slug}"
    rasa = str(RASA_VENV / "bin" / "rasa")
    train_seconds = run_rasa(
        [rasa, "train", "nlu", "--config", str(config), "--nlu", str(train_dir), "--out", str(models),
         "--fixed-model-name", slug],
        workdir / f"train-{slug}.log",
    )  # fmt: skip
    results = workdir / f"results-{slug}"
    run_rasa(
        [rasa, "test", "nlu", "--model", str(models / f"{slug}.tar.gz"), "--nlu", str(test_file),
         "--out", str(results), "--no-plot", "--successes"],
        workdir / f"test-{slug}.log",
    )  # fmt: skip
    report = json.loads((results / "intent_report.json").read_text(encoding="utf-8"))
    per_intent = {
        intent: round(values["f1-score"], 3)
        for intent, values in report.items()
        if isinstance(values, dict) and "f1-score" in values and intent not in {"macro avg", "weighted avg"}
    }
    predictions = []
    for file_name in ("intent_successes.json", "intent_errors.json"):
        path = results / file_name
        if path.is_file():
            predictions += json.loads(path.read_text(encoding="utf-8"))
    confidences = [float((p.get("intent_prediction") or {}).get("confidence") or 0.0) for p in predictions]
    below = sum(1 for c in confidences if c < FALLBACK_THRESHOLD[0])
    return {
        "pipeline": name,
        "fallback_share": round(below / len(confidences), 3) if confidences else None,
        "intent_macro_f1": round(report["macro avg"]["f1-score"], 4),
        "intent_accuracy": round(report.get("accuracy", 0.0), 4),
        "train_seconds": round(train_seconds, 1),
        "worst_intents": dict(sorted(per_intent.items(), key=lambda item: item[1])[:4]),
    }


def process_tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants, in MB (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    total_kb, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total_kb += int(line.split()[1])
        stack.extend(children.get(current, []))
    return total_kb / 1024


def measure_server(workdir: Path, sample_texts: list[str]) -> dict[str, Any]:
    """Start the trained assistant once: start time, memory and /model/parse latency."""
    if not DEFAULT_MODEL.is_file():
        return {"error": f"no trained model at {DEFAULT_MODEL} (run `make train`)"}
    previous = os.environ.get("TTHC_TRACKER_DB")
    os.environ["TTHC_TRACKER_DB"] = str(workdir / "tracker.db")
    try:
        endpoints = render_endpoints(workdir / "endpoints.yml")
    finally:
        if previous is None:
            os.environ.pop("TTHC_TRACKER_DB", None)
        else:
            os.environ["TTHC_TRACKER_DB"] = previous
    server = RasaServer(port=BENCH_PORT, endpoints=endpoints, log_file=workdir / "rasa.log")
    started = time.perf_counter()
    with server:
        if not server.wait_ready(timeout=300):
            return {"error": "Rasa did not become ready; see " + str(workdir / "rasa.log")}
        start_seconds = time.perf_counter() - started
        rss_idle = process_tree_rss_mb(server.pid or 0)
        latencies = []
        with httpx.Client(timeout=30) as client:
            for text in sample_texts[:5]:  # warm-up
                client.post(f"{server.url}/model/parse", json={"text": text})
            for text in sample_texts:
                t0 = time.perf_counter()
                client.post(f"{server.url}/model/parse", json={"text": text}).raise_for_status()
                latencies.append((time.perf_counter() - t0) * 1000)
        rss_after = process_tree_rss_mb(server.pid or 0)
    latencies.sort()
    return {
        "start_seconds": round(start_seconds, 1),
        "rss_mb_idle": round(rss_idle),
        "rss_mb_after_parsing": round(rss_after),
        "parse_ms_p50": round(statistics.median(latencies), 1),
        "parse_ms_p95": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
        "parsed": len(latencies),
    }


def held_out_texts(test_file: Path) -> list[str]:
    data = yaml.safe_load(test_file.read_text(encoding="utf-8"))
    texts = []
    for block in data.get("nlu", []):
        for line in str(block.get("examples", "")).splitlines():
            line = line.strip()
            if line.startswith("- "):
                texts.append(re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", line[2:]))  # drop entity markup
    return texts


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    results: dict[str, Any] = {"seed": SEED, "train_fraction": TRAIN_FRACTION}
    with tempfile.TemporaryDirectory(prefix="tthc-nlu-bench-") as tmp:
        workdir = Path(tmp)
        train_dir, test_file, n_train, n_test = split(workdir)
        results["examples"] = {"train": n_train, "held_out": n_test}
        print(f"Held-out split of training_data/nlu.yml: {n_train} train / {n_test} test (seed {SEED})")
        rows = []
        for name, config in pipeline_configs(workdir).items():
            log.info("training and testing the %s pipeline", name)
            rows.append(evaluate(name, config, train_dir, test_file, workdir))
        results["pipelines"] = rows
        server = measure_server(workdir, held_out_texts(test_file))
        results["rasa_server"] = server

    print()
    print("| pipeline | intent macro-F1 | accuracy | < fallback threshold | train (s) | weakest intents |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        weakest = ", ".join(f"{k} {v}" for k, v in row["worst_intents"].items())
        print(
            f"| {row['pipeline']} | {row['intent_macro_f1']:.3f} | {row['intent_accuracy']:.3f} "
            f"| {row['fallback_share']} | {row['train_seconds']:.0f} | {weakest} |"
        )
    ours = rows[0]["intent_macro_f1"]
    verdict = "meets" if ours >= TARGET_MACRO_F1 else "BELOW"
    print(f"\nOur pipeline {verdict} the target macro-F1 ≥ {TARGET_MACRO_F1} ({ours:.3f}).")
    print()
    if "error" in server:
        print(f"Rasa server: {server['error']}")
    else:
        print("| Rasa server (trained assistant) | value |")
        print("|---|---|")
        print(f"| start until model loaded | {server['start_seconds']} s |")
        memory = f"{server['rss_mb_idle']} / {server['rss_mb_after_parsing']} MB"
        print(f"| memory (RSS) idle / after parsing | {memory} |")
        print(f"| /model/parse p50 / p95 ({server['parsed']} texts) | "
              f"{server['parse_ms_p50']} / {server['parse_ms_p95']} ms |")  # fmt: skip
    OUT_FILE.parent.mkdir(parents=True, exist_ok=True)
    OUT_FILE.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    main()
