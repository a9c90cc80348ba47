"""What each pipeline step does, through the ports (used by :mod:`run_step`).

A handler reads the recording's stored files, runs an engine and writes its outputs to
the object store under fixed keys, so running it twice has the same effect as once. Rows
(files, transcript, analyses) are not written here: the handler returns them in a
:class:`StepResult`, and ``RunStep`` stores them in the same transaction that marks the
step succeeded, so a step that ran twice still leaves exactly one transcript.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TypeVar

import attrs

from elyune_core._keys import OUTPUT_NAMES, output_key, recording_prefix
from elyune_core.entities import (
    Analysis,
    AnalysisKind,
    AnalysisStatus,
    FileKind,
    ImageInfo,
    MediaInfo,
    Recording,
    StepName,
    StoredFile,
    Transcript,
)
from elyune_core.errors import (
    InvalidMediaError,
    ObjectChangedError,
    ObjectStoreUnavailableError,
    StepError,
)
from elyune_core.ports import (
    AnalysisRequest,
    Analyzer,
    Clock,
    LabelRequest,
    ObjectInfo,
    ObjectStore,
    ProgressCallback,
    Transcoder,
    Transcriber,
    TranscriptionRequest,
    TranscriptionResult,
    UnitOfWorkFactory,
    Workspace,
)
from elyune_core.use_cases.live_processing import LivePieces, LiveSteps, live_media_info

NO_AUDIO = "the recording has no audio track"
NO_VIDEO = "the recording has no video track"
NO_SPEECH = "no speech was detected"


@attrs.frozen
class StepResult:
    """What a step produced, stored by ``RunStep`` when it marks the step done.

    ``skip`` maps steps to skip (with everything downstream) to a reason. A ``failure``
    fails the step after the rest of the result is stored.
    """

    output: Mapping[str, object] = attrs.field(factory=dict)
    media: MediaInfo | None = None
    files: tuple[StoredFile, ...] = ()
    transcript: Transcript | None = None
    analyses: tuple[Analysis, ...] = ()
    skip: Mapping[StepName, str] = attrs.field(factory=dict)
    failure: str | None = None


T = TypeVar("T")

Handler = Callable[[Recording, ProgressCallback], Awaitable[StepResult]]


class StepHandlers:
    """The six step handlers, bound to the ports they use."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        store: ObjectStore,
        workspace: Workspace,
        transcoder: Transcoder,
        transcriber: Transcriber,
        analyzer: Analyzer,
        clock: Clock,
        store_retry_seconds: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        live: LiveSteps | None = None,
    ) -> None:
        self._live = live
        self._store_retry_seconds = store_retry_seconds
        self._sleep = sleep
        self._uow = uow
        self._store = store
        self._workspace = workspace
        self._transcoder = transcoder
        self._transcriber = transcriber
        self._analyzer = analyzer
        self._clock = clock

    def for_step(self, name: StepName) -> Handler:
        """Return the handler of step *name*."""
        return {
            StepName.PROBE: self.probe,
            StepName.TRANSCODE: self.transcode,
            StepName.EXTRACT_AUDIO: self.extract_audio,
            StepName.THUMBNAIL: self.thumbnail,
            StepName.TRANSCRIBE: self.transcribe,
            StepName.ANALYZE: self.analyze,
        }[name]

    async def probe(self, recording: Recording, on_progress: ProgressCallback) -> StepResult:
        """Read streams, codecs and the true duration of the source (which must still be
        the file whose size was checked when the upload was completed). A recording
        uploaded live was read while it came: its cursor tells."""
        pieces = await self._pieces(recording)
        if pieces is not None:
            media = live_media_info(pieces.cursor)
        else:
            info = await self._store.stat(recording.source_key)
            if info.size != _source_size(recording):
                raise ObjectChangedError()
            async with self._source(recording) as source:
                media = await self._transcoder.probe(source, on_progress)
        if not media.has_audio and not media.has_video:
            raise InvalidMediaError("the file has neither an audio nor a video track")
        skip: dict[StepName, str] = {}
        if not media.has_audio:
            skip[StepName.EXTRACT_AUDIO] = NO_AUDIO
        if not media.has_video:
            skip[StepName.THUMBNAIL] = NO_VIDEO
        output = {
            "duration": round(media.duration, 3),
            "format": media.format_name,
            "video_codec": media.video_codec,
            "audio_codec": media.audio_codec,
            "width": media.width,
            "height": media.height,
        }
        return StepResult(output=output, media=media, skip=skip)

    async def transcode(self, recording: Recording, on_progress: ProgressCallback) -> StepResult:
        """Convert the source to an H.264/AAC MP4 (join the segments encoded while a live
        recording came, and store its chunks end to end as the source file unless the
        extract_audio step does)."""
        media = _media(recording)
        pieces = await self._pieces(recording)
        if pieces is not None and self._live is not None and pieces.video_segments:
            live = self._live
            rest: list[float] = []

            async def join(target: Path) -> None:
                rest.append(await live.join_video(recording, pieces, target, on_progress))

            stored = await self._make(recording, FileKind.VIDEO, join)
            output = {"size": stored.size, "key": stored.key, "live": True}
            if not self._source_with_audio(pieces):
                output["source"] = await live.assemble_source(recording, pieces)
            # the video since the last segment, encoded here (the transcript did not wait)
            output["segments"] = pieces.video_segments
            output["rest_seconds"] = round(rest[0], 3) if rest else 0.0
            return StepResult(output=output, files=(stored,))
        stored, _ = await self._produce(
            recording,
            FileKind.VIDEO,
            lambda src, dst: self._transcoder.transcode(src, dst, media, on_progress),
        )
        return StepResult(output={"size": stored.size, "key": stored.key}, files=(stored,))

    async def extract_audio(
        self, recording: Recording, on_progress: ProgressCallback
    ) -> StepResult:
        """Extract 16 kHz mono WAV audio from the source (not from the MP4); for a live
        recording, join the audio decoded while it came (and store the source file when
        the transcript came from stretches: see :meth:`_source_with_audio`)."""
        media = _media(recording)
        pieces = await self._pieces(recording)
        if pieces is not None and self._live is not None and pieces.audio_pieces:
            live = self._live
            stored = await self._make(
                recording, FileKind.AUDIO, lambda dst: live.write_audio(recording, pieces, dst)
            )
            output: dict[str, object] = {"size": stored.size, "key": stored.key, "live": True}
            if self._source_with_audio(pieces) or not media.has_video:
                output["source"] = await live.assemble_source(recording, pieces)
            return StepResult(output=output, files=(stored,))
        stored, _ = await self._produce(
            recording,
            FileKind.AUDIO,
            lambda src, dst: self._transcoder.extract_audio(src, dst, media, on_progress),
        )
        return StepResult(output={"size": stored.size, "key": stored.key}, files=(stored,))

    async def thumbnail(self, recording: Recording, on_progress: ProgressCallback) -> StepResult:
        """Make a JPEG poster frame (from the first video segment of a live recording)."""
        media = _media(recording)
        pieces = await self._pieces(recording)
        if pieces is not None and self._live is not None and pieces.video_segments:
            stored, image = await self._thumbnail_of_segment(recording, media, self._live)
        else:
            stored, image = await self._produce(
                recording,
                FileKind.THUMBNAIL,
                lambda src, dst: self._transcoder.thumbnail(src, dst, media),
            )
        stored = attrs.evolve(stored, width=image.width, height=image.height)
        return StepResult(
            output={"size": stored.size, "width": image.width, "height": image.height},
            files=(stored,),
        )

    async def transcribe(self, recording: Recording, on_progress: ProgressCallback) -> StepResult:
        """Transcribe the extracted audio; an empty transcript skips the analyses. A live
        recording was transcribed stretch by stretch as it came: only the speakers are
        left to label, over all the stretches."""
        result = await self._stretches(recording)
        if result is None:
            audio = recording.file(FileKind.AUDIO)
            if audio is None:
                raise StepError("the extracted audio is missing; retry the job")
            async with self._store.local_copy(audio.key) as path:
                result = await self._transcriber.transcribe(
                    TranscriptionRequest(
                        recording_id=recording.id,
                        audio=path,
                        language=recording.language,
                        duration=recording.duration,
                        on_progress=on_progress,
                        num_speakers=recording.num_speakers,
                        max_speakers=recording.max_speakers,
                    )
                )
        now = self._clock.now()
        transcript = Transcript(
            recording_id=recording.id,
            text=result.text,
            language=result.language,
            segments=result.segments,
            words=result.words,
            engine=result.engine,
            created_at=now,
            language_confidence=result.language_confidence,
            duration=result.duration if result.duration is not None else recording.duration,
            speaker_count=result.speaker_count,
            request_id=result.request_id,
            audio_seconds=result.audio_seconds,
            voices=result.voices,
        )
        output: dict[str, object] = {
            "engine": result.engine,
            "language": result.language,
            "segments": len(result.segments),
            "words": len(result.words),
        }
        if transcript.is_empty:
            skipped = tuple(
                Analysis(
                    recording_id=recording.id,
                    kind=kind,
                    status=AnalysisStatus.SKIPPED,
                    engine=self._analyzer.name,
                    created_at=now,
                    updated_at=now,
                    error=NO_SPEECH,
                )
                for kind in AnalysisKind
            )
            return StepResult(
                output=output,
                transcript=transcript,
                analyses=skipped,
                skip={StepName.ANALYZE: NO_SPEECH},
            )
        return StepResult(output=output, transcript=transcript)

    async def analyze(self, recording: Recording, on_progress: ProgressCallback) -> StepResult:
        """Run the analyses that have not succeeded yet; each is stored on its own."""
        async with self._uow() as uow:
            transcript = await uow.transcripts.get(recording.id)
            existing = {a.kind: a for a in await uow.analyses.list(recording.id)}
        if transcript is None:
            raise StepError("the transcript is missing; retry the job")
        kinds = tuple(
            k
            for k in AnalysisKind
            if k not in existing or existing[k].status is not AnalysisStatus.SUCCEEDED
        )
        if not kinds:
            return StepResult(output={"analysed": []})
        outcomes = await self._analyzer.analyze(
            AnalysisRequest(
                transcript=transcript,
                kinds=kinds,
                speaker_names=dict(recording.speaker_names),
                title=recording.title,
                duration=recording.duration,
            )
        )
        now = self._clock.now()
        analyses: list[Analysis] = []
        errors: list[str] = []
        for kind in kinds:
            outcome = outcomes.get(kind)
            error = (
                "the analysis engine returned nothing for it"
                if outcome is None
                else outcome.error
                if outcome.content is None
                else None
            )
            earlier = existing.get(kind)
            analyses.append(
                Analysis(
                    recording_id=recording.id,
                    kind=kind,
                    status=AnalysisStatus.FAILED if error else AnalysisStatus.SUCCEEDED,
                    engine=self._analyzer.name,
                    created_at=earlier.created_at if earlier else now,
                    updated_at=now,
                    content=None if outcome is None else outcome.content,
                    error=error,
                    input_tokens=_add(
                        earlier.input_tokens if earlier else None,
                        outcome.input_tokens if outcome else None,
                    ),
                    output_tokens=_add(
                        earlier.output_tokens if earlier else None,
                        outcome.output_tokens if outcome else None,
                    ),
                )
            )
            if error:
                errors.append(f"{kind.value.replace('_', ' ')}: {error}")
        return StepResult(
            output={"analysed": [k.value for k in kinds], "failed": len(errors)},
            analyses=tuple(analyses),
            failure="; ".join(errors) or None,
        )

    def _source_with_audio(self, pieces: LivePieces) -> bool:
        """Whether a live recording's source file is stored by the extract_audio step
        rather than the transcode step: when its transcript came from stretches, the WAV
        follows the transcript and the MP4 is what the user waits for, so storing the
        hour's chunks end to end does not delay it."""
        return bool(pieces.audio_pieces and pieces.stretches) and (
            self._transcriber.supports_stretches
        )

    async def _pieces(self, recording: Recording) -> LivePieces | None:
        return None if self._live is None else await self._live.pieces(recording)

    async def _stretches(self, recording: Recording) -> TranscriptionResult | None:
        """The live recording's transcript from its stretches, if it has them."""
        pieces = await self._pieces(recording)
        if pieces is None or self._live is None or not self._transcriber.supports_stretches:
            return None
        stretches = await self._live.stretches(recording, pieces)
        if not stretches:
            return None
        return await self._transcriber.label_stretches(
            LabelRequest(
                recording_id=recording.id,
                stretches=stretches,
                duration=recording.duration or stretches[-1].until,
                language=recording.language,
                num_speakers=recording.num_speakers,
                max_speakers=recording.max_speakers,
            )
        )

    async def _make(
        self, recording: Recording, kind: FileKind, make: Callable[[Path], Awaitable[None]]
    ) -> StoredFile:
        """Store the output *make* writes (from a live recording's pieces)."""
        key = output_key(recording.owner_id, recording.id, kind)
        name, content_type = OUTPUT_NAMES[kind]
        async with self._workspace.scratch(kind.value) as scratch:
            target = scratch / name
            await make(target)
            info = await self._keep(key, target, content_type)
        return StoredFile(kind=kind, key=key, size=info.size, content_type=content_type)

    async def _thumbnail_of_segment(
        self, recording: Recording, media: MediaInfo, live: LiveSteps
    ) -> tuple[StoredFile, ImageInfo]:
        key = output_key(recording.owner_id, recording.id, FileKind.THUMBNAIL)
        name, content_type = OUTPUT_NAMES[FileKind.THUMBNAIL]
        async with self._workspace.scratch("thumbnail") as scratch:
            segment, target = scratch / "segment.seg", scratch / name
            await live.first_segment(recording, segment)
            image = await self._transcoder.thumbnail(segment, target, media)
            info = await self._keep(key, target, content_type)
        stored = StoredFile(FileKind.THUMBNAIL, key, info.size, content_type)
        return stored, image

    async def tidy(self, recording: Recording) -> None:
        """Drop what only the job needed once it has succeeded (a live recording's
        pieces: the source, MP4, WAV and transcript now hold it all). Best effort: an
        unreachable store leaves them for ``elyune storage cleanup``."""
        if self._live is None:
            return
        try:
            await self._live.clean(recording)
        except ObjectStoreUnavailableError:
            return

    async def discard(self, recording: Recording) -> None:
        """Delete what steps stored for a recording that was deleted meanwhile."""
        await self._store.delete_prefix(recording_prefix(recording.owner_id, recording.id))

    def _source(self, recording: Recording) -> AbstractAsyncContextManager[Path]:
        """A local copy of the source, refused if it grew since the upload was checked
        (an upload URL that is still valid could replace it with a larger file)."""
        return self._store.local_copy(recording.source_key, max_size=_source_size(recording))

    async def _produce(
        self,
        recording: Recording,
        kind: FileKind,
        make: Callable[[Path, Path], Awaitable[T]],
    ) -> tuple[StoredFile, T]:
        key = output_key(recording.owner_id, recording.id, kind)
        name, content_type = OUTPUT_NAMES[kind]
        async with (
            self._source(recording) as source,
            self._workspace.scratch(kind.value) as scratch,
        ):
            target = scratch / name
            made = await make(source, target)
            info = await self._keep(key, target, content_type)
        return StoredFile(kind=kind, key=key, size=info.size, content_type=content_type), made

    async def _keep(self, key: str, path: Path, content_type: str) -> ObjectInfo:
        """Store a file that was just made; while the object store is away, keep the file
        and try again with backoff for up to ``store_retry_seconds`` (less than a step's
        stall limit), so that a blip does not throw away a finished transcode. A longer
        outage fails the attempt, and the pipeline waits it out (see ``PipelinePolicy``)."""
        waited = 0.0
        delay = 1.0
        while True:
            try:
                return await self._store.put_file(key, path, content_type)
            except ObjectStoreUnavailableError:
                if waited >= self._store_retry_seconds:
                    raise
                pause = min(delay, self._store_retry_seconds - waited)
                await self._sleep(pause)
                waited += pause
                delay = min(delay * 2, 15.0)


def _source_size(recording: Recording) -> int:
    """The source's size as checked when its upload was completed."""
    uploaded = recording.file(FileKind.SOURCE)
    return uploaded.size if uploaded is not None else recording.file_size


def _add(before: int | None, now: int | None) -> int | None:
    """Tokens used so far plus this run's (reruns add up, as the engine bills them)."""
    if before is None and now is None:
        return None
    return (before or 0) + (now or 0)


def _media(recording: Recording) -> MediaInfo:
    if recording.media is None:
        raise StepError("the file was not probed; retry the job")
    return recording.media


__all__ = [
    "NO_AUDIO",
    "NO_SPEECH",
    "NO_VIDEO",
    "Handler",
    "StepHandlers",
    "StepResult",
]
