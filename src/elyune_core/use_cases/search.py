"""Search the recordings' transcripts, titles, speakers and analyses; ask them questions."""

from __future__ import annotations

from datetime import datetime

import attrs

from elyune_core._search import (
    MAX_QUERY_LENGTH,
    MAX_QUESTION_LENGTH,
    Answer,
    AnswerDraft,
    Citation,
    DocumentKind,
    Passage,
    SearchHit,
    SearchQuery,
    build_documents,
    check_citation,
    parse_query,
    question_terms,
)
from elyune_core.entities import RecordingStatus, Segment
from elyune_core.errors import InvalidInputError, RecordingNotFoundError
from elyune_core.ids import RecordingId, UserId
from elyune_core.ports import (
    Answerer,
    AnswerRequest,
    Clock,
    Page,
    UnitOfWork,
    UnitOfWorkFactory,
)

#: Largest page of search results.
MAX_PAGE_SIZE = 100


async def reindex_recording(uow: UnitOfWork, recording_id: RecordingId) -> None:
    """Rebuild the search documents of *recording_id* inside *uow* (from what *uow* sees:
    call it after the changes it should index, before the commit)."""
    recording = await uow.recordings.get(recording_id)
    transcript = await uow.transcripts.get(recording_id)
    analyses = await uow.analyses.list(recording_id)
    documents = build_documents(
        recording_id=recording.id,
        owner_id=recording.owner_id,
        title=recording.title,
        description=recording.description,
        speaker_names=recording.speaker_names,
        language=(transcript.language if transcript is not None else None) or recording.language,
        segments=() if transcript is None else transcript.segments,
        analyses=analyses,
    )
    await uow.search.replace(recording_id, documents)


def _query_problem(text: str, field: str, limit: int) -> dict[str, str] | None:
    if not text.strip():
        return {field: "This field may not be blank."}
    if len(text) > limit:
        return {field: f"Ensure this field has no more than {limit} characters."}
    if "\x00" in text:
        return {field: "Null characters are not allowed."}
    return None


@attrs.frozen
class SearchInput:
    """A search of one user's recordings (see :class:`SearchQuery` for the filters)."""

    owner_id: UserId
    text: str
    speaker: str | None = None
    status: RecordingStatus | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    recording_id: RecordingId | None = None
    offset: int = 0
    limit: int = 20


class SearchRecordings:
    """Full-text search over the caller's recordings.

    Rules: only the caller's recordings are searched; a query has 1 to 200 characters,
    not all blank (one without any word, like ``?!``, matches nothing); every word or
    ``"phrase"`` must match; results are ranked best first, 1 to 100 a page.
    """

    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, data: SearchInput) -> Page[SearchHit]:
        """The page of hits for *data*."""
        problem = _query_problem(data.text, "q", MAX_QUERY_LENGTH)
        errors = dict(problem or {})
        if data.speaker is not None and (len(data.speaker) > 100 or "\x00" in data.speaker):
            errors["speaker"] = "Ensure this field has no more than 100 characters."
        if not 1 <= data.limit <= MAX_PAGE_SIZE:
            errors["page_size"] = f"Ensure this value is between 1 and {MAX_PAGE_SIZE}."
        if data.offset < 0:
            errors["page"] = "Invalid page."
        if errors:
            raise InvalidInputError(errors)
        query = SearchQuery(
            owner_id=data.owner_id,
            terms=parse_query(data.text),
            speaker=data.speaker.strip() if data.speaker and data.speaker.strip() else None,
            status=data.status,
            created_after=data.created_after,
            created_before=data.created_before,
            recording_id=data.recording_id,
            offset=data.offset,
            limit=data.limit,
        )
        async with self._uow() as uow:
            if data.recording_id is not None:
                await uow.recordings.get(data.recording_id, data.owner_id)
            return await uow.search.search(query)


@attrs.frozen
class AskInput:
    """A question about one recording (``recording_id``) or all of the owner's."""

    owner_id: UserId
    question: str
    recording_id: RecordingId | None = None


NO_MATCH = "Nothing said in your recordings matches the question."
UNUSABLE = "No usable answer came back for this question."


class AskQuestion:
    """Answer a question from the caller's transcripts, citing checked moments.

    Rules:

    - Retrieval first: the search index picks the segments (of the caller's recordings
      only; of one recording when asked about it) that go to the answerer, at most its
      ``max_passages`` and ``char_budget``. They match any of the question's words but
      common ones (``question_terms``: "when", "is", "the"...), those matching more of
      them first.
    - Every citation is checked against the stored transcript: the segment must be one
      of the passages given, the quote in that segment after normalising case and
      punctuation, the times inside the recording and the segment.
    - An answer with failing citations is asked for once more with the problems; what
      still fails is dropped and the answer is flagged.
    - Tokens used are recorded per answer.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        read_uow: UnitOfWorkFactory,
        answerer: Answerer,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._read_uow = read_uow
        self._answerer = answerer
        self._clock = clock

    async def execute(self, data: AskInput) -> Answer:
        """The checked answer to *data*."""
        problem = _query_problem(data.question, "question", MAX_QUESTION_LENGTH)
        if problem:
            raise InvalidInputError(problem)
        question = data.question.strip()
        passages = await self._retrieve(data, question)
        if not passages:
            return Answer(
                question=question,
                text=NO_MATCH,
                kind=self._answerer.kind,
                engine=self._answerer.name,
                citations=(),
                recording_id=data.recording_id,
            )
        request = AnswerRequest(question=question, passages=passages)
        draft = await self._answerer.answer(request)
        kept, problems = await self._check(data.owner_id, draft, passages)
        problems = [*draft.errors, *problems]
        tokens_in, tokens_out = draft.input_tokens, draft.output_tokens
        flagged = False
        dropped: tuple[str, ...] = ()
        if problems:
            second = await self._answerer.answer(
                attrs.evolve(request, problems=tuple(problems), previous=draft)
            )
            tokens_in = _add(tokens_in, second.input_tokens)
            tokens_out = _add(tokens_out, second.output_tokens)
            first_kept, first_problems = kept, problems
            kept, problems = await self._check(data.owner_id, second, passages)
            problems = [*second.errors, *problems]
            if not second.text.strip() and draft.text.strip():
                # the second answer is unusable: the first one, without what failed
                kept, problems = first_kept, first_problems
            else:
                draft = second
            flagged = bool(problems)
            dropped = tuple(problems)
        if tokens_in or tokens_out:
            async with self._uow() as uow:
                await uow.search.record_usage(
                    data.owner_id,
                    data.recording_id,
                    draft.engine,
                    tokens_in or 0,
                    tokens_out or 0,
                    self._clock.now(),
                )
                await uow.commit()
        return Answer(
            question=question,
            text=draft.text.strip() or UNUSABLE,
            kind=draft.kind,
            engine=draft.engine,
            citations=tuple(kept),
            flagged=flagged,
            problems=dropped,
            passages=len(passages),
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            recording_id=data.recording_id,
        )

    async def _retrieve(self, data: AskInput, question: str) -> tuple[Passage, ...]:
        query = SearchQuery(
            owner_id=data.owner_id,
            terms=question_terms(question),
            mode="any",
            recording_id=data.recording_id,
            kinds=(DocumentKind.SEGMENT,),
            limit=max(1, self._answerer.max_passages),
        )
        async with self._read_uow() as uow:
            if data.recording_id is not None:
                await uow.recordings.get(data.recording_id, data.owner_id)
            hits = await uow.search.search(query)
        passages: list[Passage] = []
        budget = self._answerer.char_budget
        for hit in hits.items:
            if hit.start is None or hit.end is None:
                continue
            if budget - len(hit.text) < 0 and passages:
                break
            budget -= len(hit.text)
            passages.append(
                Passage(
                    recording_id=hit.recording_id,
                    recording_title=hit.recording_title,
                    segment_id=hit.position,
                    start=hit.start,
                    end=hit.end,
                    text=hit.text,
                    speaker=hit.speaker,
                    speaker_name=hit.speaker_name,
                    score=hit.score,
                )
            )
        return tuple(passages)

    async def _check(
        self, owner_id: UserId, draft: AnswerDraft, passages: tuple[Passage, ...]
    ) -> tuple[list[Citation], list[str]]:
        given = {(p.recording_id, p.segment_id) for p in passages}
        recordings = {p.recording_id for p in passages}
        kept: list[Citation] = []
        problems: list[str] = []
        segments: dict[RecordingId, tuple[dict[int, Segment], float | None, dict[str, str]]] = {}
        async with self._read_uow() as uow:
            for citation in draft.citations:
                rid = citation.recording_id
                if rid not in recordings or (rid, citation.segment_id) not in given:
                    problems.append(
                        f"citation of recording {rid} segment {citation.segment_id}: "
                        "not one of the transcript segments given"
                    )
                    continue
                if rid not in segments:
                    try:
                        recording = await uow.recordings.get(rid, owner_id)
                    except RecordingNotFoundError:
                        problems.append(f"citation of recording {rid}: no such recording")
                        continue
                    transcript = await uow.transcripts.get(rid)
                    stored = {} if transcript is None else {s.id: s for s in transcript.segments}
                    duration = (transcript.duration if transcript is not None else None) or (
                        recording.media.duration if recording.media is not None else None
                    )
                    segments[rid] = (stored, duration, dict(recording.speaker_names))
                stored, duration, names = segments[rid]
                segment = stored.get(citation.segment_id)
                problem = check_citation(citation, segment, duration)
                if problem is not None or segment is None:
                    problems.append(problem or "no such segment")
                    continue
                label = segment.speaker
                kept.append(
                    attrs.evolve(
                        citation,
                        start=max(citation.start, segment.start),
                        end=min(citation.end, segment.end),
                        speaker=label,
                        speaker_name=None
                        if label is None
                        else names.get(label) or f"Speaker {label}",
                    )
                )
        return kept, problems


def _add(a: int | None, b: int | None) -> int | None:
    if a is None and b is None:
        return None
    return (a or 0) + (b or 0)


__all__ = [
    "MAX_PAGE_SIZE",
    "NO_MATCH",
    "UNUSABLE",
    "AskInput",
    "AskQuestion",
    "SearchInput",
    "SearchRecordings",
    "reindex_recording",
]
