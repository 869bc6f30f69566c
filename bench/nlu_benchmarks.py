"""Run `aftersales nlu evaluate --json` on public intent benchmarks converted to Rasa YAML.

    python bench/nlu_benchmarks.py --datasets PATH [--only clinc150 smp2017 ...] [--out results.md]
    python bench/nlu_benchmarks.py --latency

PATH is the folder holding the public datasets (not part of the repository; see
bench/datasets_to_rasa.py). `--latency` needs no datasets.

Each dataset is converted by bench/datasets_to_rasa.py into a temporary folder and evaluated with
exactly the command users run; the wall time covers training and scoring. Prints a markdown table
(also written to --out) and the raw JSON lines. `--latency` instead times `Interpreter.parse` of
single messages (the held-out domain test texts) on the bundled after-sales model.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets_to_rasa import CONVERTERS, DATASETS_HELP, check_datasets, convert  # noqa: E402

HELD_OUT = Path(__file__).resolve().parents[1] / "tests" / "bot" / "data" / "nlu_test.yml"
DEFAULT_DATASETS = ["clinc150", "banking77", "hwu64", "smp2017", "smp2019"]


def run(name: str, work: Path, root: Path) -> dict:
    """The evaluate JSON of one dataset plus its wall time."""
    train, test = convert(name, work, root)
    started = time.perf_counter()
    completed = subprocess.run(
        ["aftersales", "nlu", "evaluate", "--train", str(train), "--test", str(test), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"{name}: evaluate failed:\n{completed.stderr}")
    result = json.loads(completed.stdout)
    result["dataset"] = name
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    return result


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def table(results: list[dict]) -> str:
    """A markdown table of the results."""
    lines = [
        "| dataset | n_test | intent acc | macro-F1 | in-scope acc | OOS recall | threshold "
        "| train s | eval wall s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r['dataset']} | {r['n_test']} | {_pct(r['intent_accuracy'])} "
            f"| {_pct(r['macro_f1'])} | {_pct(r['in_scope_accuracy'])} | {_pct(r['oos_recall'])} "
            f"| {r['threshold']:.2f} | {r['seconds']['train']:.0f} | {r['wall_seconds']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def parse_latency() -> str:
    """p50/p95 milliseconds of one `parse` call on the bundled model, over the held-out texts."""
    import statistics

    from bot.nlu import DEFAULT_DATA, load_training_data, train

    texts = [m.text for m in load_training_data(HELD_OUT).messages]
    interpreter = train(load_training_data(DEFAULT_DATA))
    interpreter.parse("warm up")
    timings = []
    for text in texts:
        started = time.perf_counter()
        interpreter.parse(text)
        timings.append(1000 * (time.perf_counter() - started))
    cuts = statistics.quantiles(timings, n=20)
    return f"parse latency over {len(texts)} messages: p50 {cuts[9]:.1f} ms, p95 {cuts[18]:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, metavar="PATH", help=DATASETS_HELP)
    parser.add_argument(
        "--only",
        nargs="+",
        default=DEFAULT_DATASETS,
        choices=list(CONVERTERS),
        metavar="NAME",
        help=f"evaluate only these (default: {' '.join(DEFAULT_DATASETS)})",
    )
    parser.add_argument("--out", type=Path, help="write the markdown table here")
    parser.add_argument("--latency", action="store_true", help="time parse() instead")
    args = parser.parse_args()
    if args.latency:
        print(parse_latency())
        return
    root = check_datasets(parser, args.datasets, args.only)
    results = []
    with tempfile.TemporaryDirectory() as work:
        for name in args.only:
            results.append(run(name, Path(work), root))
            print(json.dumps(results[-1]), flush=True)
    markdown = table(results)
    print(markdown)
    if args.out:
        args.out.write_text(markdown, encoding="utf-8")


if __name__ == "__main__":
    main()
