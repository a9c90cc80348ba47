"""Which languages the configured transcriber accepts, checked when a request names one.

Whisper knows a fixed list of codes (an English-only model such as ``base.en`` knows
``en`` only); Deepgram takes BCP-47 tags of the languages it transcribes (``en-US``,
``pt-BR``) and ``multi``. Without this a code like ``zz`` was accepted by the API and
failed only when the recording was transcribed.
"""

from __future__ import annotations

from elyune_core.ports import LanguageSupport

# What faster-whisper's WhisperModel.supported_languages lists (a test keeps the two
# equal): importing faster-whisper here would cost the API process 0.7 s and 30 MB.
_WHISPER_CODES = (
    "af", "am", "ar", "as", "az", "ba", "be", "bg", "bn", "bo", "br", "bs", "ca", "cs", "cy",
    "da", "de", "el", "en", "es", "et", "eu", "fa", "fi", "fo", "fr", "gl", "gu", "ha", "haw",
    "he", "hi", "hr", "ht", "hu", "hy", "id", "is", "it", "ja", "jw", "ka", "kk", "km", "kn",
    "ko", "la", "lb", "ln", "lo", "lt", "lv", "mg", "mi", "mk", "ml", "mn", "mr", "ms", "mt",
    "my", "ne", "nl", "nn", "no", "oc", "pa", "pl", "ps", "pt", "ro", "ru", "sa", "sd", "si",
    "sk", "sl", "sn", "so", "sq", "sr", "su", "sv", "sw", "ta", "te", "tg", "th", "tk", "tl",
    "tr", "tt", "uk", "ur", "uz", "vi", "yi", "yo", "zh", "yue",
)  # fmt: skip
WHISPER_LANGUAGES = frozenset(_WHISPER_CODES)
EXAMPLES = "en, de, fr, es, pt, ja"


def _any_case(code: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in code)


def _one_of(codes: tuple[str, ...]) -> str:
    return "(?:" + "|".join(_any_case(c) for c in sorted(codes, key=len, reverse=True)) + ")"


class WhisperLanguages(LanguageSupport):
    """The languages of a faster-whisper model: its list, or ``en`` for ``*.en`` models."""

    def __init__(self, model: str) -> None:
        self._model = model
        self._english_only = model.endswith(".en")

    def problem(self, language: str) -> str | None:
        code = language.lower()
        if self._english_only:
            if code == "en":
                return None
            return f'The speech model ({self._model}) transcribes English only: use "en".'
        if code in WHISPER_LANGUAGES:
            return None
        base = code.split("-", 1)[0]
        if base in WHISPER_LANGUAGES:
            return f'Whisper takes the language without a region: use "{base}".'
        return f'"{language}" is not a language Whisper knows (codes like {EXAMPLES}).'

    def pattern(self) -> str:
        return _any_case("en") if self._english_only else _one_of(_WHISPER_CODES)


class DeepgramLanguages(LanguageSupport):
    """A known language code with an optional region (``en``, ``en-US``), or ``multi``."""

    def problem(self, language: str) -> str | None:
        code = language.lower()
        if code == "multi" or code.split("-", 1)[0] in WHISPER_LANGUAGES:
            return None
        return f'"{language}" is not a language code Deepgram takes (like en, en-US, pt-BR).'

    def pattern(self) -> str:
        return f"(?:{_any_case('multi')}|{_one_of(_WHISPER_CODES)}(?:-[A-Za-z0-9]{{1,8}})*)"
