"""Convert public intent benchmarks to Rasa NLU YAML train/test pairs.

    python bench/datasets_to_rasa.py OUT_DIR --datasets PATH [--only clinc150 banking77 ...]

PATH is the folder holding the public datasets (`clinc150/`, `banking77/`, `hwu64/`,
`smp2017_ecdt_task1/`, `smp2019_ecdt_task1/`, as each is published); they are not part of the
repository. Writes OUT_DIR/<dataset>/train.yml and test.yml. CLINC150's `oos` becomes
`out_of_scope` (a training class, and the label oos recall is measured on). SMP2019 has no public
test labels: a stratified 20% held-out split with a fixed seed stands in (not comparable with the
leaderboard). `clinc150-val` trains on train and tests on the validation split, for tuning.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from collections.abc import Callable
from pathlib import Path

from sklearn.model_selection import train_test_split

from bot.nlu.classifiers import OUT_OF_SCOPE
from bot.nlu.training_data import Message, dump_yaml

Split = list[Message]


def _clinc(root: Path, test_split: str) -> tuple[Split, Split]:
    data = json.loads((root / "clinc150" / "data_full.json").read_text(encoding="utf-8"))

    def messages(*splits: str) -> Split:
        return [
            Message(text, OUT_OF_SCOPE if label == "oos" else label)
            for split in splits
            for text, label in data[split]
        ]

    return messages("train", "oos_train"), messages(test_split, f"oos_{test_split}")


def clinc150(root: Path) -> tuple[Split, Split]:
    """CLINC150 Full: train + oos_train / test + oos_test."""
    return _clinc(root, "test")


def clinc150_val(root: Path) -> tuple[Split, Split]:
    """CLINC150 Full: train + oos_train / val + oos_val (for tuning)."""
    return _clinc(root, "val")


def banking77(root: Path) -> tuple[Split, Split]:
    """BANKING77: the official train/test CSVs."""

    def read(name: str) -> Split:
        with (root / "banking77" / name).open(encoding="utf-8", newline="") as handle:
            return [Message(row["text"], row["category"]) for row in csv.DictReader(handle)]

    return read("train.csv"), read("test.csv")


_HWU_ENTITY = re.compile(r"\[\s*([^:\]]+?)\s*:\s*([^\]]+?)\s*\]")


def _hwu_message(row: dict[str, str]) -> Message:
    """A HWU row with its inline `[type : value]` annotations as entity spans."""
    annotated, text, entities, cursor = row["answer_annotation"], "", [], 0
    for match in _HWU_ENTITY.finditer(annotated):
        text += annotated[cursor : match.start()]
        value = match.group(2)
        entities.append(
            {
                "entity": match.group(1),
                "value": value,
                "start": len(text),
                "end": len(text) + len(value),
            }
        )
        text += value
        cursor = match.end()
    text += annotated[cursor:]
    return Message(text, f"{row['scenario']}_{row['intent']}", entities)


def hwu64(root: Path) -> tuple[Split, Split]:
    """HWU64 KFold_1: one CSV per intent in trainset/ and testset/."""

    def read(folder: str) -> Split:
        messages = []
        for file in sorted((root / "hwu64" / "KFold_1" / folder).glob("*.csv")):
            with file.open(encoding="utf-8", newline="") as handle:
                messages += [_hwu_message(row) for row in csv.DictReader(handle, delimiter=";")]
        return messages

    return read("trainset"), read("testset")


def smp2017(root: Path) -> tuple[Split, Split]:
    """SMP2017-ECDT task 1: train.tsv / test.tsv (31 domains incl. chit-chat)."""

    def read(name: str) -> Split:
        with (root / "smp2017_ecdt_task1" / name).open(encoding="utf-8", newline="") as handle:
            return [Message(r["text"], r["label"]) for r in csv.DictReader(handle, delimiter="\t")]

    return read("train.tsv"), read("test.tsv")


def smp2019(root: Path, seed: int = 0) -> tuple[Split, Split]:
    """SMP2019-ECDT task 1, label domain.intent; a stratified 80/20 split (seed 0)."""
    rows = json.loads((root / "smp2019_ecdt_task1" / "train.json").read_text(encoding="utf-8"))
    messages = [Message(r["text"], f"{r['domain']}.{r['intent']}") for r in rows]
    counts: dict[str, int] = {}
    for m in messages:
        counts[m.intent] = counts.get(m.intent, 0) + 1
    splittable = [m for m in messages if counts[m.intent] >= 5]
    train, test = train_test_split(
        splittable, test_size=0.2, random_state=seed, stratify=[m.intent for m in splittable]
    )
    rare = [m for m in messages if counts[m.intent] < 5]
    return [*train, *rare], test


CONVERTERS: dict[str, Callable[[Path], tuple[Split, Split]]] = {
    "clinc150": clinc150,
    "clinc150-val": clinc150_val,
    "banking77": banking77,
    "hwu64": hwu64,
    "smp2017": smp2017,
    "smp2019": smp2019,
}
# The folder each converter reads below the datasets folder.
FOLDERS = {
    "clinc150": "clinc150",
    "clinc150-val": "clinc150",
    "banking77": "banking77",
    "hwu64": "hwu64",
    "smp2017": "smp2017_ecdt_task1",
    "smp2019": "smp2019_ecdt_task1",
}
DATASETS_HELP = (
    "the folder holding the public datasets (clinc150/, banking77/, hwu64/, smp2017_ecdt_task1/, "
    "smp2019_ecdt_task1/); not part of the repository"
)


def check_datasets(parser: argparse.ArgumentParser, root: Path | None, names: list[str]) -> Path:
    """The datasets folder, or exit with a message saying what is missing."""
    if root is None:
        parser.error(
            "--datasets PATH is required: the folder holding the public datasets "
            f"({', '.join(sorted(set(FOLDERS.values())))}). They are not in the repository; "
            "see docs/benchmarks/nlu.md."
        )
    if not root.is_dir():
        parser.error(f"--datasets {root}: no such folder")
    missing = sorted({FOLDERS[name] for name in names if not (root / FOLDERS[name]).is_dir()})
    if missing:
        parser.error(f"--datasets {root}: missing {', '.join(f'{m}/' for m in missing)}")
    return root


def convert(name: str, out_dir: Path, root: Path) -> tuple[Path, Path]:
    """Write <out_dir>/<name>/{train,test}.yml; returns their paths."""
    train, test = CONVERTERS[name](root)
    folder = out_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "train.yml", folder / "test.yml"
    for path, messages in zip(paths, (train, test), strict=True):
        path.write_text(dump_yaml(m for m in messages if m.text.strip()), encoding="utf-8")
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--datasets", type=Path, metavar="PATH", help=DATASETS_HELP)
    parser.add_argument(
        "--only",
        nargs="+",
        default=list(CONVERTERS),
        choices=list(CONVERTERS),
        metavar="NAME",
        help=f"convert only these ({', '.join(CONVERTERS)}; default: all)",
    )
    args = parser.parse_args()
    root = check_datasets(parser, args.datasets, args.only)
    for name in args.only:
        train, test = convert(name, args.out_dir, root)
        print(f"{name}: {train} {test}")


if __name__ == "__main__":
    main()
