"""Action items of the local analyzer, measured on labelled meetings (issue 9).

Reads the meetings written by ``bench/action_items_data.py`` (``bench/data/``: a
development set the rules were tuned on, a test set that is only measured, a holdout set
measured once blind and then inspected, and a blind set measured once), runs the
analyzer as it was before issue 9 (``bench/_local_before.py``, a frozen copy) and the
current one on each, and rewrites the ``action-items`` section of docs/benchmarks.md:

* **precision**: listed items that are real items (a second listing of one item counts
  as wrong);
* **recall**: real items that were listed;
* **owner right**: of the items found, those whose owner is the right person (the
  speaker's name, ``Speaker <label>`` for an unnamed speaker, the name said, or none for
  a team task);
* **timestamp inside**: of the items found, those whose timestamp lies inside the
  sentence that says the item (from its first word's start to its last word's end);
* **bare labels**: owners that are a raw speaker label such as ``"0"``.

An item matches a listed one when the listed text is one of the sentences that say it
(a request and the reply that takes it, or a recap), or contains it.

``python bench/action_items.py [--show dev|test]``; ``--show`` prints every miss and
every wrong item of a set, for tuning on the development set.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "src"))

import _local_before  # noqa: E402
import _report  # noqa: E402

from elyune_adapters.analysis.local import LocalAnalyzer  # noqa: E402
from elyune_core.entities import ActionItem, ActionItems, AnalysisKind, Segment, Transcript, Word  # noqa: E402
from elyune_core.ids import RecordingId  # noqa: E402
from elyune_core.ports import AnalysisRequest  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
Engine = Callable[[AnalysisRequest], Sequence[ActionItem]]


def load(name: str) -> list[dict[str, Any]]:
    """The meetings of set *name* (``dev`` or ``test``), generated first if missing."""
    path = DATA / f"action_items_{name}.json"
    if not path.exists():
        subprocess.run(
            [sys.executable, str(Path(__file__).with_name("action_items_data.py"))], check=True
        )
    return list(json.loads(path.read_text()))


def transcript_of(meeting: Mapping[str, Any]) -> Transcript:
    segments = tuple(
        Segment(s["id"], s["start"], s["end"], s["text"], s["speaker"], 0.9)
        for s in meeting["segments"]
    )
    words = tuple(
        Word(spelled.strip(".,?!:;"), start, end, 0.9, s["speaker"], spelled)
        for s in meeting["segments"]
        for spelled, (start, end) in zip(s["text"].split(), s["words"], strict=True)
    )
    return Transcript(
        recording_id=RecordingId(meeting["id"]),
        text=" ".join(s.text for s in segments),
        language="en",
        segments=segments,
        words=words,
        engine="bench",
        created_at=datetime(2026, 1, 5, tzinfo=UTC),
        duration=segments[-1].end + 1.0 if segments else 0.0,
        speaker_count=len({s.speaker for s in segments}),
    )


def request_of(meeting: Mapping[str, Any]) -> AnalysisRequest:
    return AnalysisRequest(
        transcript=transcript_of(meeting),
        kinds=(AnalysisKind.ACTION_ITEMS,),
        speaker_names=dict(meeting["speaker_names"]),
    )


def engine(analyzer: Any) -> Engine:
    def run(request: AnalysisRequest) -> Sequence[ActionItem]:
        content = analyzer.analyze_now(request)[AnalysisKind.ACTION_ITEMS].content
        assert isinstance(content, ActionItems)
        return content.items

    return run


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[\w']+", text.casefold().replace("’", "'")))


def _matches(listed: ActionItem, gold: Mapping[str, Any]) -> dict[str, Any] | None:
    """The gold sentence that *listed* stands for, if any."""
    text = _norm(listed.text)
    for sentence in gold["sentences"]:
        said = _norm(sentence["text"])
        if said and (said == text or said in text):
            return dict(sentence)
    return None


def score(
    meetings: Sequence[Mapping[str, Any]], run: Engine, show: bool = False
) -> dict[str, float]:
    listed_total = found = owners_right = inside = bare = gold_total = 0
    seconds: list[float] = []
    for meeting in meetings:
        request = request_of(meeting)
        started = time.perf_counter()
        listed = list(run(request))
        seconds.append(time.perf_counter() - started)
        gold = list(meeting["items"])
        gold_total += len(gold)
        listed_total += len(listed)
        taken: set[int] = set()
        labels = set(meeting["people"])
        for item in listed:
            bare += item.owner in labels
            match = next(
                (
                    (number, sentence)
                    for number, g in enumerate(gold)
                    if number not in taken and (sentence := _matches(item, g)) is not None
                ),
                None,
            )
            if match is None:
                if show:
                    print(f"  {meeting['id']} WRONG  {item.text!r} owner={item.owner!r}")
                continue
            number, sentence = match
            taken.add(number)
            found += 1
            owner_ok = item.owner in gold[number]["owners"]
            owners_right += owner_ok
            time_ok = (
                item.timestamp is not None
                and sentence["start"] - 0.01 <= item.timestamp <= sentence["end"] + 0.01
            )
            inside += time_ok
            if show and not owner_ok:
                print(
                    f"  {meeting['id']} OWNER  {item.text!r} owner={item.owner!r} "
                    f"want {gold[number]['owners']}"
                )
            if show and not time_ok:
                print(f"  {meeting['id']} TIME   {item.text!r} at {item.timestamp} {sentence}")
        if show:
            for number, g in enumerate(gold):
                if number not in taken:
                    print(f"  {meeting['id']} MISSED {[s['text'] for s in g['sentences']]}")
    return {
        "meetings": len(meetings),
        "items": gold_total,
        "listed": listed_total,
        "precision": found / listed_total if listed_total else 1.0,
        "recall": found / gold_total if gold_total else 1.0,
        "owner": owners_right / found if found else 0.0,
        "inside": inside / found if found else 0.0,
        "bare": bare,
        "ms": _report.median(seconds) * 1000,
    }


def _row(name: str, label: str, figures: Mapping[str, float]) -> str:
    return (
        f"| {name} | {label} | {figures['meetings']:.0f} | {figures['items']:.0f} | "
        f"{figures['listed']:.0f} | {figures['precision']:.3f} | {figures['recall']:.3f} | "
        f"{figures['owner']:.3f} | {figures['inside']:.3f} | {figures['bare']:.0f} | "
        f"{figures['ms']:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--show", choices=("dev", "test", "holdout"), help="print the misses of a set"
    )
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    args = parser.parse_args()
    sets = {name: load(name) for name in ("dev", "test", "holdout", "blind")}
    engines = {
        "before (6a40648)": engine(_local_before.LocalAnalyzer()),
        "now": engine(LocalAnalyzer()),
    }
    if args.show:
        print(f"{args.show}, now:")
        score(sets[args.show], engines["now"], show=True)
    rows = []
    results: dict[tuple[str, str], dict[str, float]] = {}
    for set_name, meetings in sets.items():
        for label, run in engines.items():
            results[(set_name, label)] = figures = score(meetings, run)
            rows.append(_row(set_name, label, figures))
            print(rows[-1])
    if args.no_write:
        return
    load_note = (
        Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    )

    def verdict(set_name: str) -> str:
        now = results[(set_name, "now")]
        return ", ".join(
            f"{name} {'met' if ok else 'NOT met'}"
            for name, ok in (
                ("recall >= 0.9", now["recall"] >= 0.9),
                ("precision >= 0.8", now["precision"] >= 0.8),
                ("owner right >= 0.9", now["owner"] >= 0.9),
                ("timestamp inside the sentence", now["inside"] >= 0.999),
            )
        )

    body = "\n".join(
        [
            "## Action items (local analyzer)",
            "",
            f"Machine: {_report.machine()}; load average {load_note} (other agents were using "
            "the machine; the timings are one pass and only indicative). "
            "`python bench/action_items.py`.",
            "",
            "Meetings from `bench/action_items_data.py`: 2-5 speakers, some named, with "
            "commitments, assignments, requests taken by a reply, team tasks and recaps among "
            "chatter, questions, past tense, negations, agenda talk, hypotheticals and "
            "opinions. Four template pools, each with its own names, tasks and phrasings, "
            "all written by the same person who wrote the rules:",
            "",
            "- **dev**: the rules were tuned on it (so its figures say little);",
            "- **test**: only measured, its errors never read (a first draw gave precision "
            "0.890, recall 0.896, owner 0.961 before the last two rounds of rules; the "
            "generator's change re-drew it from the same templates);",
            "- **holdout**: written after tuning, measured once blind (precision 0.689, "
            "recall 0.762, owner 0.878), then its errors were read and the failure classes "
            "fixed in general form, so its current figures are optimistic;",
            "- **blind**: written last, measured once, errors not read: the fairest estimate "
            "of unseen phrasing.",
            "",
            "Each set holds 36 meetings since 2026-12-03 (24 before; the issue asks for at "
            "least 30): the first 24 are the same meetings, drawn in turn from the set's "
            "seeded generator, the 12 after them new draws from the same templates, "
            "measured without reading their errors.",
            "",
            "The old analyzer is `bench/_local_before.py`, a frozen copy of commit 6a40648.",
            "",
            "| set | analyzer | meetings | items | listed | precision | recall | owner right "
            "| timestamp inside | bare-label owners | median ms / meeting |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"Targets on the test set (now): {verdict('test')}. "
            f"On the blind set: {verdict('blind')}.",
            "",
            "The words' times are exact in these text-level meetings, so *timestamp inside* "
            "measures how sentences are cut and which sentence an item is timed at (a reply "
            "is timed at the request it takes), not speech-engine timing errors; the old "
            "analyzer already timed items at their sentence.",
        ]
    )
    _report.write_section("action-items", body)


if __name__ == "__main__":
    main()
