"""Search benchmark: one user with 1,000 recordings of 30 minutes (~5 million words).

Generates meeting-like transcripts (a Zipf-distributed vocabulary of common English
meeting words and rarer made-up words: names, products, codes), writes their rows
straight into a fresh database migrated to the newest schema (recordings, transcripts,
segments and the search documents built by the core, so the engines' triggers index
them), plus a few other users' recordings, then measures the search use case the API
runs (``SearchRecordings`` on the API's read-only unit of work) for many queries:
single rare, medium and common words, two-word AND queries, quoted phrases taken from
the text, and queries with speaker, date and status filters. Reports p50/p99/max per
database, the documents indexed and the index's size on disk, and writes the
``search`` section of docs/benchmarks.md.

    python bench/search.py [--recordings 1000] [--minutes 30] [--queries 400]
                           [--sqlite-only | --postgres-only] [--no-write]

PostgreSQL is the local server (``ELYUNE_BENCH_PG``, default
postgresql+asyncpg://postgres@127.0.0.1:5432/postgres); a database is made and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import _report
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import create_async_engine

from elyune_adapters.settings import DatabaseSettings
from elyune_adapters.sql import tables as t
from elyune_adapters.sql.engine import create_engine, upgrade
from elyune_adapters.sql.reader import create_sqlite_reader
from elyune_adapters.sql.search import document_row
from elyune_adapters.sql.unit_of_work import SqlReadUnitOfWork, SqlUnitOfWork
from elyune_core._search import build_documents
from elyune_core.entities import RecordingStatus, Segment
from elyune_core.ids import RecordingId, UserId
from elyune_core.use_cases import SearchInput, SearchRecordings

COMMON = [
    "the",
    "and",
    "to",
    "of",
    "a",
    "we",
    "that",
    "is",
    "it",
    "i",
    "you",
    "in",
    "for",
    "this",
    "on",
    "so",
    "be",
    "have",
    "with",
    "are",
    "just",
    "think",
    "going",
    "know",
    "like",
    "what",
    "can",
    "do",
    "not",
    "will",
    "yeah",
    "about",
    "if",
    "at",
    "they",
    "but",
    "one",
    "there",
    "right",
    "all",
    "get",
    "was",
    "okay",
    "our",
    "need",
    "from",
    "want",
    "would",
    "as",
    "make",
    "see",
    "time",
    "now",
    "out",
    "people",
    "good",
    "week",
    "then",
    "also",
    "maybe",
    "more",
    "team",
    "work",
    "really",
    "next",
    "how",
    "sure",
    "when",
    "some",
    "back",
    "because",
    "should",
    "could",
    "well",
    "let",
    "first",
    "up",
    "by",
    "other",
    "new",
    "any",
    "meeting",
    "project",
    "review",
    "customer",
    "release",
    "plan",
    "data",
    "issue",
    "update",
    "question",
    "point",
    "number",
    "last",
    "thing",
    "idea",
    "test",
    "build",
    "deploy",
    "server",
    "design",
    "budget",
    "report",
    "quarter",
    "sales",
    "product",
    "feature",
    "deadline",
    "schedule",
    "support",
    "contract",
    "account",
    "partner",
    "launch",
    "roadmap",
    "priority",
    "risk",
    "backup",
    "window",
    "storage",
    "network",
    "security",
    "migration",
    "database",
    "cluster",
    "latency",
    "dashboard",
    "metric",
    "invoice",
    "hiring",
    "onboarding",
    "training",
    "office",
    "travel",
    "marketing",
    "campaign",
    "pricing",
    "discount",
    "renewal",
    "vendor",
    "legal",
    "compliance",
    "audit",
    "incident",
    "outage",
]
SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ne",
    "ra",
    "tu",
    "vo",
    "shi",
    "zen",
    "par",
    "mor",
    "tel",
    "qua",
    "bri",
    "dex",
    "fin",
    "gor",
    "hul",
    "jin",
]


def vocabulary(rng: random.Random, size: int = 20_000) -> list[str]:
    words = list(dict.fromkeys(COMMON))
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def zipf_weights(n: int, s: float = 1.07) -> list[float]:
    return [1.0 / (rank**s) for rank in range(1, n + 1)]


class Generator:
    """Segments of about 10 seconds, 15 to 40 words, 2 to 5 speakers a meeting."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.words = vocabulary(self.rng)
        self.cum = list(_accumulate(zipf_weights(len(self.words))))

    def sentence(self, n: int) -> str:
        picks = self.rng.choices(self.words, cum_weights=self.cum, k=n)
        return " ".join(picks).capitalize() + "."

    def segments(self, minutes: float) -> list[Segment]:
        out: list[Segment] = []
        at = 0.0
        speakers = self.rng.randint(2, 5)
        while at < minutes * 60:
            n = self.rng.randint(15, 40)
            length = n / 2.8
            out.append(
                Segment(
                    id=len(out),
                    start=round(at, 2),
                    end=round(at + length, 2),
                    text=self.sentence(n),
                    speaker=str(self.rng.randrange(speakers)),
                )
            )
            at += length + self.rng.uniform(0.2, 1.5)
        return out


def _accumulate(values: list[float]) -> list[float]:
    total = 0.0
    out = []
    for v in values:
        total += v
        out.append(total)
    return out


NOW = datetime(2026, 6, 1, tzinfo=UTC)


async def seed(url: str, recordings: int, minutes: float, others: int) -> dict[str, object]:
    engine = create_engine(DatabaseSettings(url=url))
    await upgrade(engine)
    gen = Generator()
    owner = UserId("bench-user")
    words = 0
    docs_total = 0
    samples: list[str] = []
    started = time.perf_counter()
    users = [owner] + [UserId(f"other-{n}") for n in range(others)]
    async with engine.begin() as conn:
        for user in users:
            await conn.execute(
                insert(t.users).values(
                    id=user, username=user, password_hash="x", is_active=True, created_at=NOW
                )
            )
    plan = [(owner, n) for n in range(recordings)] + [
        (user, n) for user in users[1:] for n in range(max(1, recordings // 50))
    ]
    batch: list[tuple[UserId, int]] = []
    for item in plan:
        batch.append(item)
        if len(batch) >= 20:
            words_, docs_, texts = await _write(engine, gen, batch, minutes)
            words += words_
            docs_total += docs_
            samples.extend(texts)
            batch = []
    if batch:
        words_, docs_, texts = await _write(engine, gen, batch, minutes)
        words += words_
        docs_total += docs_
        samples.extend(texts)
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            await conn.execute(text("COMMIT"))
            await conn.execute(text("VACUUM ANALYZE search_documents"))
            await conn.execute(text("VACUUM ANALYZE recordings"))
    else:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO search_fts(search_fts) VALUES ('optimize')"))
            await conn.execute(text("ANALYZE"))
    await engine.dispose()
    return {
        "words": words,
        "documents": docs_total,
        "seconds": time.perf_counter() - started,
        "samples": samples,
        "owner": owner,
        "gen": gen,
    }


async def _write(engine, gen: Generator, batch, minutes: float):
    words = 0
    docs_count = 0
    texts: list[str] = []
    async with engine.begin() as conn:
        for owner, n in batch:
            rid = RecordingId(f"{owner}-{n:05d}-{uuid.uuid4().hex[:6]}")
            created = NOW - timedelta(hours=n * 7)
            segments = gen.segments(minutes)
            names = {"0": gen.rng.choice(["Alice", "Bob", "Chen", "Dana", "Emeka", "Farah"])}
            await conn.execute(
                insert(t.recordings).values(
                    id=rid,
                    owner_id=owner,
                    title=f"Meeting {n}: {gen.sentence(4)[:-1]}",
                    description="",
                    filename="m.webm",
                    source_key=f"recordings/{owner}/{rid}/source.webm",
                    status=RecordingStatus.READY.value if n % 10 else RecordingStatus.FAILED.value,
                    file_size=1,
                    has_system_audio=False,
                    has_microphone=True,
                    language="en",
                    speaker_names=names,
                    created_at=created,
                    updated_at=created,
                )
            )
            await conn.execute(
                insert(t.transcripts).values(
                    recording_id=rid,
                    text="",
                    language="en",
                    engine="bench",
                    duration=segments[-1].end,
                    words=[],
                    created_at=created,
                )
            )
            await conn.execute(
                insert(t.transcript_segments),
                [
                    {
                        "recording_id": rid,
                        "idx": s.id,
                        "start": s.start,
                        "end": s.end,
                        "speaker": s.speaker,
                        "text": s.text,
                    }
                    for s in segments
                ],
            )
            docs = build_documents(
                recording_id=rid,
                owner_id=owner,
                title=f"Meeting {n}",
                description="",
                speaker_names=names,
                language="en",
                segments=segments,
                analyses=(),
            )
            await conn.execute(insert(t.search_documents), [document_row(d) for d in docs])
            if owner == "bench-user":
                words += sum(len(s.text.split()) for s in segments)
                docs_count += len(docs)
            if owner == "bench-user" and len(texts) < 200:
                texts.extend(s.text for s in gen.rng.sample(segments, 3))
    return words, docs_count, texts


def queries(gen: Generator, samples: list[str], count: int) -> list[tuple[str, str, dict]]:
    rng = random.Random(11)
    common = gen.words[:60]
    medium = gen.words[200:2000]
    rare = gen.words[5000:]
    out: list[tuple[str, str, dict]] = []
    kinds = ["rare", "medium", "common", "two", "phrase", "speaker", "date", "status"]
    for n in range(count):
        kind = kinds[n % len(kinds)]
        if kind == "rare":
            out.append((kind, rng.choice(rare), {}))
        elif kind == "medium":
            out.append((kind, rng.choice(medium), {}))
        elif kind == "common":
            out.append((kind, rng.choice(common[20:]), {}))
        elif kind == "two":
            out.append((kind, f"{rng.choice(medium)} {rng.choice(common[30:] + medium)}", {}))
        elif kind == "phrase":
            words = rng.choice(samples).rstrip(".").split()
            at = rng.randrange(max(1, len(words) - 2))
            out.append((kind, '"' + " ".join(words[at : at + 2]) + '"', {}))
        elif kind == "speaker":
            out.append((kind, rng.choice(medium), {"speaker": rng.choice(["Alice", "Dana"])}))
        elif kind == "date":
            out.append((kind, rng.choice(medium), {"created_after": NOW - timedelta(days=60)}))
        else:
            out.append((kind, rng.choice(medium), {"status": RecordingStatus.READY}))
    return out


async def measure(uow_factory, owner: UserId, plan) -> dict[str, object]:
    use_case = SearchRecordings(uow=uow_factory)
    for _, q, kw in plan[:20]:  # warm-up
        await use_case.execute(SearchInput(owner, q, **kw))
    times: list[float] = []
    by_kind: dict[str, list[float]] = {}
    hits = 0
    worst: list[tuple[float, str, str, int]] = []
    for kind, q, kw in plan:
        started = time.perf_counter()
        page = await use_case.execute(SearchInput(owner, q, **kw))
        elapsed = (time.perf_counter() - started) * 1000
        times.append(elapsed)
        by_kind.setdefault(kind, []).append(elapsed)
        worst.append((elapsed, q, ",".join(kw), page.total))
        hits += page.total > 0
    worst.sort(reverse=True)
    print("slowest:", [(round(w[0], 1), *w[1:]) for w in worst[:8]])
    return {
        "p50": _pct(times, 0.5),
        "p99": _pct(times, 0.99),
        "max": max(times),
        "with_hits": hits / len(plan),
        "kinds": {k: (_pct(v, 0.5), _pct(v, 0.99)) for k, v in by_kind.items()},
    }


async def rounds(count: int, run) -> dict[str, object]:
    """*count* measurements; each figure is the median over the rounds, and the load
    average around each round is kept."""
    results = []
    loads = []
    for _ in range(count):
        results.append(await run())
        loads.append(os.getloadavg()[0])
    merged: dict[str, object] = {
        key: _report.median([float(r[key]) for r in results])  # type: ignore[arg-type]
        for key in ("p50", "p99", "max", "with_hits")
    }
    merged["p99s"] = [float(r["p99"]) for r in results]  # type: ignore[arg-type]
    merged["loads"] = loads
    kinds = results[0]["kinds"]
    merged["kinds"] = {
        k: (
            _report.median([r["kinds"][k][0] for r in results]),  # type: ignore[index]
            _report.median([r["kinds"][k][1] for r in results]),  # type: ignore[index]
        )
        for k in kinds  # type: ignore[attr-defined]
    }
    return merged


def _pct(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


async def run_sqlite(args) -> dict[str, object]:
    folder = Path(tempfile.mkdtemp(prefix="elyune-search-"))
    path = folder / "db.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    seeded = await seed(url, args.recordings, args.minutes, args.others)
    settings = DatabaseSettings(url=url)
    reader = create_sqlite_reader(settings)
    try:
        plan = queries(seeded["gen"], seeded["samples"], args.queries)  # type: ignore[arg-type]
        result = await rounds(
            args.rounds,
            lambda: measure(lambda: SqlReadUnitOfWork(reader), seeded["owner"], plan),  # type: ignore[arg-type]
        )
        with reader.connect() as conn:
            try:
                fts = conn.exec_driver_sql(
                    "SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'search_fts%'"
                ).scalar()
                docs = conn.exec_driver_sql(
                    "SELECT sum(pgsize) FROM dbstat WHERE name LIKE '%search_documents%'"
                ).scalar()
            except Exception:
                fts = docs = None
    finally:
        reader.dispose()
    size = path.stat().st_size
    for extra in ("-wal", "-shm"):
        p = path.with_name(path.name + extra)
        if p.exists():
            p.unlink()
    path.unlink()
    folder.rmdir()
    return {**seeded, **result, "index_bytes": fts, "docs_bytes": docs, "db_bytes": size}


async def run_postgres(args) -> dict[str, object]:
    base = os.environ.get(
        "ELYUNE_BENCH_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    name = f"elyune_search_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + "/" + name
    try:
        seeded = await seed(url, args.recordings, args.minutes, args.others)
        reads = create_engine(DatabaseSettings(url=url), readonly=True)
        plan = queries(seeded["gen"], seeded["samples"], args.queries)  # type: ignore[arg-type]
        result = await rounds(
            args.rounds,
            lambda: measure(lambda: SqlUnitOfWork(reads), seeded["owner"], plan),  # type: ignore[arg-type]
        )
        async with reads.connect() as conn:
            gin = (
                await conn.execute(text("SELECT pg_relation_size('ix_search_documents_tsv')"))
            ).scalar()
            table = (
                await conn.execute(text("SELECT pg_total_relation_size('search_documents')"))
            ).scalar()
        await reads.dispose()
    finally:
        async with admin.connect() as conn:
            await conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        await admin.dispose()
    return {**seeded, **result, "index_bytes": gin, "docs_bytes": table}


def mb(value: object) -> str:
    return "n/a" if value is None else f"{int(value) / 1e6:.1f} MB"  # type: ignore[call-overload]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recordings", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--others", type=int, default=4, help="other users (recordings/50 each)")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--postgres-only", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per database")
    args = parser.parse_args()
    results: dict[str, dict[str, object]] = {}
    # the report's per-kind table uses these labels
    labels = {
        "rare": "rare word",
        "medium": "medium word",
        "common": "common word",
        "two": "two words",
        "phrase": "quoted phrase",
        "speaker": "+ speaker filter",
        "date": "+ date filter",
        "status": "+ status filter",
    }
    if not args.postgres_only:
        results["SQLite FTS5"] = await run_sqlite(args)
        print(
            "sqlite",
            {k: v for k, v in results["SQLite FTS5"].items() if k not in ("samples", "gen")},
        )
    if not args.sqlite_only:
        results["PostgreSQL tsvector + GIN"] = await run_postgres(args)
        print(
            "postgres",
            {
                k: v
                for k, v in results["PostgreSQL tsvector + GIN"].items()
                if k not in ("samples", "gen")
            },
        )
    if args.no_write:
        return
    first = next(iter(results.values()))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    loads = "; ".join(
        f"{name}: " + ", ".join(f"{x:.1f}" for x in r["loads"])  # type: ignore[attr-defined]
        for name, r in results.items()
    )
    lines = [
        "## Search (`bench/search.py`)",
        "",
        f"Machine: {_report.machine()}. One user with {args.recordings:,} recordings of "
        f"{args.minutes:g} minutes ({first['words']:,} words in "
        f"{first['documents']:,} indexed documents; {args.others} other users with "
        f"{max(1, args.recordings // 50)} recordings each beside them); {args.queries} "
        "queries through the search use case the API runs (rare, medium and common words, two-word queries, quoted phrases, "
        "speaker, date and status filters; each with its total count and the first page "
        f"of 20 with snippets), measured {args.rounds} times per database; each figure is "
        "the median of the rounds. Target: p99 < 50 ms on 2 cores. The machine's 1-minute "
        f"load average after each round (other work raises it): {loads}; at the end "
        f"{load}.",
        "",
        "| database | p50 | p99 | p99 of each round | max | queries with hits | "
        "engine index on disk | documents table (+ index) | seed time |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['p50']:.1f} ms | {r['p99']:.1f} ms | "
            + ", ".join(f"{x:.0f}" for x in r["p99s"])  # type: ignore[attr-defined]
            + f" ms | {r['max']:.1f} ms | "
            f"{float(r['with_hits']) * 100:.0f} % | {mb(r['index_bytes'])} | "
            f"{mb(r['docs_bytes'])} | {float(r['seconds']):.0f} s |"  # type: ignore[arg-type]
        )
    lines += ["", "p50 / p99 by kind of query:", ""]
    names = list(results)
    lines.append("| query | " + " | ".join(names) + " |")
    lines.append("|---|" + "---|" * len(names))
    for kind, label in labels.items():
        cells = []
        for name in names:
            p50, p99 = results[name]["kinds"].get(kind, (float("nan"), float("nan")))  # type: ignore[attr-defined]
            cells.append(f"{p50:.1f} / {p99:.1f} ms")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        "A query ranks at most the newest 1,000 matching documents (see docs/search.md). "
        "PostgreSQL drops English stop words (`the`, `and`), so fewer of its queries "
        "have hits. "
        "SQLite's engine index is the FTS5 shadow tables (`search_fts_*`, from `dbstat`); "
        "PostgreSQL's the GIN index `ix_search_documents_tsv`; the documents table holds "
        "the text once (FTS5 uses it as external content) and, on PostgreSQL, the "
        "`tsvector` column."
    )
    _report.write_section("search", "\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
