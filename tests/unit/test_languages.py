"""The language list the API checks against is faster-whisper's own."""

from __future__ import annotations

from faster_whisper.tokenizer import _LANGUAGE_CODES

from elyune_adapters.asr.languages import WHISPER_LANGUAGES, WhisperLanguages


def test_the_copied_whisper_language_list_matches_faster_whisper():
    assert frozenset(_LANGUAGE_CODES) == WHISPER_LANGUAGES


def test_whisper_languages_explain_what_to_use():
    multilingual = WhisperLanguages("base")
    assert multilingual.problem("ja") is None
    assert multilingual.problem("EN") is None
    assert 'use "pt"' in multilingual.problem("pt-BR")
    assert "zz" in multilingual.problem("zz")
    assert WhisperLanguages("small.en").problem("en") is None
    assert "English only" in WhisperLanguages("small.en").problem("fr")
