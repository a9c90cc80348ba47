"""Try clustering settings on cached embeddings of the development sets (fast).

Embedding a set's audio is what takes time; clustering it again with other settings takes
well under a second per case. This script embeds each case of the sets named once (the
``Embedded`` is kept beside its WAV as ``<name>.embedded.json``, in the voice-data format
the live path stores) and then scores each setting given as ``NAME=VALUE`` overrides of
``ClusterParams``: mean DER and speaker count right per set, and the cases it gets wrong.
Only development sets are accepted (``dev``, ``dev2``, ``val``): the test set is measured
by ``bench/speakers.py`` alone, never tuned on::

    python bench/speaker_lab.py --sets dev,dev2,val count_by=ward count_by=spectral
    python bench/speaker_lab.py --sets val "count_by=spectral threshold=0.08"

Each positional argument is one setting (space-separated overrides); none means the
defaults.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import attrs
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "src"))

from bench.der import der  # noqa: E402
from bench.speaker_sets import DEFAULT_WORKDIR, ensure_set  # noqa: E402
from bench.speakers import audible  # noqa: E402

DEVELOPMENT_SETS = ("dev", "dev2", "val")


def embedded_case(wav: Path, encoder: Any) -> Any:
    """The case's ``Embedded``, from its cache or computed (and cached)."""
    from elyune_adapters.asr import diarize

    cache = wav.with_suffix(".embedded.json")
    if cache.exists():
        return diarize.embedded_from_json([json.loads(cache.read_text())])
    embedded = diarize.embed_speech(wav, diarize.speech_stretches(wav), encoder)
    cache.write_text(json.dumps(diarize.embedded_to_json(embedded)))
    return diarize.embedded_from_json([diarize.embedded_to_json(embedded)])


def parse_setting(text: str) -> dict[str, Any]:
    """``"a=1 b=ward"`` as overrides of ``ClusterParams`` (typed by the defaults)."""
    from elyune_adapters.asr.clustering import ClusterParams

    defaults = ClusterParams()
    result: dict[str, Any] = {}
    for item in text.split():
        name, _, value = item.partition("=")
        current = getattr(defaults, name)
        if isinstance(current, bool):
            result[name] = value.lower() in ("1", "true", "yes")
        elif isinstance(current, (int, float)) and not isinstance(current, bool):
            result[name] = type(current)(float(value)) if isinstance(current, int) else float(value)
        else:
            result[name] = value
    return result


def score(cases: list[tuple[str, dict[str, Any], Any]], params: Any) -> dict[str, Any]:
    from elyune_adapters.asr.diarize import assign_speakers, place_cuts, turns_of

    ders, right, wrong = [], 0, []
    for name, reference, embedded in cases:
        labels = assign_speakers(embedded, params=params)
        turns = turns_of(place_cuts(embedded, labels.tolist()), labels.tolist())
        truth = [(str(s), float(a), float(b)) for s, a, b in reference["turns"]]
        value = der(truth, [(str(t.speaker), t.start, t.end) for t in turns])
        ders.append(value)
        found, expected = len(set(labels.tolist())), audible(reference)
        right += found == expected
        if found != expected or value > 0.10:
            wrong.append(f"{name}: {found}/{expected} DER {value:.3f}")
    return {"der": float(np.mean(ders)), "right": right, "cases": len(cases), "wrong": wrong}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("settings", nargs="*", default=[""])
    parser.add_argument("--sets", default="dev,dev2,val")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--verbose", action="store_true", help="list the cases it gets wrong")
    parser.add_argument(
        "--reliable", type=float, help="seconds a unit needs to be clustered (diarize.RELIABLE)"
    )
    args = parser.parse_args()
    names = [name for name in args.sets.split(",") if name]
    refused = [name for name in names if name not in DEVELOPMENT_SETS]
    if refused:
        parser.error(f"only development sets ({', '.join(DEVELOPMENT_SETS)}): not {refused}")
    from elyune_adapters.asr import diarize
    from elyune_adapters.asr.clustering import ClusterParams
    from elyune_adapters.asr.voice_encoder import VoiceEncoder

    if args.reliable is not None:
        diarize.RELIABLE = args.reliable
    encoder = VoiceEncoder(threads=args.threads)
    sets = {}
    for which in names:
        sets[which] = [
            (
                wav.stem,
                json.loads(wav.with_suffix(".json").read_text()),
                embedded_case(wav, encoder),
            )
            for wav in ensure_set(which, args.workdir)
        ]
    for setting in args.settings:
        params = attrs.evolve(ClusterParams(), **parse_setting(setting))
        parts = []
        for which, cases in sets.items():
            result = score(cases, params)
            parts.append(
                f"{which} DER {result['der']:.3f} count {result['right']}/{result['cases']}"
            )
            if args.verbose:
                parts.extend(f"    {line}" for line in result["wrong"])
        print(f"[{setting or 'defaults'}] " + "; ".join(p for p in parts if not p.startswith(" ")))
        for line in parts:
            if line.startswith(" "):
                print(line)


if __name__ == "__main__":
    main()
