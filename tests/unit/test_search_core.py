"""The pure rules of search and ask: query parsing, snippets, citation checks, the ask
use case's retry-then-drop, and reindexing after an analysis re-run, on the in-memory
fakes."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs

from elyune_adapters.memory import (
    FakeAnalyzer,
    FixedClock,
    InMemoryState,
    ScriptedAnswerer,
    in_memory_uow,
)
from elyune_core import (
    AnalysisKind,
    Recording,
    RecordingId,
    RecordingStatus,
    Segment,
    Summary,
    Transcript,
    User,
    UserId,
)
from elyune_core._search import (
    AnswerDraft,
    AnswerKind,
    Citation,
    Snippet,
    check_citation,
    normalise,
    parse_query,
    question_terms,
)
from elyune_core.use_cases import (
    AskInput,
    AskQuestion,
    RerunAnalysis,
    RerunAnalysisInput,
    SearchInput,
    SearchRecordings,
    reindex_recording,
)

SEGMENT = Segment(3, 10.0, 15.0, "Okay — we'll MOVE the Backup-Window to Sunday, right?", "1")
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def cite(quote: str, start: float = 10.5, end: float = 14.0) -> Citation:
    return Citation(RecordingId("r"), 3, start, end, quote)


def test_queries_are_words_and_phrases_never_syntax():
    terms = parse_query('Backup AND "release notes" text:x NEAR(a b) *')
    assert terms.phrases == (
        ("backup",),
        ("and",),
        ("release", "notes"),
        ("text", "x"),
        ("near", "a"),
        ("b",),
    )
    assert parse_query("?! -- ()").phrases == ()


def test_a_questions_common_words_are_left_out_of_its_retrieval():
    assert question_terms("When is the backup window?").phrases == (("backup",), ("window",))
    # a phrase is kept if any of its words is not common; a contraction's pieces are not
    assert question_terms('What\'s "the plan" for it?').phrases == (("the", "plan"),)
    # nothing but common words: all of them, rather than nothing to look for
    assert question_terms("What is this?").phrases == (("what",), ("is",), ("this",))
    assert len(question_terms(" ".join(f"w{n} the" for n in range(50))).phrases) == 32


def test_quotes_match_after_normalising_case_and_punctuation():
    assert normalise("We'll MOVE the Backup-Window!") == "we ll move the backup window"
    assert check_citation(cite("we'll move the backup window"), SEGMENT, 60.0) is None
    assert check_citation(cite("BACKUP window to sunday, right"), SEGMENT, 60.0) is None
    assert "not in that segment" in check_citation(cite("backup window to Monday"), SEGMENT, 60.0)
    # whole words only: "ack" is inside "backup" but is not a word of it
    assert check_citation(cite("ack"), SEGMENT, 60.0) is not None
    assert "outside the recording" in check_citation(cite("backup", 10.0, 75.0), SEGMENT, 60.0)
    assert "outside the segment" in check_citation(cite("backup", 2.0, 4.0), SEGMENT, 60.0)
    assert "no such segment" in check_citation(cite("backup"), None, 60.0)


def test_snippet_markers_become_offsets_and_escaped_html():
    snippet = Snippet.from_marked("a <b> \x02backup\x03 & \x02window\x03")
    assert [snippet.text[a:b] for a, b in snippet.highlights] == ["backup", "window"]
    assert snippet.html() == "a &lt;b&gt; <mark>backup</mark> &amp; <mark>window</mark>"


async def test_failing_citations_are_asked_for_again_once_then_dropped_and_flagged():
    state = InMemoryState()
    uow = in_memory_uow(state)
    owner = UserId("u")
    async with uow() as tx:
        await tx.users.add(User(owner, "u", "h", NOW))
        await tx.recordings.add(
            Recording(RecordingId("r"), owner, "T", "a.webm", "k", RecordingStatus.READY, NOW, NOW)
        )
        await tx.transcripts.save(
            Transcript(
                RecordingId("r"), SEGMENT.text, "en", (SEGMENT,), (), "x", NOW, duration=60.0
            )
        )
        await reindex_recording(tx, RecordingId("r"))
        await tx.commit()
    bad = AnswerDraft(
        "Sunday.",
        (cite("backup window to Sunday"), cite("moved to Monday")),
        AnswerKind.GENERATIVE,
        "scripted",
        input_tokens=10,
        output_tokens=2,
    )
    answerer = ScriptedAnswerer(bad, bad)
    answer = await AskQuestion(
        uow=uow, read_uow=uow, answerer=answerer, clock=FixedClock()
    ).execute(AskInput(owner, "When is the backup window?"))
    assert len(answerer.requests) == 2
    assert answerer.requests[1].problems and answerer.requests[1].previous == bad
    assert answer.flagged
    assert [c.quote for c in answer.citations] == ["backup window to Sunday"]
    assert answer.citations[0].speaker_name == "Speaker 1"
    assert (answer.input_tokens, answer.output_tokens) == (20, 4)
    assert [u[3:5] for u in state.answer_usage] == [(20, 4)]


async def _one_segment_library():
    state = InMemoryState()
    uow = in_memory_uow(state)
    owner = UserId("u")
    async with uow() as tx:
        await tx.users.add(User(owner, "u", "h", NOW))
        await tx.recordings.add(
            Recording(RecordingId("r"), owner, "T", "a.webm", "k", RecordingStatus.READY, NOW, NOW)
        )
        await tx.transcripts.save(
            Transcript(
                RecordingId("r"), SEGMENT.text, "en", (SEGMENT,), (), "x", NOW, duration=60.0
            )
        )
        await reindex_recording(tx, RecordingId("r"))
        await tx.commit()
    return state, uow, owner


async def test_an_empty_second_answer_keeps_the_first_without_what_failed():
    """Asked again, the answerer returns nothing usable: the first answer is the answer,
    its failing citation dropped and listed, flagged; both requests' tokens count."""
    state, uow, owner = await _one_segment_library()
    first = AnswerDraft(
        "Sunday.",
        (cite("backup window to Sunday"), cite("moved to Monday")),
        AnswerKind.GENERATIVE,
        "scripted",
        input_tokens=10,
        output_tokens=2,
    )
    empty = AnswerDraft(
        "  ",
        (),
        AnswerKind.GENERATIVE,
        "scripted",
        input_tokens=12,
        output_tokens=1,
        errors=("the answer has no 'answer' text",),
    )
    answerer = ScriptedAnswerer(first, empty)
    answer = await AskQuestion(
        uow=uow, read_uow=uow, answerer=answerer, clock=FixedClock()
    ).execute(AskInput(owner, "When is the backup window?"))
    assert len(answerer.requests) == 2
    assert answer.text == "Sunday."
    assert [c.quote for c in answer.citations] == ["backup window to Sunday"]
    assert answer.flagged
    assert len(answer.problems) == 1 and "moved to Monday" in answer.problems[0]
    assert not any("no 'answer' text" in p for p in answer.problems)
    assert (answer.input_tokens, answer.output_tokens) == (22, 3)
    assert [u[3:5] for u in state.answer_usage] == [(22, 3)]


class _SummaryAnalyzer(FakeAnalyzer):
    """The fake analyses, with the summary text given."""

    def __init__(self, summary: str) -> None:
        super().__init__()
        self.summary = summary

    async def analyze(self, request):
        outcomes = dict(await super().analyze(request))
        if AnalysisKind.SUMMARY in outcomes:
            outcomes[AnalysisKind.SUMMARY] = attrs.evolve(
                outcomes[AnalysisKind.SUMMARY], content=Summary("Plan", self.summary)
            )
        return outcomes


async def test_rerunning_an_analysis_reindexes_it(core):
    """The summary is analysed again: the old text no longer matches, the new one does."""
    core.analyzer = _SummaryAnalyzer("The walrus budget is frozen.")
    recording_id, _ = await core.process()
    search = SearchRecordings(uow=core.uow())

    async def fields(q):
        page = await search.execute(SearchInput(UserId("u1"), q))
        return [(h.recording_id, h.field) for h in page.items]

    assert await fields("walrus") == [(recording_id, "summary")]
    core.analyzer.summary = "The zeppelin budget doubles."
    rerun = RerunAnalysis(uow=core.uow(), queue=core.queue, clock=core.clock)
    await rerun.execute(RerunAnalysisInput(recording_id, AnalysisKind.SUMMARY))
    await core.queue.join()
    assert await fields("walrus") == []
    assert await fields("zeppelin") == [(recording_id, "summary")]


async def test_answer_tokens_count_in_the_usage_report():
    from elyune_core.use_cases import UsageReport

    state = InMemoryState()
    uow = in_memory_uow(state)
    owner = UserId("u")
    async with uow() as tx:
        await tx.users.add(User(owner, "una", "h", NOW))
        await tx.search.record_usage(owner, None, "gemini:x", 300, 40, NOW)
        await tx.commit()
    (row,) = await UsageReport(uow=uow).execute(datetime(2025, 1, 1, tzinfo=UTC))
    assert (row.username, row.input_tokens, row.output_tokens) == ("una", 300, 40)
