"""Word lists of the local analyzer: stop words, commitment verbs, cues."""

from __future__ import annotations

import re


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOPWORDS = _wordset(
    """
    a about above after again against all almost also although always am among an and
    another any anybody anyone anything anyway are aren't around as at away back be
    because been before being below between both but by can can't cannot could couldn't
    did didn't do does doesn't doing don't done down during each either else enough even
    ever every few for from further get gets getting got had hadn't has hasn't have
    haven't having he he'd he'll he's her here here's hers herself him himself his how
    how's however i i'd i'll i'm i've if in into is isn't it it's its itself just let
    let's like likely made make many may maybe me might mine more most much must mustn't
    my myself need needs neither never no nor not now of off often oh ok okay on once one
    only or other others otherwise our ours ourselves out over own perhaps quite rather
    really same say says said see seems shall shan't she she'd she'll she's should
    shouldn't since so some somebody someone something sometimes still such sure than that
    that's the their theirs them themselves then there there's these they they'd they'll
    they're they've thing things this those though through thus to too under until up
    upon us very via was wasn't we we'd we'll we're we've well were weren't what what's
    whatever when when's where where's whether which while who who's whom whose why why's
    will with within without won't would wouldn't yeah yes yet you you'd you'll you're
    you've your yours yourself yourselves um uh hmm mm ah actually basically literally
    right going gonna wanna kind sort lot lots bit anyway
    """
)


# Words that say nothing about the topic: greetings, praise, fillers, common verbs and
# time words. They split key phrases (as stopwords do) and never make a title.
NOT_TOPICS = _wordset(
    """
    good great excellent perfect wonderful nice fine awesome amazing fantastic terrible
    awful bad happy pleased glad sad sorry love loves loved hate like likes liked thanks
    thank hello hi hey bye goodbye morning afternoon evening night day days today
    tomorrow tonight yesterday week weeks month months year years time times minute
    minutes hour hours monday tuesday wednesday thursday friday saturday sunday weekend
    everyone everybody guys folks team's new old big small little next last first second
    third join joining joined send sending sent update updating updated fix fixing fixed
    do does did go goes going went come comes came take takes took give gives gave put
    puts keep keeps think thinks thought know knows knew want wants wanted try tries tried
    call calls called ask asks asked tell tells told look looks looked feel feels felt
    seem seems use uses used work works worked talk talks talked start started finish
    finished agree agreed mean means meant glad appreciate appreciated job
    """
)


# Words that start sentences and are followed by a comma, like names are ("Bob, ...").
INTERJECTIONS = _wordset(
    """
    alright absolutely agreed also anyway besides cool correct definitely exactly
    everything everyone first finally fine gosh guys honestly however indeed listen look
    meanwhile nothing now oops otherwise people please second sorry team then therefore
    third true well whoa wow yep nope anyhow additionally
    """
)


_NOUN_ENDINGS = ("ly", "ment", "tion", "sion", "ness", "ity", "ance", "ence", "ing", "ers")


NUMBER_WORDS = _wordset("zero one two three four five six seven eight nine ten")


ABBREVIATIONS = _wordset(
    "mr mrs ms dr prof sr jr st vs etc e.g i.e inc ltd co corp approx dept fig no"
)


WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"


MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)


_DATE = (
    rf"(?:(?:{MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{MONTHS})\b(?:\s+\d{{4}})?"
    r"|\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}(?:/\d{2,4})?)"
)


_TIME = r"(?:\d{1,2}(?::\d{2})?\s*(?:a\.?m\.?|p\.?m\.?)|noon|midnight|\d{1,2}:\d{2})"


_PERIOD = (
    rf"(?:tomorrow(?:\s+(?:morning|afternoon|evening|night))?|today|tonight|eod|eow|"
    rf"(?:the\s+)?end\s+of\s+(?:the\s+|this\s+|next\s+)?"
    rf"(?:day|week|month|quarter|year|sprint|{WEEKDAYS})|"
    rf"(?:next|this|coming)\s+(?:week|month|quarter|sprint|morning|afternoon|evening|{WEEKDAYS})|"
    rf"(?:{WEEKDAYS})(?:\s+(?:morning|afternoon|evening))?|{_DATE}|{_TIME})"
)


DUE = re.compile(
    rf"\b(?:(?:by|before|until|no\s+later\s+than|on|at)\s+{_PERIOD}"
    rf"|(?:within|in)\s+(?:\d+|{'|'.join(NUMBER_WORDS)}|a|an|a\s+couple\s+of)\s+"
    r"(?:hours?|days?|weeks?|months?)"
    rf"|{_PERIOD})\b",
    re.IGNORECASE,
)


_CALENDAR = frozenset(WEEKDAYS.split("|")) | frozenset(MONTHS.split("|"))


_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)


_SENTENCE_END = re.compile(r"(?<=[.!?。！？…])[\"'”’)\]]*\s+|(?<=[。！？])")
