"""LocalAnalyzer on hand-built transcripts: what it finds, where, and for whom."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import pytest

from elyune_adapters.analysis import LocalAnalyzer
from elyune_adapters.analysis.local import build_sentences, find_due, split_sentences
from elyune_core.entities import (
    ActionItems,
    AnalysisKind,
    KeyPoints,
    Segment,
    Sentiment,
    SentimentLabel,
    Summary,
    Transcript,
    Word,
)
from elyune_core.ids import RecordingId
from elyune_core.ports import AnalysisRequest, Analyzer

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

Line = tuple[str | None, float, str]  # speaker, start, text


def make_transcript(
    lines: Sequence[Line], *, language: str | None = "en", seconds_per_word: float = 0.35
) -> Transcript:
    """A transcript with one segment per line and evenly timed words."""
    segments: list[Segment] = []
    words: list[Word] = []
    for number, (speaker, start, text) in enumerate(lines):
        clock = start
        for spelled in text.split():
            words.append(
                Word(
                    text=spelled.strip(".,?!"),
                    start=round(clock, 3),
                    end=round(clock + seconds_per_word * 0.8, 3),
                    confidence=0.9,
                    speaker=speaker,
                    punctuated=spelled,
                )
            )
            clock += seconds_per_word
        segments.append(Segment(number, start, round(clock, 3), text, speaker, 0.9))
    return Transcript(
        recording_id=RecordingId("rec"),
        text=" ".join(text for _, _, text in lines),
        language=language,
        segments=tuple(segments),
        words=tuple(words),
        engine="test",
        created_at=NOW,
        duration=(segments[-1].end + 1.0) if segments else 0.0,
        speaker_count=len({s for s, _, _ in lines if s is not None}) or None,
    )


PLANNING: list[Line] = [
    ("0", 0.0, "Good morning everyone, thanks for joining the quarterly budget review."),
    ("1", 4.0, "Morning. The finance dashboard finally shows the real spending per team."),
    ("0", 9.0, "Great. Bob, can you send the budget report to the finance team tomorrow?"),
    ("1", 14.0, "Sure, I will send the budget report tomorrow morning."),
    ("0", 18.0, "We need to cut the cloud costs before the next quarter starts."),
    ("1", 22.5, "The cloud costs grew by twenty percent because of the new analytics cluster."),
    ("0", 27.5, "I will be honest, that cluster was a surprise to me."),
    ("1", 31.0, "I'll draft a proposal to shut down the idle servers by Friday."),
    ("0", 35.0, "Let's review the proposal together next week."),
    ("1", 38.5, "What did the marketing team say about their budget?"),
    ("0", 42.0, "They are happy with the current budget and the campaign results look good."),
    ("1", 46.5, "Thank you, Alice. That was a productive meeting."),
]

COMPLAINT: list[Line] = [
    ("0", 0.0, "I am really frustrated with the new release."),
    ("1", 3.0, "The app keeps crashing and customers are angry about the broken login."),
    ("0", 7.0, "This is a terrible experience and the support queue is a disaster."),
    ("1", 11.0, "We lost three important clients this week because of these awful bugs."),
    ("0", 15.0, "Honestly, I am disappointed and worried about the next launch."),
]


async def analyse(
    transcript: Transcript,
    kinds: Sequence[AnalysisKind] = tuple(AnalysisKind),
    names: Mapping[str, str] | None = None,
) -> dict[AnalysisKind, object]:
    outcomes = await LocalAnalyzer().analyze(
        AnalysisRequest(transcript=transcript, kinds=tuple(kinds), speaker_names=names or {})
    )
    assert set(outcomes) == set(kinds)
    for kind, outcome in outcomes.items():
        assert outcome.kind is kind and outcome.error is None and outcome.content is not None
    return {kind: outcome.content for kind, outcome in outcomes.items()}


def sentence_start(transcript: Transcript, beginning: str) -> float:
    """When the sentence starting with *beginning* was said (from the test's own words)."""
    first = beginning.split()[0]
    for segment in transcript.segments:
        if beginning in segment.text:
            offset = len(segment.text[: segment.text.index(beginning)].split())
            words = [w for w in transcript.words if segment.start <= w.start <= segment.end]
            assert words[offset].punctuated == first
            return words[offset].start
    raise AssertionError(beginning)


# --------------------------------------------------------------------------- the adapter


def test_it_is_the_local_analyzer() -> None:
    """The engine lists the port as its base and is named "local"."""
    assert Analyzer in LocalAnalyzer.__mro__
    assert LocalAnalyzer.name == "local"


def test_the_package_exports_the_adapter() -> None:
    """``elyune_adapters.analysis`` names its public API."""
    import elyune_adapters.analysis as package

    assert package.__all__ == ["LocalAnalyzer"]
    assert package.LocalAnalyzer is LocalAnalyzer


async def test_only_the_requested_kinds_are_returned() -> None:
    """One outcome per requested kind, no more."""
    content = await analyse(make_transcript(PLANNING), [AnalysisKind.SENTIMENT])
    assert isinstance(content[AnalysisKind.SENTIMENT], Sentiment)


# --------------------------------------------------------------------------- action items


async def test_a_request_to_bob_is_his_action_item_due_tomorrow() -> None:
    """ "Bob, can you ... tomorrow?" is Bob's item, timed at the sentence (not the segment)."""
    transcript = make_transcript(PLANNING)
    content = await analyse(transcript, [AnalysisKind.ACTION_ITEMS], {"0": "Alice", "1": "Bob"})
    items = content[AnalysisKind.ACTION_ITEMS]
    assert isinstance(items, ActionItems)
    bob = [i for i in items.items if i.owner == "Bob" and i.due == "tomorrow"]
    assert len(bob) == 1, items
    item = bob[0]
    assert item.text == "Bob, can you send the budget report to the finance team tomorrow?"
    assert item.segment_id == 2 and item.speaker == "0"
    assert item.timestamp == pytest.approx(sentence_start(transcript, "Bob, can you"))
    assert item.timestamp > transcript.segments[2].start  # "Great." came first


async def test_commitments_are_owned_by_their_speaker_and_dated() -> None:
    """ "I'll ... by Friday" belongs to its speaker; "we need to" and "let's" to nobody."""
    transcript = make_transcript(PLANNING)
    content = await analyse(transcript, [AnalysisKind.ACTION_ITEMS], {"0": "Alice", "1": "Bob"})
    items = content[AnalysisKind.ACTION_ITEMS]
    assert isinstance(items, ActionItems)
    by_text = {i.text: i for i in items.items}
    proposal = by_text["I'll draft a proposal to shut down the idle servers by Friday."]
    assert (proposal.owner, proposal.due, proposal.speaker) == ("Bob", "by Friday", "1")
    assert proposal.timestamp == pytest.approx(31.0)
    cloud = by_text["We need to cut the cloud costs before the next quarter starts."]
    assert cloud.owner is None
    review = by_text["Let's review the proposal together next week."]
    assert (review.owner, review.due) == (None, "next week")


async def test_a_reply_to_a_request_is_not_a_second_item() -> None:
    """ "Sure, I will send the budget report" repeats the request it answers."""
    content = await analyse(make_transcript(PLANNING), [AnalysisKind.ACTION_ITEMS])
    items = content[AnalysisKind.ACTION_ITEMS]
    assert isinstance(items, ActionItems)
    assert sum("budget report" in i.text for i in items.items) == 1


async def test_obvious_non_commitments_are_left_out() -> None:
    """ "I will be honest", plain questions and statements are not action items."""
    content = await analyse(make_transcript(PLANNING), [AnalysisKind.ACTION_ITEMS])
    items = content[AnalysisKind.ACTION_ITEMS]
    assert isinstance(items, ActionItems)
    texts = " ".join(i.text for i in items.items)
    assert "honest" not in texts
    assert "marketing team say" not in texts
    assert "cloud costs grew" not in texts
    assert len(items.items) == 4


async def test_without_names_the_owner_is_the_speaker_as_shown() -> None:
    """With three speakers and no names known, "I will" is owned by "Speaker <label>", as
    the transcript shows that speaker (not by the bare label "1")."""
    transcript = make_transcript(
        [
            ("0", 0.0, "Welcome to the design sync."),
            ("1", 2.0, "I will update the wireframes for the checkout page."),
            ("2", 6.0, "Dana will test the checkout flow on Monday."),
        ]
    )
    content = await analyse(transcript, [AnalysisKind.ACTION_ITEMS])
    items = content[AnalysisKind.ACTION_ITEMS]
    assert isinstance(items, ActionItems)
    assert [(i.owner, i.speaker, i.due) for i in items.items] == [
        ("Speaker 1", "1", None),
        ("Dana", "2", "on Monday"),
    ]


async def test_names_are_inferred_from_how_two_speakers_address_each_other() -> None:
    """In a two-person talk, "Thank you, Alice" by speaker 1 makes speaker 0 Alice."""
    content = await analyse(make_transcript(PLANNING), [AnalysisKind.ACTION_ITEMS])
    items = content[AnalysisKind.ACTION_ITEMS]
    assert isinstance(items, ActionItems)
    owners = {i.owner for i in items.items}
    assert "Bob" in owners and "0" not in owners and "1" not in owners


COMMITMENTS = [
    "I'm going to write the integration tests tonight.",
    "After lunch I will call the vendor.",
    "Could you please check the server logs?",
    "Please send the slides to the whole group.",
    "Make sure the backups run before the migration.",
    "I think we should cancel the vendor contract.",
    "Dana will test the checkout flow on Monday.",
]
NOT_COMMITMENTS = [
    "I will be honest with you.",
    "We should have tested it earlier.",
    "Are you going to the conference?",
    "What will we do about the budget?",
    "The customers should love the new colours.",
    "It is going to rain during the offsite.",
    "Please be aware that the office is closed.",
    "Yes, please.",
]


async def test_commitments_and_look_alikes() -> None:
    """Commitments, requests and suggestions are found; opinions and questions are not."""
    lines = [(str(i % 3), 5.0 * i, text) for i, text in enumerate(COMMITMENTS + NOT_COMMITMENTS)]
    content = await analyse(make_transcript(lines), [AnalysisKind.ACTION_ITEMS])
    items = content[AnalysisKind.ACTION_ITEMS]
    assert isinstance(items, ActionItems)
    assert [i.text for i in items.items] == COMMITMENTS


@pytest.mark.parametrize(
    ("sentence", "due"),
    [
        ("Please send it by end of day.", "by end of day"),
        ("I will finish the report by the end of the week.", "by the end of the week"),
        ("We ship it next Monday.", "next Monday"),
        ("Can you review it tomorrow afternoon?", "tomorrow afternoon"),
        ("I'll have it done by March 3rd.", "by March 3rd"),
        ("Send the invoice before 2026-02-01.", "before 2026-02-01"),
        ("I will call them within two days.", "within two days"),
        ("I will call them at 3 pm.", "at 3 pm"),
        ("I'll review it this afternoon.", "this afternoon"),
        ("I will call them soon.", None),
    ],
)
def test_due_phrases_are_found_as_said(sentence: str, due: str | None) -> None:
    """Deadlines keep the words that were said."""
    assert find_due(sentence) == due


# --------------------------------------------------------------------------- summary and key points


async def test_the_summary_is_a_few_sentences_in_order_with_a_short_title() -> None:
    """2-4 sentences of the transcript in the order said, and a title about the topic."""
    transcript = make_transcript(PLANNING)
    content = await analyse(transcript, [AnalysisKind.SUMMARY], {"0": "Alice", "1": "Bob"})
    summary = content[AnalysisKind.SUMMARY]
    assert isinstance(summary, Summary)
    assert 0 < len(summary.title) <= 80
    assert any(word in summary.title.lower() for word in ("budget", "cloud", "finance"))
    said = [s.text for s in build_sentences(transcript)]
    text = summary.text.replace("Alice: ", "").replace("Bob: ", "")
    used = [s for s in said if s in text]
    assert 2 <= len(used) <= 4
    positions = [text.index(s) for s in used]
    assert positions == sorted(positions)
    assert len(text) == len(" ".join(used))


async def test_key_points_are_distinct_informative_and_timed() -> None:
    """3-6 different sentences, each with the time and segment where it was said."""
    transcript = make_transcript(PLANNING)
    content = await analyse(transcript, [AnalysisKind.KEY_POINTS])
    points = content[AnalysisKind.KEY_POINTS]
    assert isinstance(points, KeyPoints)
    assert 3 <= len(points.items) <= 6
    assert len({p.text for p in points.items}) == len(points.items)
    for a, b in itertools.combinations(points.items, 2):
        assert not set(a.text.split()) >= set(b.text.split())
    for point in points.items:
        segment = transcript.segments[point.segment_id or 0]
        assert point.text in segment.text
        assert point.timestamp is not None
        assert segment.start <= point.timestamp <= segment.end
        assert len(point.text.split()) >= 4  # no "Thank you."
    timestamps = [p.timestamp for p in points.items]
    assert timestamps == sorted(timestamps)


def test_sentences_are_cut_at_their_ends_but_not_after_abbreviations() -> None:
    """ "Dr. Smith" and decimals stay in one sentence."""
    assert split_sentences("Dr. Smith joined at 9.30 today. Then we left! Did we?") == [
        "Dr. Smith joined at 9.30 today.",
        "Then we left!",
        "Did we?",
    ]


def test_a_sentence_continues_into_the_next_segment_of_its_speaker() -> None:
    """Whisper may end a segment mid-sentence; the sentence keeps its first segment."""
    transcript = make_transcript(
        [("0", 0.0, "Thanks for joining the weekly"), ("0", 2.0, "planning meeting. Let's start.")]
    )
    sentences = build_sentences(transcript)
    assert [(s.text, s.segment_id, s.start) for s in sentences] == [
        ("Thanks for joining the weekly planning meeting.", 0, 0.0),
        ("Let's start.", 1, pytest.approx(2.0 + 2 * 0.35)),
    ]


# --------------------------------------------------------------------------- sentiment


async def test_a_positive_meeting_is_positive() -> None:
    """Praise and thanks give a positive label and score, per speaker too."""
    content = await analyse(make_transcript(PLANNING), [AnalysisKind.SENTIMENT])
    sentiment = content[AnalysisKind.SENTIMENT]
    assert isinstance(sentiment, Sentiment)
    assert sentiment.label is SentimentLabel.POSITIVE
    assert 0 < sentiment.score <= 1
    assert [s.speaker for s in sentiment.speakers] == ["0", "1"]
    assert sentiment.explanation.endswith(".") and sentiment.explanation.count(". ") == 0


async def test_a_complaint_is_negative() -> None:
    """Frustration, crashes and lost clients give a negative label and score."""
    content = await analyse(make_transcript(COMPLAINT), [AnalysisKind.SENTIMENT])
    sentiment = content[AnalysisKind.SENTIMENT]
    assert isinstance(sentiment, Sentiment)
    assert sentiment.label is SentimentLabel.NEGATIVE
    assert -1 <= sentiment.score < -0.2
    assert all(s.label is SentimentLabel.NEGATIVE for s in sentiment.speakers)
    assert "negative" in sentiment.explanation.lower()


async def test_strong_praise_and_strong_criticism_are_mixed() -> None:
    """One delighted and one furious speaker make a mixed meeting."""
    transcript = make_transcript(
        [
            ("0", 0.0, "I absolutely love the new design, it is brilliant and beautiful."),
            ("1", 4.0, "I hate it, the colours are awful and the layout is a terrible mess."),
            ("0", 8.0, "Our users are thrilled and the feedback has been wonderful."),
            ("1", 12.0, "The support team is furious about the horrible confusion it caused."),
        ]
    )
    content = await analyse(transcript, [AnalysisKind.SENTIMENT])
    sentiment = content[AnalysisKind.SENTIMENT]
    assert isinstance(sentiment, Sentiment)
    assert sentiment.label is SentimentLabel.MIXED
    labels = {s.speaker: s.label for s in sentiment.speakers}
    assert labels == {"0": SentimentLabel.POSITIVE, "1": SentimentLabel.NEGATIVE}


async def test_non_english_sentiment_is_neutral_and_says_why() -> None:
    """VADER knows English only: other languages are neutral; the rest still works."""
    transcript = make_transcript(
        [
            ("0", 0.0, "Guten Morgen, danke für die Teilnahme an der Besprechung."),
            ("1", 4.0, "Das neue Dashboard ist fertig und die Kunden sind sehr zufrieden."),
            ("0", 9.0, "Das Budget für das nächste Quartal wird am Freitag besprochen."),
        ],
        language="de",
    )
    content = await analyse(transcript)
    sentiment = content[AnalysisKind.SENTIMENT]
    assert isinstance(sentiment, Sentiment)
    assert (sentiment.label, sentiment.score) == (SentimentLabel.NEUTRAL, 0.0)
    assert "English" in sentiment.explanation and "de" in sentiment.explanation
    summary = content[AnalysisKind.SUMMARY]
    assert isinstance(summary, Summary) and summary.text and len(summary.title) <= 80
    points = content[AnalysisKind.KEY_POINTS]
    assert isinstance(points, KeyPoints) and points.items


# --------------------------------------------------------------------------- edge cases


async def test_an_empty_transcript_gives_empty_analyses() -> None:
    """No speech: a placeholder summary, no items or points, neutral tone; no crash."""
    content = await analyse(make_transcript([]))
    summary = content[AnalysisKind.SUMMARY]
    assert isinstance(summary, Summary) and summary.title
    assert content[AnalysisKind.ACTION_ITEMS] == ActionItems()
    assert content[AnalysisKind.KEY_POINTS] == KeyPoints()
    sentiment = content[AnalysisKind.SENTIMENT]
    assert isinstance(sentiment, Sentiment)
    assert (sentiment.label, sentiment.score, sentiment.speakers) == (
        SentimentLabel.NEUTRAL,
        0.0,
        (),
    )


async def test_a_one_sentence_transcript_is_its_own_summary() -> None:
    """One sentence, no speakers, no words: everything still comes back sensible."""
    transcript = make_transcript([(None, 0.0, "Please remember to renew the domain by Friday.")])
    transcript = Transcript(
        recording_id=transcript.recording_id,
        text=transcript.text,
        language=None,
        segments=transcript.segments,
        words=(),
        engine="test",
        created_at=NOW,
    )
    content = await analyse(transcript)
    summary = content[AnalysisKind.SUMMARY]
    assert isinstance(summary, Summary)
    assert summary.text == "Please remember to renew the domain by Friday."
    items = content[AnalysisKind.ACTION_ITEMS]
    assert isinstance(items, ActionItems)
    assert [(i.owner, i.due, i.timestamp, i.segment_id) for i in items.items] == [
        (None, "by Friday", 0.0, 0)
    ]
    points = content[AnalysisKind.KEY_POINTS]
    assert isinstance(points, KeyPoints) and len(points.items) == 1
    sentiment = content[AnalysisKind.SENTIMENT]
    assert isinstance(sentiment, Sentiment) and sentiment.speakers == ()


# --------------------------------------------------------------------------- action items: issue 9

# The standup of issue 9 (two speakers, no names): the analyzer used to list 7 items for the
# 3 real ones, and "Yes, I'll take that one." came out owned by "0".
STANDUP: list[Line] = [
    ("1", 0.0, "Good morning. Let's keep this quick."),
    ("0", 2.5, "Morning. Yesterday I finished the login page and fixed the flaky test."),
    ("1", 7.5, "Nice. I'm going to review your pull request this afternoon."),
    ("0", 11.5, "Thanks. Today I'll write the migration script for the billing tables."),
    ("1", 16.0, "Okay, action items. Can you update the deployment notes before Friday?"),
    ("0", 21.5, "Yes, I'll take that one. We'll do that everything from me."),
    ("1", 25.5, "Thanks, see you tomorrow."),
]
STANDUP_CHATTER = [
    "Let's keep this quick.",
    "Okay, action items.",
    "Yes, I'll take that one.",
    "We'll do that everything from me.",
]


async def action_items_of(
    lines: Sequence[Line], names: Mapping[str, str] | None = None
) -> tuple[Transcript, ActionItems]:
    transcript = make_transcript(lines)
    content = await analyse(transcript, [AnalysisKind.ACTION_ITEMS], names)
    items = content[AnalysisKind.ACTION_ITEMS]
    assert isinstance(items, ActionItems)
    return transcript, items


async def test_the_standup_gives_its_three_items_and_none_of_the_chatter() -> None:
    """Three commitments, each owned by a person shown as the transcript shows them; the
    reply "Yes, I'll take that one." gives the request before it its owner."""
    transcript, items = await action_items_of(STANDUP)
    assert [(i.text, i.owner, i.due) for i in items.items] == [
        ("I'm going to review your pull request this afternoon.", "Speaker 1", "this afternoon"),
        ("Today I'll write the migration script for the billing tables.", "Speaker 0", "Today"),
        ("Can you update the deployment notes before Friday?", "Speaker 0", "before Friday"),
    ]
    texts = " ".join(i.text for i in items.items)
    assert not [line for line in STANDUP_CHATTER if line in texts]
    notes = items.items[2]
    assert notes.speaker == "1" and notes.segment_id == 4
    assert notes.timestamp == pytest.approx(sentence_start(transcript, "Can you update"))
    assert notes.timestamp > transcript.segments[4].start  # not "Okay, action items."


async def test_owners_are_the_named_speakers_when_names_are_set() -> None:
    """With the speakers named, "I'm going to ..." and the reply's taker are their names."""
    _, items = await action_items_of(STANDUP, {"0": "Marek", "1": "Jana"})
    assert [i.owner for i in items.items] == ["Jana", "Marek", "Marek"]


async def test_the_name_said_in_the_sentence_is_the_owner() -> None:
    """ "Dana will", "Kofi, can you", "Action item for Carol:" name their owner, whoever
    says them; a name in "I'll pair with Dana" leaves the item to its speaker."""
    _, items = await action_items_of(
        [
            ("0", 0.0, "Welcome to the design sync."),
            ("0", 2.0, "Dana will test the checkout flow on Monday."),
            ("1", 6.0, "Kofi, can you order the new monitors?"),
            ("2", 9.0, "Action item for Carol: renew the domain by Friday."),
            ("1", 13.0, "I'll pair with Dana on the accessibility review."),
        ],
        {"1": "Ingrid"},
    )
    assert [(i.owner, i.due) for i in items.items] == [
        ("Dana", "on Monday"),
        ("Kofi", None),
        ("Carol", "by Friday"),
        ("Ingrid", None),
    ]


async def test_a_reply_takes_the_task_of_the_request_before_it() -> None:
    """ "Can someone ...?" answered by "Sure, I'll handle it." is one item: the request's
    text and time, owned by who took it; "Bob, can you ...?" "Sure, I will ..." stays Bob's."""
    transcript, items = await action_items_of(
        [
            ("0", 0.0, "Can someone renew the SSL certificates by Friday?"),
            ("2", 4.0, "Sure, I'll handle it."),
            ("1", 6.0, "Bob, can you book the venue for the offsite?"),
            ("0", 10.0, "Sure, I will book the venue for the offsite tomorrow."),
        ]
    )
    assert [(i.text, i.owner, i.due, i.timestamp) for i in items.items] == [
        ("Can someone renew the SSL certificates by Friday?", "Speaker 2", "by Friday", 0.0),
        ("Bob, can you book the venue for the offsite?", "Bob", "tomorrow", 6.0),
    ]
    assert transcript.speakers == ("0", "2", "1")


LOOK_ALIKES = [
    "Let's keep this quick.",  # chatter
    "Okay, action items.",
    "That's everything from me.",
    "Let me share my screen.",
    "I'll be brief.",
    "Did you send the budget report?",  # questions
    "Are you going to fix the login test?",
    "When will we ship the hotfix?",
    "Yesterday I sent the budget report.",  # past tense
    "I was going to fix the login test but ran out of time.",
    "I should have merged the analytics branch earlier.",
    "Next we'll talk about the hiring plan.",  # agenda
    "Let's move on to the roadmap.",
    "We'll discuss the budget at the next meeting.",
    "If we had more time, I would rewrite the billing service.",  # hypotheticals
    "Maybe someday we could migrate to the new cluster.",
    "I'd love to translate the help center one day.",
    "I think the roadmap looks fine.",  # opinions
    "I don't think I can interview the candidates this week.",  # negations
    "We're not going to migrate the billing tables this sprint.",
    "Can you all hear me?",  # meeting talk
    "Let me pull up the board.",
    "Jonas will join later.",
    "Let's try to keep this under fifteen minutes.",
]


async def test_chatter_questions_past_agenda_and_hypotheticals_are_not_items() -> None:
    """None of these commits anyone to anything, in a meeting of three."""
    lines = [(str(i % 3), 4.0 * i, text) for i, text in enumerate(LOOK_ALIKES)]
    _, items = await action_items_of(lines)
    assert items.items == ()


async def test_no_owner_is_ever_a_bare_speaker_label() -> None:
    """Over the 24 development meetings of the benchmark (2-5 speakers, named or not), no
    owner is a raw label such as "0", and every unnamed speaker's owner reads "Speaker N"."""
    import json
    from pathlib import Path

    meetings = json.loads(
        (Path(__file__).parents[2] / "bench" / "data" / "action_items_dev.json").read_text()
    )
    owners: list[str | None] = []
    for meeting in meetings:
        lines: list[Line] = []
        for segment in meeting["segments"]:
            lines.append((segment["speaker"], segment["start"], segment["text"]))
        transcript, items = await action_items_of(lines, meeting["speaker_names"])
        labels = set(transcript.speakers)
        owners += [i.owner for i in items.items]
        assert not [i.owner for i in items.items if i.owner in labels], meeting["id"]
    assert len(owners) > 60
    assert any(o is not None and o.startswith("Speaker ") for o in owners)


async def test_bad_input_gives_clear_results() -> None:
    """One word, no speakers, no words: no crash; an "I'll" without a speaker has no
    owner rather than a made-up one."""
    _, items = await action_items_of([("0", 0.0, "Okay.")])
    assert items.items == ()
    _, items = await action_items_of([(None, 0.0, "I'll send the invoice tomorrow.")])
    assert [(i.owner, i.speaker, i.due) for i in items.items] == [(None, None, "tomorrow")]
    _, items = await action_items_of([(None, 0.0, "")])
    assert items.items == ()


@pytest.mark.parametrize(
    ("sentence", "owner"),
    [
        ("I plan to reconcile the expense reports by Wednesday.", "Speaker 1"),
        ("Count on me to draft the press release.", "Speaker 1"),
        ("My action item is to upgrade the staging database.", "Speaker 1"),
        ("Jonas agreed to check the contract with legal.", "Jonas"),
        ("Hiro'll write the postmortem for the outage.", "Hiro"),
        ("Could Amara test the payment flow on Android?", "Amara"),
        ("Let's have Elena update the customer FAQ.", "Elena"),
        ("Right, Sam will send the invoices to the accountant, yes?", "Sam"),
        ("Leila, I'll leave it to you to fix the broken link.", "Leila"),
        ("We need to archive the old project channels.", None),
    ],
)
async def test_commitment_phrasings_and_their_owners(sentence: str, owner: str | None) -> None:
    """Each phrasing is one item, owned by its speaker ("Speaker 1", unnamed), the person
    it names, or nobody for the team."""
    _, items = await action_items_of(
        [("0", 0.0, "Thanks for joining, everyone."), ("1", 3.0, sentence), ("2", 9.0, "Okay.")]
    )
    assert [(i.text, i.owner) for i in items.items] == [(sentence, owner)]


def test_ranking_memory_does_not_grow_with_the_square_of_the_length() -> None:
    """TextRank and the diverse picks work on the sparse sentence vectors: the scores are
    those of the dense similarity matrix, which is never built."""
    import tracemalloc

    import numpy as np

    from elyune_adapters.analysis.local.ranking import textrank, tfidf_matrix

    vocabulary = [f"term{n}" for n in range(3000)]
    rng = np.random.default_rng(7)

    def texts(count: int) -> list[list[str]]:
        return [list(rng.choice(vocabulary, size=10)) for _ in range(count)]

    small = texts(40)
    vectors = tfidf_matrix(small)
    dense = np.stack([vectors.row(i) for i in range(len(small))])
    similarity = dense @ dense.T
    np.fill_diagonal(similarity, 0.0)
    sums = similarity.sum(axis=1, keepdims=True)
    # a sentence like no other links to every sentence alike
    transition = np.where(sums > 0, similarity / np.where(sums == 0, 1.0, sums), 1 / len(small))
    expected = np.full(len(small), 1 / len(small))
    for _ in range(100):
        expected = 0.15 / len(small) + 0.85 * transition.T @ expected
    assert np.allclose(textrank(vectors), expected, atol=1e-9)

    peaks = []
    for count in (1000, 4000):  # a 4000-sentence dense similarity matrix alone is 128 MB
        many = texts(count)
        tracemalloc.start()
        textrank(tfidf_matrix(many))
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 20 * 2**20
