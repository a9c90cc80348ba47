"""The search index on the databases' own full-text engines.

**SQLite** (embedded): an FTS5 table ``search_fts`` over ``search_documents.text``
(external content: the text is stored once, in ``search_documents``; triggers keep the
FTS index in step). Its tokenizer is ``porter unicode61 remove_diacritics 2``: unicode61
splits on anything that is not a letter or digit in any script, folds case and removes
diacritics (``é`` matches ``e``); porter then stems English words (``decided`` matches
``decide``, ``windows`` ``window``). Other languages are tokenised and case-folded the
same way but get no stemming of their own (porter's English suffix rules apply to both
the text and the query, so they still match their exact forms). Ranked by ``bm25``.

**PostgreSQL** (production): a ``tsv tsvector`` column filled by a trigger with
``to_tsvector(config, text)``, where ``config`` is the text search configuration of the
transcript's language (``english``, ``german``, ``french``... ``simple`` when the
language is unknown or has none), and a GIN index on it. A query is made with each
configuration the owner's recordings use and those are OR-ed, so every document is
matched with its own language's stemming and the GIN index still serves the query.
Ranked by ``ts_rank``; snippets by ``ts_headline``.

Snippets come back with the matched words between ``MARK_START``/``MARK_END`` (control
characters the indexed text never holds), turned into offsets by the core.

**Candidates.** A query ranks at most the newest ``MAX_CANDIDATES`` matching documents
(by document id). In ``any`` mode (retrieval for answers) with more than one term the
candidates are taken per term (the newest ``MAX_CANDIDATES`` documents matching each),
so a rare word's documents are all ranked however common another word of the question
is; they are ordered by how many of those per-term lists hold them (the terms they
match, counting a term's newest ``MAX_CANDIDATES`` matches only), then by the engine's
rank.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from elyune_adapters.sql import tables as t
from elyune_adapters.sql.columns import content_from_column
from elyune_adapters.sql.reader import SyncReader
from elyune_core import (
    DocumentKind,
    SearchDocument,
    SearchHit,
    SearchQuery,
    Snippet,
    build_documents,
)
from elyune_core.entities import (
    Analysis,
    AnalysisKind,
    AnalysisStatus,
    RecordingStatus,
    Segment,
)
from elyune_core.ids import RecordingId, UserId
from elyune_core.ports import Page, SearchIndex

#: Transcript language (ISO 639-1) -> PostgreSQL text search configuration.
PG_CONFIGS = {
    "ar": "arabic",
    "ca": "catalan",
    "da": "danish",
    "de": "german",
    "el": "greek",
    "en": "english",
    "es": "spanish",
    "eu": "basque",
    "fi": "finnish",
    "fr": "french",
    "ga": "irish",
    "hi": "hindi",
    "hu": "hungarian",
    "hy": "armenian",
    "id": "indonesian",
    "it": "italian",
    "lt": "lithuanian",
    "nb": "norwegian",
    "ne": "nepali",
    "nl": "dutch",
    "nn": "norwegian",
    "no": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sr": "serbian",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
    "yi": "yiddish",
}
SIMPLE = "simple"
_KNOWN_CONFIGS = frozenset(PG_CONFIGS.values()) | {SIMPLE}
#: A query ranks at most this many matching documents, the newest ones (a word said in
#: half of a library's segments would otherwise rank them all): ``count`` stops there.
#: In ``any`` mode the cap applies per term (see the module docstring).
MAX_CANDIDATES = 1000
#: How many words a snippet shows around the match.
SNIPPET_WORDS = 24

SQLITE_DDL = (
    "CREATE VIRTUAL TABLE search_fts USING fts5(text, content='search_documents', "
    "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER search_documents_ai AFTER INSERT ON search_documents BEGIN "
    "INSERT INTO search_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER search_documents_ad AFTER DELETE ON search_documents BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER search_documents_au AFTER UPDATE ON search_documents BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO search_fts(rowid, text) VALUES (new.id, new.text); END",
)
SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS search_documents_au",
    "DROP TRIGGER IF EXISTS search_documents_ad",
    "DROP TRIGGER IF EXISTS search_documents_ai",
    "DROP TABLE IF EXISTS search_fts",
)
POSTGRES_DDL = (
    "ALTER TABLE search_documents ADD COLUMN tsv tsvector",
    "CREATE FUNCTION search_documents_tsv() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN NEW.tsv := to_tsvector(NEW.config::regconfig, NEW.text); RETURN NEW; END $$",
    "CREATE TRIGGER search_documents_tsv BEFORE INSERT OR UPDATE OF text, config "
    "ON search_documents FOR EACH ROW EXECUTE FUNCTION search_documents_tsv()",
    "CREATE INDEX ix_search_documents_tsv ON search_documents USING gin (tsv)",
)
POSTGRES_DROP = (
    "DROP TRIGGER IF EXISTS search_documents_tsv ON search_documents",
    "DROP FUNCTION IF EXISTS search_documents_tsv()",
)


def config_for(language: str | None) -> str:
    """The PostgreSQL text search configuration for a transcript *language*."""
    if not language:
        return SIMPLE
    return PG_CONFIGS.get(language.split("-")[0].split("_")[0].lower(), SIMPLE)


def document_row(doc: SearchDocument) -> dict[str, Any]:
    """The ``search_documents`` row of *doc*."""
    return {
        "recording_id": doc.recording_id,
        "owner_id": doc.owner_id,
        "kind": doc.kind.value,
        "field": doc.field,
        "position": doc.position,
        "start": doc.start,
        "end": doc.end,
        "speaker": doc.speaker,
        "speaker_name": None if doc.speaker_name is None else doc.speaker_name[:200],
        "speaker_key": None if doc.speaker_name is None else doc.speaker_name.casefold()[:200],
        "language": None if doc.language is None else doc.language[:20],
        "config": config_for(doc.language),
        "text": doc.text,
    }


# --------------------------------------------------------------------------- queries


def fts5_query(query: SearchQuery) -> str:
    """The FTS5 MATCH expression of *query*: each term a quoted phrase (words only, so
    nothing in it is FTS5 syntax), joined by AND or OR."""
    joiner = " AND " if query.mode == "all" else " OR "
    return joiner.join('"' + " ".join(phrase) + '"' for phrase in query.terms.phrases)


def per_term(query: SearchQuery) -> bool:
    """Whether *query* takes its candidates per term (``any`` mode, several terms)."""
    return query.mode == "any" and len(query.terms.phrases) > 1


def _pg_tsquery(
    query: SearchQuery,
    configs: Sequence[str],
    params: dict[str, Any],
    terms: Sequence[int] | None = None,
) -> str:
    """A tsquery expression: per configuration, the terms AND-ed (or OR-ed); the
    configurations OR-ed. Phrases are bound parameters; configurations come from a
    fixed list only. *terms* picks some of the terms (by position), else all."""
    joiner = " && " if query.mode == "all" else " || "
    for n, phrase in enumerate(query.terms.phrases):
        params[f"p{n}"] = " ".join(phrase)
    picked = range(len(query.terms.phrases)) if terms is None else terms
    per_config = []
    for config in configs:
        assert config in _KNOWN_CONFIGS
        parts = [f"phraseto_tsquery('{config}'::regconfig, :p{n})" for n in picked]
        per_config.append("(" + joiner.join(parts) + ")")
    return " || ".join(per_config)


def _filters(query: SearchQuery, params: dict[str, Any]) -> str:
    where = ["d.owner_id = :owner_id", "r.owner_id = :owner_id"]
    params["owner_id"] = query.owner_id
    if query.recording_id is not None:
        where.append("d.recording_id = :recording_id")
        params["recording_id"] = query.recording_id
    if query.status is not None:
        where.append("r.status = :status")
        params["status"] = query.status.value
    if query.created_after is not None:
        where.append("r.created_at >= :after")
        params["after"] = query.created_after
    if query.created_before is not None:
        where.append("r.created_at < :before")
        params["before"] = query.created_before
    if query.speaker is not None:
        where.append("d.speaker_key = :speaker")
        params["speaker"] = query.speaker.casefold()
    if query.kinds:
        names = []
        for n, kind in enumerate(query.kinds):
            params[f"kind{n}"] = kind.value
            names.append(f":kind{n}")
        where.append(f"d.kind IN ({', '.join(names)})")
    return " AND ".join(where)


_COLUMNS = (
    'd.id, d.recording_id, d.kind, d.field, d.position, d.start, d."end", d.speaker, '
    "d.speaker_name, d.text, r.title AS recording_title, r.created_at AS recording_created_at, "
    "r.status AS recording_status"
)


class SqlSearchIndex(SearchIndex):
    """The search index in ``search_documents`` and the engine's index beside it.

    A query takes the newest *cap* matching documents of the owner (by document id, so
    the most recently indexed first), ranks them and pages them: a total above *cap* is
    reported as *cap*. In ``any`` mode with several terms the newest *cap* of each term
    are taken, those matching more terms ranked first (the total is then the number of
    those candidates).
    """

    def __init__(self, conn: AsyncConnection | SyncReader, cap: int = MAX_CANDIDATES) -> None:
        self._conn = conn
        self._cap = cap

    async def replace(self, recording_id: RecordingId, documents: Sequence[SearchDocument]) -> None:
        await self.remove(recording_id)
        if documents:
            await self._conn.execute(
                insert(t.search_documents), [document_row(d) for d in documents]
            )

    async def remove(self, recording_id: RecordingId) -> None:
        await self._conn.execute(
            delete(t.search_documents).where(t.search_documents.c.recording_id == recording_id)
        )

    async def record_usage(
        self,
        owner_id: UserId,
        recording_id: RecordingId | None,
        engine: str,
        input_tokens: int,
        output_tokens: int,
        at: datetime,
    ) -> None:
        await self._conn.execute(
            insert(t.answer_usage).values(
                owner_id=owner_id,
                recording_id=recording_id,
                engine=engine[:100],
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                created_at=at,
            )
        )

    async def answer_tokens(self, since: datetime) -> Mapping[UserId, tuple[int, int]]:
        u = t.answer_usage.c
        rows = await self._conn.execute(
            select(
                u.owner_id,
                func.sum(u.input_tokens).label("tokens_in"),
                func.sum(u.output_tokens).label("tokens_out"),
            )
            .where(u.created_at >= since)
            .group_by(u.owner_id)
        )
        return {
            UserId(r["owner_id"]): (int(r["tokens_in"] or 0), int(r["tokens_out"] or 0))
            for r in rows.mappings()
        }

    async def search(self, query: SearchQuery) -> Page[SearchHit]:
        if not query.terms.phrases:
            return Page((), 0)
        if self._conn.dialect.name == "postgresql":
            return await self._search_postgres(query)
        return await self._search_sqlite(query)

    # ------------------------------------------------------------------ SQLite

    async def _search_sqlite(self, query: SearchQuery) -> Page[SearchHit]:
        params: dict[str, Any] = {"match": fts5_query(query), "cap": self._cap}
        where = _filters(query, params)
        if per_term(query):
            found = await self._sqlite_per_term(query, where, params)
        else:
            # The newest `cap` matches (FTS5 walks its doclists by rowid, descending),
            # each ranked by bm25 (lower is better); sorted and paged here.
            found = await self._conn.execute(
                text(
                    "SELECT d.id AS id, 1 AS matched, bm25(search_fts) AS rank "  # noqa: S608 - fixed fragments, values bound
                    "FROM search_fts JOIN search_documents d ON d.id = search_fts.rowid "
                    "JOIN recordings r ON r.id = d.recording_id "
                    f"WHERE search_fts MATCH :match AND {where} "
                    "ORDER BY search_fts.rowid DESC LIMIT :cap"
                ),
                params,
            )
        ranked = sorted(
            ((int(matched), -float(rank), -i, i) for i, matched, rank in found), reverse=True
        )
        page = [(score, i) for _, score, _, i in ranked[query.offset : query.offset + query.limit]]
        if not page:
            return Page((), len(ranked))
        ids = {n: i for n, (_, i) in enumerate(page)}
        marks = ", ".join(f":id{n}" for n in ids)
        binds = {f"id{n}": i for n, i in ids.items()}
        rows = {
            r["id"]: r
            for r in (
                await self._conn.execute(
                    text(
                        f"SELECT {_COLUMNS} FROM search_documents d "  # noqa: S608 - fixed fragments, values bound
                        f"JOIN recordings r ON r.id = d.recording_id WHERE d.id IN ({marks})"
                    ),
                    binds,
                )
            ).mappings()
        }
        snippets = {
            r["id"]: r["snippet"]
            for r in (
                await self._conn.execute(
                    text(
                        "SELECT rowid AS id, snippet(search_fts, 0, char(2), char(3), '…', "  # noqa: S608 - fixed fragments, values bound
                        f"{SNIPPET_WORDS}) AS snippet FROM search_fts "
                        f"WHERE search_fts MATCH :match AND rowid IN ({marks})"
                    ),
                    {"match": params["match"], **binds},
                )
            ).mappings()
        }
        hits = tuple(_hit(rows[i], score, snippets.get(i)) for score, i in page if i in rows)
        return Page(hits, len(ranked))

    async def _sqlite_per_term(self, query: SearchQuery, where: str, params: dict[str, Any]) -> Any:
        """``(id, matched, bm25)`` of the candidates of an ``any`` query: the newest
        `cap` matches of each term, counted per term, ranked by bm25 over all terms."""
        lists = []
        for n, phrase in enumerate(query.terms.phrases):
            params[f"m{n}"] = '"' + " ".join(phrase) + '"'
            lists.append(
                "SELECT id FROM (SELECT d.id AS id FROM search_fts "  # noqa: S608 - fixed fragments, values bound
                "JOIN search_documents d ON d.id = search_fts.rowid "
                "JOIN recordings r ON r.id = d.recording_id "
                f"WHERE search_fts MATCH :m{n} AND {where} "
                "ORDER BY search_fts.rowid DESC LIMIT :cap)"
            )
        # CROSS JOIN keeps the candidates outside: bm25 is computed for them only, by
        # rowid lookups into the full-text index.
        union = " UNION ALL ".join(lists)
        return await self._conn.execute(
            text(
                f"WITH c AS (SELECT id, count(*) AS matched FROM ({union}) GROUP BY id) "  # noqa: S608 - fixed fragments, values bound
                "SELECT c.id AS id, c.matched AS matched, bm25(search_fts) AS rank "
                "FROM c CROSS JOIN search_fts ON search_fts.rowid = c.id "
                "WHERE search_fts MATCH :match"
            ),
            params,
        )

    # ------------------------------------------------------------------ PostgreSQL

    async def _search_postgres(self, query: SearchQuery) -> Page[SearchHit]:
        configs = await self._configs(query.owner_id)
        params: dict[str, Any] = {
            "cap": self._cap,
            "limit": query.limit,
            "offset": query.offset,
        }
        tsquery = _pg_tsquery(query, configs, params)
        where = _filters(query, params)
        candidates = self._pg_candidates(query, configs, tsquery, where, params)
        # One round trip: the candidates ranked (c), the page of them (p), the total
        # and the page's rows with their headlines. The tsquery is written out (not a
        # CTE) so that it is folded to a constant the GIN index can serve.
        rows = (
            (
                await self._conn.execute(
                    text(
                        f"WITH {candidates}, "  # noqa: S608 - fixed fragments, values bound
                        "p AS (SELECT id, matched, rank FROM c "
                        "ORDER BY matched DESC, rank DESC, id LIMIT :limit OFFSET :offset) "
                        f"SELECT (SELECT count(*) FROM c) AS total, p.rank, {_COLUMNS}, "
                        f"ts_headline(d.config::regconfig, d.text, {tsquery}, "
                        "'StartSel=' || chr(2) || ', StopSel=' || chr(3) || ', MaxWords="
                        f"{SNIPPET_WORDS}, MinWords={SNIPPET_WORDS // 2}, ShortWord=2, "
                        'MaxFragments=2, FragmentDelimiter=" … "\') AS snippet '
                        "FROM p JOIN search_documents d ON d.id = p.id "
                        "JOIN recordings r ON r.id = d.recording_id "
                        "ORDER BY p.matched DESC, p.rank DESC, p.id"
                    ),
                    params,
                )
            )
            .mappings()
            .all()
        )
        if rows:
            total = int(rows[0]["total"])
        elif query.offset == 0:
            total = 0
        else:  # a page past the end: the total still counts
            return Page((), await self._pg_total(query, configs, tsquery, where, params))
        hits = tuple(_hit(row, float(row["rank"]), row["snippet"]) for row in rows)
        return Page(hits, total)

    def _pg_candidates(
        self,
        query: SearchQuery,
        configs: Sequence[str],
        tsquery: str,
        where: str,
        params: dict[str, Any],
    ) -> str:
        """The CTE ``c (id, matched, rank)``: the newest `cap` matches, or in ``any``
        mode the newest `cap` of each term, counted per term (see the module)."""
        if not per_term(query):
            return (
                "c AS MATERIALIZED ("  # noqa: S608 - fixed fragments, values bound
                f"SELECT d.id, 1 AS matched, ts_rank(d.tsv, {tsquery}) AS rank "
                "FROM search_documents d JOIN recordings r ON r.id = d.recording_id "
                f"WHERE d.tsv @@ ({tsquery}) AND {where} "
                "ORDER BY d.id DESC LIMIT :cap)"
            )
        lists = [
            "(SELECT d.id FROM search_documents d "  # noqa: S608 - fixed fragments, values bound
            "JOIN recordings r ON r.id = d.recording_id "
            f"WHERE d.tsv @@ ({_pg_tsquery(query, configs, params, [n])}) AND {where} "
            "ORDER BY d.id DESC LIMIT :cap)"
            for n in range(len(query.terms.phrases))
        ]
        union = " UNION ALL ".join(lists)
        return (
            f"m AS (SELECT id, count(*) AS matched FROM ({union}) AS u GROUP BY id), "  # noqa: S608 - fixed fragments, values bound
            f"c AS MATERIALIZED (SELECT d.id, m.matched, ts_rank(d.tsv, {tsquery}) AS rank "
            "FROM m JOIN search_documents d ON d.id = m.id)"
        )

    async def _pg_total(
        self,
        query: SearchQuery,
        configs: Sequence[str],
        tsquery: str,
        where: str,
        params: dict[str, Any],
    ) -> int:
        candidates = self._pg_candidates(query, configs, tsquery, where, params)
        found = await self._conn.execute(
            text(f"WITH {candidates} SELECT count(*) FROM c"),  # noqa: S608 - fixed fragments, values bound
            params,
        )
        return int(found.scalar_one())

    async def _configs(self, owner_id: UserId) -> list[str]:
        """The text search configurations the owner's documents use."""
        rows = await self._conn.execute(
            text(
                "SELECT DISTINCT coalesce(tr.language, r.language) AS language "
                "FROM recordings r LEFT JOIN transcripts tr ON tr.recording_id = r.id "
                "WHERE r.owner_id = :owner_id"
            ),
            {"owner_id": owner_id},
        )
        configs = {config_for(language) for (language,) in rows}
        return sorted(configs) or [SIMPLE]


def _hit(row: RowMapping, score: float, marked: str | None) -> SearchHit:
    snippet = Snippet.from_marked(marked) if marked else Snippet(row["text"])
    created = row["recording_created_at"]
    if isinstance(created, str):  # SQLite through text(): no type processing
        created = datetime.fromisoformat(created)
    created = t._as_utc(created)
    return SearchHit(
        recording_id=RecordingId(row["recording_id"]),
        recording_title=row["recording_title"],
        recording_created_at=created,
        recording_status=RecordingStatus(row["recording_status"]),
        kind=DocumentKind(row["kind"]),
        field=row["field"],
        position=row["position"],
        score=round(score, 6),
        snippet=snippet,
        text=row["text"],
        start=row["start"],
        end=row["end"],
        speaker=row["speaker"],
        speaker_name=row["speaker_name"],
    )


# --------------------------------------------------------------------------- migration


def install(conn: Connection) -> None:
    """Create the engine's index beside ``search_documents`` (migration 0008)."""
    for statement in POSTGRES_DDL if conn.dialect.name == "postgresql" else SQLITE_DDL:
        conn.exec_driver_sql(statement)


def uninstall(conn: Connection) -> None:
    """Drop what :func:`install` made (before ``search_documents`` itself goes)."""
    for statement in POSTGRES_DROP if conn.dialect.name == "postgresql" else SQLITE_DROP:
        conn.exec_driver_sql(statement)


def backfill(conn: Connection, batch: int = 200) -> int:
    """Index every recording that has a transcript or analyses; the number indexed."""
    count = 0
    last = ""
    r = t.recordings.c
    while True:
        recordings = (
            conn.execute(
                # the columns by name: later migrations may add others this one cannot see
                select(r.id, r.owner_id, r.title, r.description, r.speaker_names, r.language)
                .where(r.id > last)
                .order_by(r.id)
                .limit(batch)
            )
            .mappings()
            .all()
        )
        if not recordings:
            return count
        for row in recordings:
            docs = _documents_of(conn, row)
            if docs:
                conn.execute(insert(t.search_documents), [document_row(d) for d in docs])
            count += 1
        last = recordings[-1]["id"]


def _documents_of(conn: Connection, row: RowMapping) -> list[SearchDocument]:
    rid = row["id"]
    transcript = (
        conn.execute(select(t.transcripts.c.language).where(t.transcripts.c.recording_id == rid))
        .mappings()
        .first()
    )
    s = t.transcript_segments.c
    segments = [
        Segment(id=x["idx"], start=x["start"], end=x["end"], text=x["text"], speaker=x["speaker"])
        for x in conn.execute(
            select(s.idx, s.start, s.end, s.text, s.speaker)
            .where(s.recording_id == rid)
            .order_by(s.idx)
        ).mappings()
    ]
    return build_documents(
        recording_id=RecordingId(rid),
        owner_id=UserId(row["owner_id"]),
        title=row["title"],
        description=row["description"] or "",
        speaker_names=dict(row["speaker_names"] or {}),
        language=(transcript["language"] if transcript else None) or row["language"],
        segments=segments,
        analyses=_analyses_of(conn, rid),
    )


def _analyses_of(conn: Connection, rid: str) -> Iterable[Analysis]:
    a = t.analyses.c
    columns = (a.kind, a.status, a.engine, a.created_at, a.updated_at, a.content)
    for x in conn.execute(select(*columns).where(a.recording_id == rid)).mappings():
        if x["content"] is None:
            continue
        kind = AnalysisKind(x["kind"])
        yield Analysis(
            recording_id=RecordingId(rid),
            kind=kind,
            status=AnalysisStatus(x["status"]),
            engine=x["engine"],
            created_at=x["created_at"],
            updated_at=x["updated_at"],
            content=content_from_column(kind, x["content"]),
        )


__all__ = ["PG_CONFIGS", "SqlSearchIndex", "backfill", "config_for", "fts5_query", "install"]
