"""Convert Resemblyzer's voice encoder to ONNX and record reference embeddings (run once).

Elyune's speaker diarization (``elyune_adapters.asr.voice_encoder``) runs Resemblyzer's
GE2E voice encoder (a 3-layer LSTM over 40-channel mel frames giving 256-dim d-vectors,
Apache-2.0) with onnxruntime and a numpy mel front end, so torch is never needed at run
time. This script makes the two committed files that run needs:

* ``src/elyune_adapters/asr/models/voice_encoder.onnx``: the network, exported from the
  ``pretrained.pt`` shipped inside the ``resemblyzer`` wheel (input ``mels``
  ``[batch, frames, 40]`` float32, output ``embeddings`` ``[batch, 256]``, L2-normed);
  its sha256 goes into ``voice_encoder.py`` (checked at every load).
* ``tests/data/voice_encoder/reference.json``: embeddings of the reference clips
  (``tests/data/voice_encoder/*.wav``) computed the original way, with librosa's mel
  spectrogram and the torch model (Resemblyzer's ``embed_utterance``: partial utterances
  of 160 frames at 1.3 per second, mean of the L2-normed partial embeddings, L2-normed;
  the volume first raised to -30 dBFS as in Resemblyzer's ``preprocess_wav``). The test
  ``tests/adapters/test_voice_encoder.py`` checks the ONNX path against them.

Run it in its own virtualenv, never in the project's (torch is big and not a dependency)::

    python3 -m venv /tmp/convert-venv
    /tmp/convert-venv/bin/pip install torch==2.13.0 onnx librosa==0.11.0
    pip download resemblyzer==0.1.4 --no-deps -d /tmp/rz   # the wheel holds pretrained.pt
    /tmp/convert-venv/bin/python scripts/convert_voice_encoder.py \\
        /tmp/rz/Resemblyzer-0.1.4-py3-none-any.whl

The network is rebuilt here (the same layers as Resemblyzer's ``VoiceEncoder``) so that
its module, which imports webrtcvad, need not be installed.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import wave
import zipfile
from pathlib import Path

import librosa
import numpy as np
import torch
from torch import nn

REPO_ROOT = Path(__file__).resolve().parents[1]
MODEL_OUT = REPO_ROOT / "src" / "elyune_adapters" / "asr" / "models" / "voice_encoder.onnx"
CLIPS = REPO_ROOT / "tests" / "data" / "voice_encoder"

SAMPLE_RATE = 16_000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
MELS = 40
PARTIAL = 160  # frames per partial utterance (1.6 s)
RATE = 1.3  # partial utterances per second
MIN_COVERAGE = 0.75
TARGET_DBFS = -30.0


class VoiceEncoder(nn.Module):
    """Resemblyzer's network: LSTM(40 -> 256, 3 layers), Linear(256 -> 256), ReLU, L2 norm."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(MELS, 256, 3, batch_first=True)
        self.linear = nn.Linear(256, 256)
        self.relu = nn.ReLU()

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(mels)
        raw = self.relu(self.linear(hidden[-1]))
        return raw / torch.norm(raw, dim=1, keepdim=True)


def load_encoder(wheel: Path) -> VoiceEncoder:
    with zipfile.ZipFile(wheel) as archive:
        data = archive.read("resemblyzer/pretrained.pt")
    checkpoint = torch.load(io.BytesIO(data), map_location="cpu")
    encoder = VoiceEncoder()
    encoder.load_state_dict(checkpoint["model_state"], strict=False)
    encoder.eval()
    return encoder


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as reader:
        assert reader.getframerate() == SAMPLE_RATE and reader.getnchannels() == 1
        pcm = np.frombuffer(reader.readframes(reader.getnframes()), "<i2")
    return pcm.astype(np.float32) / 32768.0


def normalize_volume(wav: np.ndarray) -> np.ndarray:
    rms = np.sqrt(np.mean((wav * 32767.0) ** 2))
    change = TARGET_DBFS - 20 * np.log10(rms / 32767.0)
    return wav if change < 0 else wav * (10 ** (change / 20))


def partial_slices(n_samples: int) -> list[slice]:
    """Resemblyzer's ``compute_partial_slices`` (mel frame ranges)."""
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    step = int(np.round((SAMPLE_RATE / RATE) / HOP))
    slices = [slice(i, i + PARTIAL) for i in range(0, max(1, n_frames - PARTIAL + step + 1), step)]
    last = slices[-1]
    coverage = (n_samples - last.start * HOP) / (PARTIAL * HOP)
    if coverage < MIN_COVERAGE and len(slices) > 1:
        slices = slices[:-1]
    return slices


def reference_embedding(encoder: VoiceEncoder, wav: np.ndarray) -> np.ndarray:
    """Resemblyzer's ``embed_utterance`` with librosa's mel spectrogram and torch."""
    slices = partial_slices(len(wav))
    longest = slices[-1].stop * HOP
    if longest >= len(wav):
        wav = np.pad(wav, (0, longest - len(wav)))
    mel = (
        librosa.feature.melspectrogram(
            y=wav, sr=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP, n_mels=MELS
        )
        .astype(np.float32)
        .T
    )
    batch = torch.from_numpy(np.array([mel[s] for s in slices]))
    with torch.no_grad():
        partials = encoder(batch).numpy()
    mean = partials.mean(axis=0)
    return mean / np.linalg.norm(mean)


def export(encoder: VoiceEncoder, target: Path) -> str:
    target.parent.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(2, PARTIAL, MELS)
    torch.onnx.export(
        encoder,
        (example,),
        str(target),
        input_names=["mels"],
        output_names=["embeddings"],
        dynamic_axes={"mels": {0: "batch", 1: "frames"}, "embeddings": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    return hashlib.sha256(target.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("wheel", type=Path, help="the resemblyzer wheel (holds pretrained.pt)")
    args = parser.parse_args()
    encoder = load_encoder(args.wheel)
    digest = export(encoder, MODEL_OUT)
    print(f"wrote {MODEL_OUT} ({MODEL_OUT.stat().st_size} bytes), sha256 {digest}")
    references: dict[str, list[float]] = {}
    for clip in sorted(CLIPS.glob("*.wav")):
        wav = normalize_volume(read_wav(clip))
        references[clip.name] = [round(float(v), 7) for v in reference_embedding(encoder, wav)]
    out = CLIPS / "reference.json"
    document = {
        "model": "resemblyzer 0.1.4 pretrained.pt (torch " + torch.__version__ + ")",
        "mel": "librosa " + librosa.__version__ + " melspectrogram(n_fft=400, hop=160, n_mels=40)",
        "embeddings": references,
    }
    out.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out} ({len(references)} clips)")


if __name__ == "__main__":
    main()
