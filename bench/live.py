"""Live upload: how soon the transcript (with speakers) and the MP4 are ready after the
last chunk of a recording uploaded while it is recorded.

Plays a WebM recording through the live chunk API the way the extension does with
``MediaRecorder.start(1000)``: one chunk a second (``--speed`` sends them faster, to
cover an hour in less time; the measure after the last chunk is the same), each chunk
declared with its MD5, PUT to its signed URL, then ``finish``. Runs ``elyune serve`` in
embedded mode (SQLite, local store, in-process processing, faster-whisper) in its own
process and samples its memory (the process and its tree: ffmpeg, the speech engine).

Measured per run:

- transcript with speakers stored, seconds after the last chunk arrived;
- MP4 ready, seconds after the last chunk;
- how far behind the live edge processing ran while recording (media sent minus
  ``transcribed_until`` from ``GET .../upload/``, polled each second): median and max;
- peak memory of the API process and of its tree;
- the live transcript against the same file processed whole (``elyune process``):
  word error rate between the two and the share of words with the same speaker.

``--faults`` adds a run that cuts the network for 30 s mid-recording (chunks wait on
the client and go out together afterwards) and, in production mode (``--production``:
PostgreSQL, SeaweedFS, Redis and ``elyune worker``), SIGKILLs the worker mid-recording;
the transcript must equal the undisturbed run's.

    python bench/live.py [--minutes 1,10,60] [--runs 3] [--speed 1] [--no-write]

Writes the "live" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import _report
from long import SAMPLE, Sampler
from tests.support.media import SAMPLE_DURATION, sample_text

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".elyune" / "bench"
PASSWORD = "live-bench-password"
#: how old the access token may get before the client refreshes it (it lives 60 minutes)
TOKEN_REFRESH_SECONDS = float(os.environ.get("LIVE_BENCH_TOKEN_REFRESH_SECONDS", 30 * 60))


#: seed of the generated meetings (its espeak-ng voices are the test pool's of
#: ``bench/speaker_sets.py``, which no setting was chosen on)
MEETING_SEED = 7000


def meeting(minutes: float) -> Path:
    """A *minutes*-long generated meeting (``bench/speaker_sets.py``: two speakers, three
    from 10 minutes on, sentences never repeated as a whole file), its WAV and reference
    (``.json``: turns and texts) cached."""
    from speaker_sets import TEST_VOICES, Case, generate

    name = f"live-meeting-{minutes:g}min"
    wav = CACHE / f"{name}.wav"
    if not (wav.exists() and wav.with_suffix(".json").exists()):
        CACHE.mkdir(parents=True, exist_ok=True)
        print(f"generating the {minutes:g}-minute meeting's speech (once)...", flush=True)
        speakers = 3 if minutes >= 10 else 2
        case = Case(name, speakers, minutes * 60, False, MEETING_SEED + round(minutes * 10))
        generate(case, TEST_VOICES, CACHE)
    return wav


def recording(minutes: float, kind: str = "meeting") -> Path:
    """A *minutes*-long 1280x720 screen-like recording: 5 frames a second, a keyframe
    every 10 s (Chrome's encoder also puts one every few seconds), with the speech of a
    generated meeting (*kind* ``meeting``, see :func:`meeting`) or the sample meeting's
    two voices looped (``sample``), in Opus."""
    import imageio_ffmpeg

    target = CACHE / f"live-{kind}-{minutes:g}min.webm"
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    seconds = minutes * 60
    partial = target.with_suffix(".part.webm")
    audio = (
        ["-i", str(meeting(minutes))]
        if kind == "meeting"
        else ["-stream_loop", "-1", "-i", str(SAMPLE)]
    )
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-hide_banner",
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size=1280x720:rate=5:duration={seconds}",
        *audio,
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-t",
        str(seconds),
        "-c:v",
        "libvpx",
        "-deadline",
        "realtime",
        "-cpu-used",
        "8",
        "-g",
        "50",
        "-b:v",
        "400k",
        "-c:a",
        "libopus",
        "-b:a",
        "32k",
        "-f",
        "webm",
        str(partial),
    ]
    print(f"generating the {minutes:g}-minute recording (once)...", flush=True)
    subprocess.run(command, check=True)
    partial.rename(target)
    return target


def chunks_of(path: Path, seconds: float) -> list[bytes]:
    """The file cut into one chunk per second of media (MediaRecorder's chunks are the
    bytes written in each second; cut at even byte offsets, not at clusters)."""
    data = path.read_bytes()
    count = max(1, math.ceil(seconds))
    size = math.ceil(len(data) / count)
    return [data[i : i + size] for i in range(0, len(data), size)]


# --------------------------------------------------------------------------- HTTP


def call(
    base: str, method: str, path: str, body: Any = None, token: str | None = None
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{base}{path}", data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            raw = answer.read()
            return answer.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, raw.decode(errors="replace")


def put(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, method="PUT")
    for name, value in headers.items():
        request.add_header(name, value)
    with urllib.request.urlopen(request, timeout=60) as answer:
        return answer.status


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``elyune serve`` (embedded) in its own process, with a user to log in as."""

    def __init__(self, data_dir: Path, extra: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "ELYUNE_DATA_DIR": str(data_dir),
            "PORT": str(self.port),
            "ELYUNE_PUBLIC_URL": self.base,
            "RATE_LIMIT_PER_MINUTE": "100000000",
            "LOG_LEVEL": "warning",
            "PYTHONPATH": str(ROOT / "src"),
            **(extra or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self._access = self._refresh = ""
        self._issued = 0.0
        self._lock = threading.Lock()
        self.refreshes = 0

    @property
    def token(self) -> str:
        """The access token, refreshed well before it expires (60 minutes by default),
        as the extension does: an hour's recording outlives one token."""
        with self._lock:
            if self._access and time.monotonic() - self._issued > TOKEN_REFRESH_SECONDS:
                status, body = call(
                    self.base, "POST", "/api/token/refresh/", {"refresh": self._refresh}
                )
                assert status == 200, body
                self._tokens(body)
                self.refreshes += 1
            return self._access

    def _tokens(self, body: dict[str, Any]) -> None:
        self._access, self._refresh = body["access"], body["refresh"]
        self._issued = time.monotonic()

    def start(self) -> None:
        cli = [sys.executable, "-m", "elyune_cli"]
        subprocess.run(
            [*cli, "users", "create", "bench", "--password-stdin"],
            input=PASSWORD.encode(),
            env=self.env,
            check=True,
            capture_output=True,
        )
        self.serve()

    def serve(self) -> None:
        """Start ``elyune serve`` (its own process group, as a service is) and wait."""
        cli = [sys.executable, "-m", "elyune_cli"]
        self.process = subprocess.Popen([*cli, "serve"], env=self.env, start_new_session=True)
        for _ in range(600):
            try:
                urllib.request.urlopen(f"{self.base}/healthz", timeout=2).read()
                break
            except OSError:
                time.sleep(0.1)
        if not self._access:
            status, body = call(
                self.base, "POST", "/api/token/", {"username": "bench", "password": PASSWORD}
            )
            assert status == 200, body
            self._tokens(body)

    def crash_and_restart(self) -> float:
        """SIGKILL the server and everything it started (its in-process worker, the
        speech engine, ffmpeg), like a machine that dies, then start it again; return
        how long it was away."""
        assert self.process is not None
        began = time.monotonic()
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)
        self.serve()
        return time.monotonic() - began

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()


# --------------------------------------------------------------------------- one run


def play(
    server: Server,
    path: Path,
    seconds: float,
    *,
    speed: float,
    cut: tuple[float, float] | None = None,
    crash_at: float | None = None,
    on_chunk: Any = None,
) -> dict[str, Any]:
    """Record *path* live through the API; return the timings."""
    base = server.base  # server.token: the access token, refreshed as the extension does
    status, started = call(
        base,
        "POST",
        "/api/v1/recordings/request-upload/",
        {"upload": "live", "filename": "live-meeting.webm", "title": "Live bench"},
        server.token,
    )
    assert status == 201, started
    recording_id = started["recording_id"]
    pieces = chunks_of(path, seconds)
    lags: list[float] = []
    video_lags: list[float] = []
    sent_media = [0.0]
    stop_polling = threading.Event()

    def poll() -> None:
        while not stop_polling.wait(1.0):
            try:
                code, body = call(
                    base, "GET", f"/api/v1/recordings/{recording_id}/upload/", None, server.token
                )
            except OSError:  # the server is restarting (the crash run)
                continue
            if code == 200 and isinstance(body, dict):
                progress = body.get("progress") or {}
                until = float(progress.get("transcribed_until") or 0.0)
                video = float(progress.get("video_until") or 0.0)
                if sent_media[0] > 0 and body.get("state") == "recording":
                    lags.append(max(sent_media[0] - until, 0.0))
                    video_lags.append(max(sent_media[0] - video, 0.0))

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    begin = time.monotonic()
    waiting: list[int] = []
    per_chunk = seconds / len(pieces)

    def send(index: int) -> None:
        body = pieces[index]
        md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
        code, signed = call(
            base,
            "POST",
            f"/api/v1/recordings/{recording_id}/chunks/",
            {"chunks": [{"index": index, "size": len(body), "md5": md5}]},
            server.token,
        )
        assert code == 200, signed
        entry = signed["chunks"][0]
        if not entry.get("stored"):
            put(entry["upload_url"], body, entry["headers"])

    for index in range(len(pieces)):
        due = begin + (index + 1) * per_chunk / speed
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        media_time = (index + 1) * per_chunk
        if crash_at is not None and media_time >= crash_at:
            crash_at = None
            away = server.crash_and_restart()  # chunks due meanwhile wait on the client
            print(f"server killed at {media_time:.0f} s of media, back after {away:.1f} s")
        if cut is not None and cut[0] <= media_time < cut[1]:
            waiting.append(index)  # the network is down: the client keeps the chunk
            continue
        for held in waiting:
            send(held)
        waiting.clear()
        send(index)
        sent_media[0] = media_time
        if on_chunk is not None:
            on_chunk(index, len(pieces))
    for held in waiting:
        send(held)
    last_chunk = time.monotonic()
    code, finished = call(
        base,
        "POST",
        f"/api/v1/recordings/{recording_id}/finish/",
        {"chunks": len(pieces)},
        server.token,
    )
    assert code == 202, finished
    transcript_at = mp4_at = None
    transcript: Any = None
    deadline = last_chunk + 900
    while time.monotonic() < deadline and (transcript_at is None or mp4_at is None):
        if transcript_at is None:
            code, body = call(
                base, "GET", f"/api/v1/recordings/{recording_id}/transcript/", None, server.token
            )
            if code == 200 and isinstance(body, dict) and body.get("segments") is not None:
                transcript_at = time.monotonic()
                transcript = body
        if mp4_at is None:
            code, body = call(
                base, "GET", f"/api/v1/recordings/{recording_id}/", None, server.token
            )
            if code == 200 and _has_video(body):
                mp4_at = time.monotonic()
            elif code == 200 and body.get("status") == "failed":
                raise RuntimeError(f"the live recording failed: {body.get('error')}")
        time.sleep(0.1)
    stop_polling.set()
    poller.join()
    code, detail = call(base, "GET", f"/api/v1/recordings/{recording_id}/", None, server.token)
    steps = (detail.get("job") or {}).get("steps") or [] if code == 200 else []
    return {
        "steps": {s["name"]: s.get("duration") for s in steps},
        "rest_seconds": next(
            (
                (s.get("output") or {}).get("rest_seconds")
                for s in steps
                if s["name"] == "transcode"
            ),
            None,
        ),
        "video_lag_max": max(video_lags) if video_lags else None,
        "recording_id": recording_id,
        "chunks": len(pieces),
        "transcript_after": None if transcript_at is None else transcript_at - last_chunk,
        "mp4_after": None if mp4_at is None else mp4_at - last_chunk,
        "lag_median": statistics.median(lags) if lags else None,
        "lag_max": max(lags) if lags else None,
        "transcript": transcript,
    }


def _has_video(detail: Any) -> bool:
    if not isinstance(detail, dict):
        return False
    files = detail.get("files") or []
    if isinstance(files, list):
        return any(isinstance(f, dict) and f.get("kind") == "video" for f in files)
    return bool(detail.get("video_url"))


# --------------------------------------------------------------------------- quality


def whole_file(path: Path, data_dir: Path) -> dict[str, Any]:
    """The transcript of *path* processed whole (``elyune process --json``)."""
    env = {**os.environ, "ELYUNE_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "elyune_cli", "process", "--json", str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    body = json.loads(done.stdout)
    return body.get("transcript") or body


def _words(transcript: dict[str, Any]) -> list[dict[str, Any]]:
    return [w for w in transcript.get("words") or [] if w.get("word")]


def word_error_rate(reference: list[str], hypothesis: list[str]) -> float:
    """Levenshtein distance over words, divided by the reference's length."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i] + [0] * len(hypothesis)
        for j, hyp in enumerate(hypothesis, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp))
        previous = current
    return previous[-1] / max(len(reference), 1)


def _norm(word: str) -> str:
    return "".join(ch for ch in word.lower() if ch.isalnum() or ch == "'")


def reference(seconds: float, kind: str = "meeting", minutes: float = 0.0) -> list[str]:
    """What is said in *seconds* of the recording: the generated meeting's sentences
    (turns that start before the end), or for the looped sample its script once per
    loop, the last loop's words in proportion to the time it plays."""
    if kind == "meeting":
        script = json.loads(meeting(minutes).with_suffix(".json").read_text())
        said = [
            text
            for (_, start, _), text in zip(script["turns"], script["texts"], strict=True)
            if start < seconds
        ]
        return [_norm(w) for w in " ".join(said).split() if _norm(w)]
    words = [_norm(w) for w in sample_text().split()]
    loops, rest = divmod(seconds, SAMPLE_DURATION)
    return words * int(loops) + words[: round(len(words) * rest / SAMPLE_DURATION)]


def reference_wer(
    transcript: dict[str, Any], seconds: float, kind: str = "meeting", minutes: float = 0.0
) -> float:
    return word_error_rate(
        reference(seconds, kind, minutes), [_norm(w["word"]) for w in _words(transcript)]
    )


def _agreement(pairs: dict[tuple[str, str], float]) -> float:
    """The share of the counted words whose label maps to the other's (labels matched
    greedily, most shared words first)."""
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for (mine, theirs), _ in sorted(pairs.items(), key=lambda kv: -kv[1]):
        if mine not in mapping and theirs not in used:
            mapping[mine] = theirs
            used.add(theirs)
    agree = sum(n for (mine, theirs), n in pairs.items() if mapping.get(mine) == theirs)
    total = sum(pairs.values())
    return agree / total if total else float("nan")


def against_truth(transcript: dict[str, Any], minutes: float) -> dict[str, float]:
    """The share of the transcript's words labelled with the generated meeting's true
    speaker (labels mapped) and how many speakers it found against how many speak."""
    script = json.loads(meeting(minutes).with_suffix(".json").read_text())
    turns = [(str(speaker), float(a), float(b)) for speaker, a, b in script["turns"]]
    pairs: dict[tuple[str, str], float] = {}
    for word in _words(transcript):
        middle = (word["start"] + word["end"]) / 2
        truth = min(
            turns,
            key=lambda t: (
                0 if t[1] <= middle <= t[2] else min(abs(t[1] - middle), abs(t[2] - middle))
            ),
        )
        if word.get("speaker") is not None:
            key = (str(word["speaker"]), truth[0])
            pairs[key] = pairs.get(key, 0.0) + 1
    found = {w.get("speaker") for w in _words(transcript) if w.get("speaker") is not None}
    return {
        "truth_agreement": _agreement(pairs),
        "speakers_found": len(found),
        "speakers_true": len({t[0] for t in turns}),
    }


def compare(live: dict[str, Any], whole: dict[str, Any]) -> dict[str, float]:
    """WER of the live transcript against the whole-file one, and the share of the live
    words whose speaker is the whole-file speaker at that time (after mapping labels)."""
    live_words, whole_words = _words(live), _words(whole)
    wer = word_error_rate(
        [_norm(w["word"]) for w in whole_words], [_norm(w["word"]) for w in live_words]
    )
    pairs: dict[tuple[str, str], float] = {}
    for word in live_words:
        middle = (word["start"] + word["end"]) / 2
        match = min(
            whole_words,
            key=lambda w: 0 if w["start"] <= middle <= w["end"] else abs(w["start"] - middle),
            default=None,
        )
        if match is None or word.get("speaker") is None or match.get("speaker") is None:
            continue
        key = (str(word["speaker"]), str(match["speaker"]))
        pairs[key] = pairs.get(key, 0.0) + 1
    speakers_live = {w.get("speaker") for w in live_words if w.get("speaker") is not None}
    speakers_whole = {w.get("speaker") for w in whole_words if w.get("speaker") is not None}
    return {
        "wer_vs_whole": wer,
        "speaker_agreement": _agreement(pairs),
        "speakers_live": len(speakers_live),
        "speakers_whole": len(speakers_whole),
    }


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", default="1,10,60")
    parser.add_argument(
        "--recording",
        choices=("meeting", "sample"),
        default="meeting",
        help="a generated meeting (default) or the sample meeting looped",
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--faults", action="store_true", help="add a run with a 30 s cut")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--note", help="a remark on the run, printed under the table")
    parser.add_argument(
        "--render-only", action="store_true", help="rewrite the section from the stored rows"
    )
    parser.add_argument("--model", default="base")
    parser.add_argument("--dump", type=Path, help="write the transcripts compared here")
    parser.add_argument("--log-level", default="warning", help="the server's LOG_LEVEL")
    parser.add_argument(
        "--env", action="append", default=[], help="NAME=VALUE for the server (repeatable)"
    )
    parser.add_argument(
        "--no-whole", action="store_true", help="skip processing the file whole (long ones)"
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the rows of other lengths from earlier runs (.elyune/bench/live.json)",
    )
    args = parser.parse_args()
    if args.render_only:
        rows = json.loads((CACHE / "live.json").read_text())
        _report.write_section("live", render(rows, args))
        return
    minutes = [float(m) for m in args.minutes.split(",") if m]
    rows: list[dict[str, Any]] = []
    for length in minutes:
        path = recording(length, args.recording)
        seconds = length * 60
        work = Path(tempfile.mkdtemp(prefix="elyune-live-bench-"))
        try:
            whole = None if args.no_whole else whole_file(path, work / "whole")
            server = Server(
                work / "live",
                {
                    "WHISPER_MODEL": args.model,
                    "LOG_LEVEL": args.log_level,
                    **dict(item.split("=", 1) for item in args.env),
                },
            )
            server.start()
            assert server.process is not None
            sampler = Sampler(server.process.pid)
            sampler.start()
            runs: list[dict[str, Any]] = []
            fault = None
            try:  # a failed run stops the server too (else it outlives the bench, busy)
                try:
                    for run in range(args.runs):
                        print(f"{length:g} min, run {run + 1}/{args.runs}...", flush=True)
                        runs.append(play(server, path, seconds, speed=args.speed))
                        print({k: v for k, v in runs[-1].items() if k != "transcript"}, flush=True)
                finally:
                    sampler.stop()
                    print(f"access token refreshed {server.refreshes} times", flush=True)
                own, tree = sampler.peak()
                if args.faults:  # killed at a third, the network cut for 30 s at two thirds
                    print(f"{length:g} min, with a crash and a cut...", flush=True)
                    cut = (seconds * 2 / 3, seconds * 2 / 3 + 30)
                    fault = play(
                        server, path, seconds, speed=args.speed, cut=cut, crash_at=seconds / 3
                    )
                    print({k: v for k, v in fault.items() if k != "transcript"}, flush=True)
            finally:
                server.stop()
            quality: dict[str, Any] = {
                "wer_live": reference_wer(
                    runs[0]["transcript"] or {}, seconds, args.recording, length
                )
            }
            if args.recording == "meeting":
                truth = against_truth(runs[0]["transcript"] or {}, length)
                quality.update(truth)
                if whole is not None:
                    whole_truth = against_truth(whole, length)
                    quality["truth_agreement_whole"] = whole_truth["truth_agreement"]
            if whole is not None:
                quality.update(compare(runs[0]["transcript"] or {}, whole))
                quality["wer_whole"] = reference_wer(whole, seconds, args.recording, length)
            if args.dump:
                args.dump.mkdir(parents=True, exist_ok=True)
                for name, body in (("live", runs[0]["transcript"]), ("whole", whole)):
                    (args.dump / f"{length:g}min-{name}.json").write_text(json.dumps(body))
            row: dict[str, Any] = {
                "minutes": length,
                "recording": args.recording,
                "note": args.note,
                "speed": args.speed,
                "date": time.strftime("%Y-%m-%d"),
                "load": os.getloadavg()[0],
                "runs": runs,
                "memory_own": own,
                "memory_tree": tree,
                **quality,
            }
            if fault is not None:
                row["fault"] = fault
                row["fault_same"] = _same_text(fault["transcript"], runs[0]["transcript"])
                row["fault_diff"] = _difference(fault["transcript"], runs[0]["transcript"])
            rows.append(row)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    for row in rows:
        for run in [*row["runs"], row.get("fault") or {}]:
            run.pop("transcript", None)
    if args.merge:
        stored = CACHE / "live.json"
        earlier = json.loads(stored.read_text()) if stored.exists() else []

        def key(row: dict[str, Any]) -> tuple[str, float]:
            return (str(row.get("recording", "sample")), float(row["minutes"]))

        done = {key(row) for row in rows}
        rows = sorted([r for r in earlier if key(r) not in done] + rows, key=key)
        stored.write_text(json.dumps(rows))
    report = render(rows, args)
    print(report)
    if not args.no_write:
        _report.write_section("live", report)


def _same_text(a: Any, b: Any) -> bool:
    if not a or not b:
        return False
    return [_norm(w["word"]) for w in _words(a)] == [_norm(w["word"]) for w in _words(b)]


def _difference(a: Any, b: Any) -> str:
    if not a or not b:
        return "no transcript"
    left = [_norm(w["word"]) for w in _words(a)]
    right = [_norm(w["word"]) for w in _words(b)]
    changed = round(word_error_rate(right, left) * len(right))
    return f"{changed} of {len(right)} words differ"


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


def render(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        "## Live upload (`bench/live.py`)",
        "",
        f"Machine: {_report.machine()}. Embedded mode (`elyune serve`: SQLite, local "
        f"store, in-process processing, faster-whisper {args.model}). A 1280x720 "
        "recording (5 frames a second, a keyframe every 10 s) played through the live "
        "chunk API, one chunk a second of media (sent faster than real time where the "
        "speed says so: the measures after the last chunk are the same). Its speech "
        "(*meeting*) is a generated meeting (`bench/speaker_sets.py`, espeak-ng voices of "
        "the test pool, two speakers, three from 10 minutes on, no sentence sequence "
        "repeated) or (*sample*) the sample meeting's two voices looped. Targets: "
        "transcript with speakers stored <= 5 s after the last chunk, MP4 <= 30 s. *WER*: "
        "against what the meeting says, for the live transcript and for the same file "
        "uploaded whole (`elyune process`). *True speaker*: the share of words labelled "
        "with the speaker who says them (labels mapped one to one). The transcript does "
        "not wait for the video: a video that fell behind while recording (its encoding "
        "runs at `nice` 19, behind the transcript) is finished by the job's transcode "
        "step and delays only the MP4.",
        "",
        "| length (recording, runs, speed, load) | transcript after last chunk (p50 / p90) "
        "| MP4 after last chunk (p50 / p90) "
        "| transcript's lag behind the live edge (median / max) | video's lag (max) "
        "| peak memory (API process / tree) "
        "| WER live / whole file | live vs whole: word difference, same speaker "
        "| speakers live / whole (true) | true speaker live / whole |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        runs = row["runs"]
        transcript = [r["transcript_after"] for r in runs if r["transcript_after"] is not None]
        mp4 = [r["mp4_after"] for r in runs if r["mp4_after"] is not None]
        lag_med = [r["lag_median"] for r in runs if r["lag_median"] is not None]
        lag_max = [r["lag_max"] for r in runs if r["lag_max"] is not None]
        video_lag = [r["video_lag_max"] for r in runs if r.get("video_lag_max") is not None]
        whole = "wer_whole" in row
        wer = f"{100 * row['wer_live']:.1f} / " + (
            f"{100 * row['wer_whole']:.1f} %" if whole else "(not run) %"
        )
        versus = (
            f"{100 * row['wer_vs_whole']:.1f} %, {100 * row['speaker_agreement']:.1f} %"
            if whole
            else "-"
        )
        found = row.get("speakers_found", row.get("speakers_live", "-"))
        speakers = f"{found} / {row['speakers_whole'] if whole else '-'}" + (
            f" ({row['speakers_true']})" if "speakers_true" in row else ""
        )
        true_speaker = "-"
        if "truth_agreement" in row:
            true_speaker = f"{100 * row['truth_agreement']:.1f} / " + (
                f"{100 * row['truth_agreement_whole']:.1f} %"
                if "truth_agreement_whole" in row
                else "(not run) %"
            )
        label = (
            f"{row['minutes']:g} min ({row.get('recording', 'sample')}, {len(runs)}, "
            f"{row.get('speed', 1):g}x, "
            f"{row.get('load', float('nan')):.1f})"
        )
        lines.append(
            f"| {label} | {statistics.median(transcript):.1f} / "
            f"{_p(transcript, 0.9):.1f} s | {statistics.median(mp4):.1f} / {_p(mp4, 0.9):.1f} s "
            f"| {statistics.median(lag_med) if lag_med else float('nan'):.1f} / "
            f"{max(lag_max) if lag_max else float('nan'):.1f} s "
            f"| {max(video_lag) if video_lag else float('nan'):.0f} s "
            f"| {row['memory_own']:.0f} / {row['memory_tree']:.0f} MB "
            f"| {wer} | {versus} | {speakers} | {true_speaker} |"
        )
    faults = [r for r in rows if "fault" in r]
    if faults:
        lines += [
            "",
            "With faults: the server (its in-process worker, speech engine and ffmpeg with "
            "it) SIGKILLed at a third of the recording and started again, the chunks due "
            "meanwhile held by the client; the network cut for 30 s at two thirds (chunks "
            "held, then sent together):",
            "",
        ]
        for row in faults:
            fault = row["fault"]
            lines.append(
                f"- {row['minutes']:g} min ({row.get('recording', 'sample')}): transcript "
                f"{fault['transcript_after']:.1f} s and "
                f"MP4 {fault['mp4_after']:.1f} s after the last chunk; the same words as the "
                f"undisturbed run: {'yes' if row['fault_same'] else 'no'}"
                f"{'' if row['fault_same'] else ' (' + row['fault_diff'] + ')'}."
            )
    notes = [r for r in rows if r.get("note")]
    if notes:
        lines += ["", "Notes on the runs:", ""]
        lines += [
            f"- {r['minutes']:g} min ({r.get('recording', 'sample')}): {r['note']}" for r in notes
        ]
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
