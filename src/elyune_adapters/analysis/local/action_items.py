"""Action items: commitments and assignments told from chatter (the classifier), with
their owners and due dates; a reply that accepts a request gives it its owner."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import attrs

from elyune_adapters.analysis.local.people import addressed, find_due, proper_names
from elyune_adapters.analysis.local.sentences import Sentence, _stem, tokens
from elyune_adapters.analysis.local.vocabulary import DUE, NOT_TOPICS, STOPWORDS, _wordset
from elyune_adapters.analysis.owners import UnknownOwnerError, resolve_owner
from elyune_core.entities import (
    ActionItem,
    ActionItems,
    Transcript,
)

# Words that open a sentence without changing what it says ("Okay, so, I'll ...").
_LEAD = (
    r"(?:(?:ok|okay|so|and|alright|all\s+right|right|great|sure(?:\s+thing)?|yes|yeah|yep|"
    r"fine|cool|then|also|today|tomorrow|first|next|now|well|perfect|good|absolutely|"
    r"of\s+course|no\s+problem|just\s+to\s+confirm|to\s+recap|recap|in\s+that\s+case|"
    r"after\s+lunch|later\s+today|this\s+afternoon|this\s+morning|anyway|um|uh|"
    r"sounds\s+good|will\s+do|got\s+it|no\s+worries|for\s+sure|definitely|don't\s+worry|"
    r"to\s+summari[sz]e|in\s+summary|to\s+sum\s+up|quick\s+recap|recapping)\b"
    r"[\s,:.!-]*)*"
)


_I_WILL = re.compile(
    r"\bi\s*(?:'ll|\s+will|\s+shall|'m\s+going\s+to|\s+am\s+going\s+to|'m\s+gonna|"
    r"\s+can\s+take|'m\s+taking|\s+(?:need|have|got)\s+to|\s+volunteer\s+to|"
    r"\s+promise\s+to|\s+commit\s+to|\s+(?:plan|intend|aim)\s+to|(?:'m|\s+am)\s+planning\s+to|"
    r"'ll\s+try\s+to|\s+can\s+(?!see\b|hear\b|tell\b|imagine\b|understand\b|say\b|think\b|"
    r"only\b|already\b|confirm\s+that\b))\b|\blet\s+me\b|\bcount\s+on\s+me\s+to\b|"
    r"\bleave\s+(?:it|this|that)\s+(?:to|with)\s+me\b|"
    r"\bmy\s+(?:action\s+items?|next\s+steps?|to-?dos?)\s+"
    r"(?:is|are|will\s+be)\s+(?:to\s+)?",
    re.IGNORECASE,
)


# What follows "I'll" or "let me" when it is talk about the meeting, not a task.
_NOT_A_TASK = re.compile(
    r"^\s*(?:just\s+)?(?:be\s+(?:honest|frank|brief|clear|quick|candid|straight|short|fine|"
    r"okay|ok|back|right\s+back|there|out|off|away|late|on\s+(?:vacation|holiday|leave))|"
    r"say|admit|guess|bet|never|not|see\s+(?:you|what|how|if|whether)|talk\s+to\s+you|"
    r"know|think|hand\s+(?:it\s+)?over|pass\s+(?:it\s+)?(?:on|over|to|back)|go\s+first|"
    r"start(?:\s+us)?(?:\s+off)?\b(?!\s+(?:the|a|an|on|drafting|writing|working)\b)|"
    r"begin|kick\s+(?:it|us|things)\s+off|keep\s+(?:it|this)\s+(?:short|quick|brief)|"
    r"stop\s+(?:sharing|there|here)|share\s+(?:my|the|a)\s+screen|(?:un)?mute|"
    r"leave\s+it\s+there|wrap\s+(?:it\s+|this\s+)?up|jump\s+(?:in|off)|drop\s+off|repeat|"
    r"explain\s+(?:that|again)|try\s+again|let\s+you\s+go|continue|move\s+on|"
    r"summari[sz]e|recap|quickly\s+\w+|"
    r"(?:just\s+)?(?:check|look\s+at|pull\s+up|find|open|grab)\s+my|pull\s+up|bring\s+up|"
    r"hand\s+(?:it\s+|this\s+)?back|give\s+(?:it\s+)?back|keep\s+(?:it|this)\s+\w+)\b",
    re.IGNORECASE,
)


# What follows "let's" / "we'll" when it is agenda talk or chatter.
_AGENDA = re.compile(
    r"^\s*(?:keep\s+(?:it|this|things)\s+(?:short|quick|brief)|get\s+(?:started|going)|"
    r"start|begin|move\s+on|wrap\s+(?:it\s+|this\s+|things\s+)?up|"
    r"go\s+(?:around|through|over)|talk\s+(?:about|through)|discuss|cover|recap|"
    r"look\s+at\s+the\s+agenda|review\s+the\s+agenda|take\s+a\s+(?:break|minute|second)|"
    r"see|hear\s+from|circle\s+back|come\s+back\s+to|get\s+to|continue|"
    r"pick\s+(?:this|it|that)\s+up|do\s+(?:that|this|it)\b|call\s+it|end|finish\s+(?:here|early)|"
    r"stop\s+here|meet\s+again|be\s+\w+|focus\s+on|jump\s+(?:in|into)|dive\s+in|"
    r"(?:have\s+to\s+|need\s+to\s+)?(?:wait|see)|try\s+to\s+keep|kick\s+(?:it\s+|things\s+)?off|"
    r"get\s+going|(?:look\s+at|turn\s+to|switch\s+to|go\s+to)\b[^,.;]*\bnext\b|"
    r"first\s+\w+|quickly\s+\w+|now\s+\w+)\b",
    re.IGNORECASE,
)


_PAST = re.compile(
    r"\b(?:was|were)\s+(?:going|supposed|meant|planning|hoping)\s+to\b|"
    r"\b(?:should|would|could|must|might|may)\s*(?:n't\s*)?(?:have|'ve)\b|"
    r"\b(?:said|promised|told\s+\w+|mentioned)\s+(?:that\s+)?(?:i|we|he|she|they)\s*"
    r"(?:'d|'ll|\s+would|\s+will)\b|\bi\s+already\b|\bhad\s+(?:planned|hoped)\b",
    re.IGNORECASE,
)


_HYPOTHETICAL = re.compile(
    r"^\W*if\b.*\b(?:would|could|might)\b|\bif\s+(?:we|i|you|they|it|the\s+\w+)\s+"
    r"(?:had|were|allowed|could)\b|\b(?:someday|some\s+day|one\s+day|eventually|"
    r"in\s+theory|at\s+some\s+point|in\s+an\s+ideal\s+world|hypothetically)\b|"
    r"\bit\s+would\s+be\s+(?:nice|great|good|cool|ideal)\b|"
    r"\b(?:i|we|they|you)\s*(?:'d|\s+would)\s+(?:love|like|prefer|want)\s+to\b|"
    r"\b(?:i|we|they)\s+(?:might|may|could|would)\b|\b(?:i|we|they)'d\b(?!\s+like\s+you)",
    re.IGNORECASE,
)


_ASK = re.compile(
    r"\b(?:can|could|would|will)\s+(?:you|someone|somebody|anyone|anybody|one\s+of\s+you)"
    r"\s+(?!(?:all|guys|both)\s+(?:hear|see)\b)(?:all\s+|guys\s+|both\s+)?"
    r"(?:please\s+|maybe\s+|also\s+|quickly\s+)?(?!believe\b|imagine\b|hear\b|see\s+my\b|"
    r"repeat\b|say\b|remind\s+me\b)[^\W\d_]|\bwho\s+(?:can|could|wants\s+to|will|is\s+able\s+to)\b|"
    r"\b(?:is|are)\s+(?:anyone|anybody|someone|somebody|you)\s+(?:able|willing|free|available)"
    r"\s+to\b|\bdo\s+you\s+have\s+(?:the\s+)?(?:time|a\s+minute|bandwidth|capacity)\s+to\b|"
    r"\bwould\s+you\s+mind\b|\bany\s+volunteers?\b|"
    r"^\W*(?:anyone|anybody|someone|somebody)\s+(?:free|able|willing|available|wants?)\s+to\b|"
    r"\bdoes\s+(?:anyone|anybody|someone)\s+"
    r"want\s+to\b",
    re.IGNORECASE,
)


_TELL = re.compile(
    r"\bplease\s+(?!be\s+aware|note\b|find\b|see\s+attached|hold\b|welcome\b)[^\W\d_]|"
    r"\b(?:when(?:ever)?\s+you\s+(?:get|have)\s+(?:a|the)\s+(?:chance|minute|moment|second)|"
    r"if\s+you\s+(?:can|could|have\s+(?:the\s+)?time)|when\s+you\s+can)\b|"
    r"\bi\s+(?:need|want|'d\s+like|would\s+like)\s+you\s+to\b|"
    r"\b(?:you|you'll|you\s+will)\s+(?:need\s+to|have\s+to|must)\b|"
    r"\b(?:leave|leaving)\s+(?:it|this|that)\s+(?:to|with)\s+you\b|\bover\s+to\s+you\b",
    re.IGNORECASE,
)


_YOU_WILL = re.compile(
    r"\byou\s*(?:'ll|\s+will|'re\s+going\s+to|\s+are\s+going\s+to)\s+(?!be\s+\w+ed\b)",
    re.IGNORECASE,
)


_TAG_QUESTION = re.compile(r",\s*(?:yes|right|ok|okay|correct|yeah|agreed|no)\s*\?$", re.IGNORECASE)


_OPEN = re.compile(
    r"\b(?:can|could|would|will)\s+(?:someone|somebody|anyone|anybody|one\s+of\s+you)\b|"
    r"\bwho\s+(?:can|could|wants\s+to|will|is\s+able\s+to)\b|"
    r"\b(?:is|are)\s+(?:anyone|anybody|someone|somebody)\s+(?:able|willing|free|available)\b|"
    r"\bany\s+volunteers?\b|\bdoes\s+(?:anyone|anybody|someone)\s+want\s+to\b|"
    r"^\W*(?:anyone|anybody|someone|somebody)\s+(?:free|able|willing|available|wants?)\s+to\b|"
    r"\bneed\s+(?:someone|somebody|a\s+volunteer)\s+to\b|"
    r"\b(?:someone|somebody)\s+(?:needs|has|should|must)\b",
    re.IGNORECASE,
)


_TEAM = re.compile(
    r"\b(?:we|the\s+team|everyone|everybody|all\s+of\s+us)\s*(?:'ll|\s+will|\s+shall|"
    r"'re\s+going\s+to|\s+are\s+going\s+to|\s+(?:really\s+)?(?:need|have|got)\s+to|\s+must|"
    r"\s+should)\b|\blet'?s\b|\blet\s+us\b|^\W*(?:make\s+sure|remember\s+to|"
    r"don't\s+forget\s+to|be\s+sure\s+to)\b",
    re.IGNORECASE,
)


_ACTION_ITEM = re.compile(
    r"\b(?:action\s+items?|to-?\s?dos?|next\s+step)\s*(?:for\s+([^\W\d_]+))?\s*[:\-–]\s*(?=\w)",
    re.IGNORECASE,
)


_REPLY = re.compile(
    rf"^\W*{_LEAD}(?:(?:i\s*(?:'ll|\s+will|\s+can|\s+could)|let\s+me|i'?m\s+happy\s+to|"
    r"happy\s+to)\s+(?:(?:definitely|gladly|also)\s+)?(?:take|do|handle|own|grab|pick\s+up|"
    r"cover|take\s+care\s+of|look\s+into|get|deal\s+with|sort\s+out|tackle|run\s+with|"
    r"jump\s+on)(?:\s+(?:that|it|this|those|them))?(?:\s+one)?(?:\s+on)?(?:\s+for\s+you)?"
    r"|(?:i'?m\s+)?on\s+it|will\s+do|consider\s+it\s+done|leave\s+it\s+with\s+me|"
    r"count\s+me\s+in|i'?ll\s+volunteer|that's\s+mine|mine)\b(?P<rest>[^.!?]*)[.!]*\s*$",
    re.IGNORECASE,
)


_VAGUE = _wordset(
    """
    everything something anything nothing stuff thing things one ones that this it them
    those these all rest whole part piece bit side end point today tomorrow tonight
    from me us you
    """
)


# A question the speech engine wrote without its question mark.
_QUESTION_WORDS = re.compile(
    r"^\W*(?:what|when|where|why|how|which|whose)\b|^\W*(?:did|do|does|are|is|was|were|have|"
    r"has|had|should|shall|could|would|can|will|may|might)\s+(?:i|you|we|they|he|she|it|the|"
    r"this|that|there|anyone|anybody|someone|somebody|everyone)\b",
    re.IGNORECASE,
)


_NEGATED = re.compile(
    r"\b(?:can't|cannot|can\s+not|won't|will\s+not|shan't|unable\s+to|not\s+able\s+to|"
    r"(?:'m|am|are|'re|is|'s)\s+not\s+going\s+to|don't\s+(?:think|need|have\s+to|plan)|"
    r"do\s+not\s+(?:think|need|plan)|no\s+need\s+to|not\s+going\s+to|nobody|no\s+one)\b",
    re.IGNORECASE,
)


@attrs.frozen
class Claim:
    """What an action-item sentence says: its kind, who it names and its task's words.

    ``kind`` is ``commit`` (the speaker's own "I'll ..."), ``assign`` (to the person in
    ``person``), ``ask`` (a request to "you"), ``open`` (to anyone), ``team`` ("we need
    to ...", nobody in particular) or ``reply`` (a "Yes, I'll take that one." that takes
    its task from the request before it).
    """

    kind: str
    person: str | None = None
    terms: frozenset[str] = frozenset()


def _task_terms(task: str, people: Mapping[str, str]) -> frozenset[str]:
    """The words of *task* that say what is to be done (names of people count)."""
    due = DUE.search(task)
    if due:
        task = task[: due.start()] + " " + task[due.end() :]
    terms = set()
    for token in tokens(task):
        if token in people:
            terms.add(token)
        elif (
            token not in STOPWORDS
            and token not in NOT_TOPICS
            and token not in _VAGUE
            and not token.isdigit()
            and len(token) > 1
        ):
            terms.add(_stem(token))
    return frozenset(terms)


def _named_subject(text: str, people: Mapping[str, str]) -> str | None:
    """The person a sentence gives the task to: "Dana will ...", "Action item: Dana to ..."."""
    for match in re.finditer(r"[^\W\d_]+", text):
        person = people.get(match.group(0).lower())
        if person is None or not match.group(0)[:1].isupper():
            continue
        after = text[match.end() :]
        before = text[: match.start()]
        if re.match(
            r"\s*(?:'ll|\s+will|\s+shall|\s+is\s+going\s+to|'s\s+going\s+to|\s+(?:needs|has)\s+to|"
            r"\s+should|\s+must|\s+can(?!\s+be\b)|\s+takes|\s+owns|\s+is\s+on|"
            r"\s+(?:agreed|offered|volunteered|promised)\s+to)\b"
            r"(?!\s+(?:be\s+(?:out|off|away|late|back)|join|arrive|leave|drop|come|see|hear)\b)",
            after,
            re.IGNORECASE,
        ):
            return person
        if re.search(r"\b(?:can|could|would|will)\s+$", before, re.IGNORECASE) and re.match(
            r"\s+(?:please\s+)?(?!be\b)[a-z]", after
        ):
            return person  # "Could Dana update the notes?"
        if re.match(r"\s*:\s*\w", after) and not re.search(r"\w\s*$", before.rstrip(", ")):
            return person  # "Over to you, Dana: ..."
        if re.search(r"\blet'?s\s+(?:get|have|ask)\s+$", before, re.IGNORECASE):
            return person  # "Let's have Dana update the notes."
        if re.match(r"\s+to\s+(?!be\b)[^\W\d_]", after) and re.search(
            r"(?:^|[:;,\-–])\s*$|\b(?:action\s+items?|next\s+steps?)\W*$", before, re.IGNORECASE
        ):
            return person
    return None


def classify(text: str, people: Mapping[str, str]) -> Claim | None:
    """What kind of action item *text* is, if it is one (see :class:`Claim`).

    *people* maps lower-cased names said in the meeting to their spelling. Not items:
    past tense, hypotheticals, questions that are not requests, agenda talk and chatter,
    and promises without a task ("We'll do that.").
    """
    clean = _TAG_QUESTION.sub(".", " ".join(text.replace("’", "'").split()))
    if not clean or _PAST.search(clean) or _NEGATED.search(clean):
        return None
    asked = _ASK.search(clean) is not None
    told = _TELL.search(clean) is not None
    if _HYPOTHETICAL.search(clean) and not (asked or told):
        return None
    named_ask = re.search(r"^\W*(?:\w+\W+){0,2}?(?i:can|could|would|will)\s+[A-Z]", clean)
    asked = asked or (named_ask is not None and _named_subject(clean, people) is not None)
    question = clean.endswith("?") or (_QUESTION_WORDS.match(clean) is not None and not asked)
    if question and not asked:
        return None
    reply = _REPLY.match(clean)
    if reply and not _task_terms(reply.group("rest"), people):
        return Claim("reply")
    marker = _ACTION_ITEM.search(clean)
    if marker:
        named = people.get((marker.group(1) or "").lower()) or _named_subject(clean, people)
        terms = _task_terms(clean[marker.end() :], people)
        if terms:
            return Claim("assign" if named else "team", named, terms)
        return None
    named = _named_subject(clean, people)
    if named:
        said = re.search(rf"\b{re.escape(named)}\b", clean, re.IGNORECASE)
        terms = _task_terms(clean[said.end() :] if said else clean, people) - {named.lower()}
        return Claim("assign", named, terms) if terms else None
    you = addressed(clean, set(people.values()))
    yours = _YOU_WILL.search(clean) if you else None
    if yours and you:  # "Dana, you'll send the report."
        terms = _task_terms(clean[yours.end() :], people)
        return Claim("assign", you, terms) if terms else None
    if asked or told:
        request = _ASK.search(clean) or _TELL.search(clean)
        assert request is not None
        terms = _task_terms(clean[request.start() :], people) - {(you or "").lower()}
        if not terms or _NOT_A_TASK.match(clean[request.end() - 1 :]):
            return None
        if you:
            return Claim("assign", you, terms)
        return Claim("open" if _OPEN.search(clean) else "ask", None, terms)
    if _OPEN.search(clean):
        found = _OPEN.search(clean)
        assert found is not None
        terms = _task_terms(clean[found.end() :], people)
        return Claim("open", None, terms) if terms else None
    mine = _I_WILL.search(clean)
    if mine:
        task = clean[mine.end() :]
        if _NOT_A_TASK.match(task):
            return None
        terms = _task_terms(task, people)
        return Claim("commit", None, terms) if terms else Claim("reply")
    team = _TEAM.search(clean)
    if team:
        task = clean[team.end() :]
        if _AGENDA.match(task):
            return None
        terms = _task_terms(task, people)
        return Claim("team", None, terms) if terms else None
    return None


def _alike(a: frozenset[str], b: frozenset[str], threshold: float = 0.6) -> bool:
    if not a or not b:
        return False
    shared = len(a & b)
    return shared / len(a | b) >= threshold or (shared >= 2 and shared / min(len(a), len(b)) >= 0.8)


@attrs.define
class _Item:
    """An action item being collected."""

    sentence: Sentence
    claim: Claim
    owner: str | None
    due: str | None
    taken: bool = False


def action_items(
    sentences: Sequence[Sentence], transcript: Transcript, names: Mapping[str, str]
) -> ActionItems:
    """Commitments and assignments, each with a person as owner, due date and timing.

    Owners follow :func:`~elyune_adapters.analysis.owners.resolve_owner`: "I'll ..." is
    the speaker's (their name, else ``Speaker <label>``), "Dana will ..." and "Dana, can
    you ..." are Dana's, a request to "you" in a two-person talk is the other speaker's,
    and a request answered by "Yes, I'll take that one." is who answered. A reply, an
    acknowledgement ("Sure, I will send it.") or a recap of an item is not a new item.
    """
    found = proper_names(transcript, names)
    people = {p.lower(): p for p in found}
    speakers = transcript.speakers
    items: list[_Item] = []

    def owner(value: str | None, speaker: str | None) -> str | None:
        try:
            return resolve_owner(value, speakers, names, speaker=speaker)
        except UnknownOwnerError:
            return None

    for sentence in sentences:
        claim = classify(sentence.text, people)
        if claim is None:
            continue
        said_by = owner("I", sentence.speaker)
        request = next(
            (
                item
                for item in reversed(items)
                if item.claim.kind in ("assign", "ask", "open")
                and not item.taken
                and item.sentence.speaker != sentence.speaker
                and sentence.speaker is not None
                and sentence.index - item.sentence.index <= 4
            ),
            None,
        )
        answers = request is not None and (
            claim.kind == "reply"
            or (claim.kind == "commit" and _alike(claim.terms, request.claim.terms, 0.5))
        )
        if request is not None and answers:
            request.taken = True
            named = request.claim.person
            given = names.get(sentence.speaker or "")
            if said_by is not None and (named is None or (given and given != named)):
                request.owner = said_by
            request.due = request.due or find_due(sentence.text)
            continue
        if claim.kind == "reply":
            continue  # "I'll do that." answering nothing asks nothing of anyone
        if claim.kind == "commit":
            who = said_by
        elif claim.kind == "assign":
            who = owner(claim.person, sentence.speaker)
        elif claim.kind == "ask" and sentence.speaker is not None and len(speakers) == 2:
            other = speakers[1] if sentence.speaker == speakers[0] else speakers[0]
            who = owner(other, sentence.speaker)
        else:
            who = None
        repeated = any(
            (
                _alike(claim.terms, item.claim.terms)
                and (who == item.owner or who is None or item.owner is None)
            )
            or _alike(claim.terms, item.claim.terms, 0.75)
            for item in items
        )
        if repeated:
            continue
        items.append(_Item(sentence, claim, who, find_due(sentence.text)))
    return ActionItems(
        items=tuple(
            ActionItem(
                text=item.sentence.text,
                timestamp=item.sentence.start,
                segment_id=item.sentence.segment_id,
                speaker=item.sentence.speaker,
                owner=item.owner,
                due=item.due,
            )
            for item in items
        )
    )
