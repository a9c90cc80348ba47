"""The local analyzer: the ``Analyzer`` port over the parts of this package."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from elyune_adapters.analysis.local.action_items import action_items
from elyune_adapters.analysis.local.people import infer_speaker_names, proper_names
from elyune_adapters.analysis.local.ranking import _rank
from elyune_adapters.analysis.local.sentences import build_sentences
from elyune_adapters.analysis.local.sentiment import looks_english, sentiment
from elyune_adapters.analysis.local.summary import key_points, summarise
from elyune_core.entities import (
    AnalysisContent,
    AnalysisKind,
)
from elyune_core.ports import AnalysisOutcome, AnalysisRequest, Analyzer


class LocalAnalyzer(Analyzer):
    """The local, extractive analysis engine: no language model, no network.

    Summaries and key points are sentences that were said (TextRank and maximal marginal
    relevance over TF-IDF), action items are found by commitment phrases, sentiment by
    VADER's lexicon (English only). Fast and private, but it cannot paraphrase.
    """

    name = "local"

    def __init__(self) -> None:
        self._vader: SentimentIntensityAnalyzer | None = None
        self._lock = threading.Lock()

    def _polarity(self, text: str) -> float:
        if self._vader is None:
            with self._lock:
                if self._vader is None:
                    self._vader = SentimentIntensityAnalyzer()
        return float(self._vader.polarity_scores(text)["compound"])

    async def analyze(self, request: AnalysisRequest) -> Mapping[AnalysisKind, AnalysisOutcome]:
        """Return one outcome per kind of *request*, computed in a worker thread."""
        return await asyncio.to_thread(self.analyze_now, request)

    def analyze_now(self, request: AnalysisRequest) -> dict[AnalysisKind, AnalysisOutcome]:
        """The same as :meth:`analyze`, in the calling thread."""
        transcript = request.transcript
        sentences = build_sentences(transcript)
        people = proper_names(transcript, request.speaker_names)
        names = {
            **infer_speaker_names(sentences, people, transcript.speakers),
            **request.speaker_names,
        }
        english = looks_english(transcript)
        ranked = _rank(sentences) if sentences else None
        outcomes: dict[AnalysisKind, AnalysisOutcome] = {}
        for kind in dict.fromkeys(request.kinds):
            content: AnalysisContent
            if kind is AnalysisKind.SUMMARY:
                content = summarise(sentences, names, english, ranked)
            elif kind is AnalysisKind.ACTION_ITEMS:
                content = action_items(sentences, transcript, names)
            elif kind is AnalysisKind.KEY_POINTS:
                content = key_points(sentences, ranked=ranked)
            else:
                content = sentiment(sentences, transcript, names, self._polarity)
            outcomes[kind] = AnalysisOutcome(kind=kind, content=content)
        return outcomes
