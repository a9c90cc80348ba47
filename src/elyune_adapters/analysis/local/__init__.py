"""The local analysis engine: extractive, rule-based and lexicon-based, no language model.

Everything here runs on the machine in milliseconds and picks sentences that were said
rather than writing new ones:

* **summary**: TextRank over TF-IDF vectors of the sentences; the 2-4 most central ones
  in the order they were said. The title is built from the transcript's key phrases
  (RAKE), or the most central sentence.
* **action items**: commitments and assignments ("I'll ...", "Dana, can you ...",
  "Dana will ...", "action item for Dana: ...", "we need to <task>"), not chatter,
  questions, past tense, agenda talk or hypotheticals (:func:`classify`); a reply ("Yes,
  I'll take that one.") gives the request before it its owner. Owners are people
  (:mod:`elyune_adapters.analysis.owners`), due dates are the words that were said.
* **key points**: the 3-6 most informative sentences, picked with maximal marginal
  relevance so that they do not repeat each other.
* **sentiment**: VADER compound scores per sentence (English only), aggregated overall
  and per speaker.

Sentences are cut from the transcript's segments and timed with its words."""

from elyune_adapters.analysis.local.adapter import LocalAnalyzer
from elyune_adapters.analysis.local.people import find_due
from elyune_adapters.analysis.local.sentences import build_sentences, split_sentences

__all__ = ["LocalAnalyzer", "build_sentences", "find_due", "split_sentences"]
