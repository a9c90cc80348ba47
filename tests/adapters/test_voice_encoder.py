"""The ONNX voice encoder against embeddings of the original torch model.

``tests/data/voice_encoder/reference.json`` holds Resemblyzer's embeddings of the clips
beside it, computed with librosa and torch by ``scripts/convert_voice_encoder.py``; the
runtime path (numpy mel front end + onnxruntime) must give the same vectors.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from elyune_adapters.asr.voice_encoder import (
    VoiceEncoder,
    VoiceEncoderError,
    mel_spectrogram,
    model_path,
    normalize_volume,
    open_wav,
    read_span,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "voice_encoder"


@pytest.fixture(scope="module")
def encoder() -> VoiceEncoder:
    return VoiceEncoder(threads=1)


def clip(name: str) -> np.ndarray:
    with open_wav(DATA / name) as reader:
        return read_span(reader, 0.0, 1e9)


@pytest.mark.parametrize("name", ["female.wav", "male.wav", "short.wav"])
def test_onnx_embeddings_match_the_torch_model(encoder: VoiceEncoder, name: str) -> None:
    reference = np.array(json.loads((DATA / "reference.json").read_text())["embeddings"][name])
    embedding = encoder.embed_utterance(normalize_volume(clip(name)))
    assert embedding.shape == (256,)
    cosine = float(embedding @ reference / np.linalg.norm(reference))
    assert cosine >= 0.9999


def test_two_voices_are_further_apart_than_one_voice_with_itself(encoder: VoiceEncoder) -> None:
    female, male = clip("female.wav"), clip("male.wav")
    first = encoder.embed_utterance(normalize_volume(female[: len(female) // 2]))
    second = encoder.embed_utterance(normalize_volume(female[len(female) // 2 :]))
    other = encoder.embed_utterance(normalize_volume(male))
    assert float(first @ second) > float(first @ other)


def test_batches_do_not_change_embeddings(encoder: VoiceEncoder) -> None:
    mels = np.random.default_rng(1).random((5, 160, 40), dtype=np.float32)
    together = encoder.embed_mels(mels)
    alone = np.concatenate([encoder.embed_mels(mels[i : i + 1]) for i in range(5)])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_mel_frames_follow_the_hop() -> None:
    assert mel_spectrogram(np.zeros(16_000, dtype=np.float32)).shape == (101, 40)


def test_silence_gives_a_zero_vector_not_nan(encoder: VoiceEncoder) -> None:
    embedding = encoder.embed_mels(np.zeros((1, 160, 40), dtype=np.float32))
    assert np.isfinite(embedding).all()


def test_a_damaged_model_is_refused(tmp_path: Path) -> None:
    damaged = tmp_path / "voice_encoder.onnx"
    shutil.copyfile(model_path(), damaged)
    with damaged.open("r+b") as handle:
        handle.seek(1000)
        handle.write(b"\x00" * 16)
    with pytest.raises(VoiceEncoderError, match="damaged"):
        VoiceEncoder(path=damaged).embed_mels(np.zeros((1, 160, 40), dtype=np.float32))


def test_a_file_that_is_not_16khz_mono_wav_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "x.wav"
    bogus.write_bytes(b"not a wav")
    with pytest.raises(VoiceEncoderError, match="cannot read"):
        open_wav(bogus)
