"""An incremental scanner of WebM/Matroska streams, in pure Python.

Chrome's ``MediaRecorder.start(1000)`` gives a chunk of one WebM stream a second: only the
first chunk carries the header (EBML header, Segment, Info, Tracks), the chunks are cut at
any byte, and Segment and Cluster have an *unknown size* (an all-ones size). WebM written
by ffmpeg has known sizes. :func:`scan_stream` handles both: it reads element headers only
and skips block payloads by their size (never copying them), so a few megabytes scan in a
few milliseconds.

An unknown-size cluster ends where the next top-level element (another Cluster, Cues,
Tags...) begins, or, when the data is *final*, at the end of its last complete element; a
cluster whose end has not arrived yet is left for the next scan (``consumed`` stops before
it). Times are in seconds of the recording: the cluster's Timecode plus the block's
relative timecode, times the TimecodeScale (1 ms unless the header says otherwise).
"""

from __future__ import annotations

import attrs

from elyune_core.errors import InvalidMediaError
from elyune_core.ports import ClusterMark, StreamScan, StreamTracks

EBML = 0x1A45DFA3
SEGMENT = 0x18538067
CLUSTER = 0x1F43B675
_INFO = 0x1549A966
_TRACKS = 0x1654AE6B
_TIMECODE_SCALE = 0x2AD7B1
_TRACK_ENTRY = 0xAE
_TRACK_NUMBER = 0xD7
_TRACK_TYPE = 0x83
_CODEC_ID = 0x86
_DEFAULT_DURATION = 0x23E383
_VIDEO = 0xE0
_PIXEL_WIDTH = 0xB0
_PIXEL_HEIGHT = 0xBA
_TIMECODE = 0xE7
_SIMPLE_BLOCK = 0xA3
_BLOCK_GROUP = 0xA0
_BLOCK = 0xA1
_BLOCK_DURATION = 0x9B
_REFERENCE_BLOCK = 0xFB
_VOID = 0xEC
_CRC32 = 0xBF

#: Level-1 elements (children of Segment); one of them ends an unknown-size cluster.
TOP_LEVEL = frozenset(
    {
        CLUSTER,
        0x114D9B74,  # SeekHead
        _INFO,
        _TRACKS,
        0x1C53BB6B,  # Cues
        0x1254C367,  # Tags
        0x1043A770,  # Chapters
        0x1941A469,  # Attachments
        EBML,
        SEGMENT,
    }
)
_SKIPPABLE = TOP_LEVEL | {_VOID, _CRC32}
_VIDEO_TYPE = 1
_AUDIO_TYPE = 2
#: Frame durations assumed when a track gives none and a cluster has a single frame.
_GUESS_VIDEO = 1 / 30
_GUESS_AUDIO = 0.02
_HEADER_LIMIT = 16 << 20  # a header element this large is not a recording's header


class _IncompleteError(Exception):
    """The data ends inside an element."""


@attrs.frozen
class Track:
    number: int
    kind: int
    codec: str
    default_duration: float | None = None
    width: int | None = None
    height: int | None = None


@attrs.frozen
class StreamHeader:
    """What the header says that the clusters' times and keyframes depend on."""

    timecode_scale: float = 1e-3
    tracks: tuple[Track, ...] = ()

    def stream_tracks(self) -> StreamTracks:
        video = next((t for t in self.tracks if t.kind == _VIDEO_TYPE), None)
        audio = next((t for t in self.tracks if t.kind == _AUDIO_TYPE), None)
        return StreamTracks(
            has_audio=audio is not None,
            has_video=video is not None,
            audio_codec=audio.codec if audio else None,
            video_codec=video.codec if video else None,
            width=video.width if video else None,
            height=video.height if video else None,
        )


# ---------------------------------------------------------------------- EBML primitives


def _read_id(data: bytes, pos: int, end: int) -> tuple[int, int]:
    if pos >= end:
        raise _IncompleteError
    first = data[pos]
    if first >= 0x80:
        length = 1
    elif first >= 0x40:
        length = 2
    elif first >= 0x20:
        length = 3
    elif first >= 0x10:
        length = 4
    else:
        raise InvalidMediaError(f"the stream is not WebM: bad element id at byte {pos}")
    if pos + length > end:
        raise _IncompleteError
    return int.from_bytes(data[pos : pos + length], "big"), pos + length


def _read_size(data: bytes, pos: int, end: int) -> tuple[int | None, int]:
    """Return ``(size, next position)``; size ``None`` is the unknown size."""
    if pos >= end:
        raise _IncompleteError
    first = data[pos]
    if first == 0:
        raise InvalidMediaError(f"the stream is not WebM: bad element size at byte {pos}")
    length = 9 - first.bit_length()
    if pos + length > end:
        raise _IncompleteError
    value = first & (0xFF >> length)
    for at in range(pos + 1, pos + length):
        value = (value << 8) | data[at]
    if value == (1 << (7 * length)) - 1:
        return None, pos + length
    return value, pos + length


def _read_vint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    value, after = _read_size(data, pos, end)
    if value is None:
        raise InvalidMediaError(f"the stream is not WebM: bad track number at byte {pos}")
    return value, after


def _uint(data: bytes, pos: int, size: int) -> int:
    return int.from_bytes(data[pos : pos + size], "big")


def _element(data: bytes, pos: int, end: int) -> tuple[int, int | None, int]:
    """Read an element header at *pos*: ``(id, size, payload position)``."""
    ident, after = _read_id(data, pos, end)
    size, payload = _read_size(data, after, end)
    return ident, size, payload


# ---------------------------------------------------------------------- header


def _parse_info(data: bytes, pos: int, end: int, scale: float) -> float:
    while pos < end:
        ident, size, payload = _element(data, pos, end)
        if size is None or payload + size > end:
            raise InvalidMediaError("the WebM header is damaged (Info)")
        if ident == _TIMECODE_SCALE and size:
            scale = _uint(data, payload, size) / 1e9
        pos = payload + size
    return scale


def _parse_tracks(data: bytes, pos: int, end: int) -> list[Track]:
    tracks = []
    while pos < end:
        ident, size, payload = _element(data, pos, end)
        if size is None or payload + size > end:
            raise InvalidMediaError("the WebM header is damaged (Tracks)")
        if ident == _TRACK_ENTRY:
            tracks.append(_parse_track(data, payload, payload + size))
        pos = payload + size
    return tracks


def _parse_track(data: bytes, pos: int, end: int) -> Track:
    fields: dict[str, object] = {"number": 0, "kind": 0, "codec": ""}
    while pos < end:
        ident, size, payload = _element(data, pos, end)
        if size is None or payload + size > end:
            raise InvalidMediaError("the WebM header is damaged (TrackEntry)")
        if ident == _TRACK_NUMBER:
            fields["number"] = _uint(data, payload, size)
        elif ident == _TRACK_TYPE:
            fields["kind"] = _uint(data, payload, size)
        elif ident == _CODEC_ID:
            fields["codec"] = (
                bytes(data[payload : payload + size]).rstrip(b"\0").decode("ascii", "replace")
            )
        elif ident == _DEFAULT_DURATION and size:
            fields["default_duration"] = _uint(data, payload, size) / 1e9
        elif ident == _VIDEO:
            inner = payload
            while inner < payload + size:
                sub, sub_size, sub_payload = _element(data, inner, payload + size)
                if sub_size is None:
                    raise InvalidMediaError("the WebM header is damaged (Video)")
                if sub == _PIXEL_WIDTH:
                    fields["width"] = _uint(data, sub_payload, sub_size)
                elif sub == _PIXEL_HEIGHT:
                    fields["height"] = _uint(data, sub_payload, sub_size)
                inner = sub_payload + sub_size
        pos = payload + size
    return Track(**fields)  # type: ignore[arg-type]


def _parse_header(data: bytes, end: int, final: bool) -> tuple[int, StreamHeader, bool]:
    """Read EBML header, Segment start and the level-1 elements before the first Cluster.

    Returns ``(header size, header, complete)``; ``complete`` is false while the first
    Cluster has not been reached (and the data is not final).
    """
    magic = EBML.to_bytes(4, "big")
    if bytes(data[: min(4, end)]) != magic[: min(4, end)]:
        raise InvalidMediaError("the stream is not WebM: it does not begin with an EBML header")
    pos = 0
    scale = 1e-3
    tracks: list[Track] = []
    try:
        ident, size, payload = _element(data, 0, end)
        if size is None or size > _HEADER_LIMIT:
            raise InvalidMediaError("the WebM header is damaged (EBML header)")
        pos = payload + size
        if pos > end:
            raise _IncompleteError
        ident, _, pos = _element(data, pos, end)
        if ident != SEGMENT:
            raise InvalidMediaError("the stream is not WebM: no Segment after the EBML header")
        while True:
            ident, after = _read_id(data, pos, end)
            if ident == CLUSTER:
                return pos, StreamHeader(scale, tuple(tracks)), True
            size, payload = _read_size(data, after, end)
            if ident not in _SKIPPABLE:
                raise InvalidMediaError(
                    f"the WebM header is damaged: unexpected element {ident:#x} at byte {pos}"
                )
            if size is None or size > _HEADER_LIMIT:
                raise InvalidMediaError(f"the WebM header is damaged (element {ident:#x})")
            if payload + size > end:
                raise _IncompleteError
            if ident == _INFO:
                scale = _parse_info(data, payload, payload + size, scale)
            elif ident == _TRACKS:
                tracks = _parse_tracks(data, payload, payload + size)
            pos = payload + size
    except _IncompleteError:
        if final:
            return pos, StreamHeader(scale, tuple(tracks)), True
        return 0, StreamHeader(scale, tuple(tracks)), False


def parse_header(header: bytes) -> StreamHeader:
    """The timecode scale and tracks of a stream *header* (the bytes before the first
    Cluster, as :func:`scan_stream` measured them)."""
    _, parsed, _ = _parse_header(header, len(header), True)
    return parsed


# ---------------------------------------------------------------------- clusters


class _Cluster:
    """Collects a cluster's block times, per track, without copying payloads."""

    __slots__ = ("duration", "first", "last", "step", "timecode")

    def __init__(self) -> None:
        self.timecode = 0
        self.first: dict[int, bool] = {}  # track -> keyframe flag of its first block
        self.last: dict[int, int] = {}  # track -> relative time of its latest block
        self.step: dict[int, int] = {}  # track -> latest interval between its blocks
        self.duration: dict[int, int] = {}  # track -> BlockDuration of its latest block

    def block(self, track: int, relative: int, keyframe: bool, duration: int | None) -> None:
        if track not in self.first:
            self.first[track] = keyframe
        previous = self.last.get(track)
        if previous is None or relative >= previous:
            if previous is not None and relative > previous:
                self.step[track] = relative - previous
            self.last[track] = relative
            if duration is not None:
                self.duration[track] = duration
            else:
                self.duration.pop(track, None)


def _block_head(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """Track number, signed relative timecode and flags of a (Simple)Block at *pos*."""
    track, at = _read_vint(data, pos, end)
    if at + 3 > end:
        raise InvalidMediaError(f"the WebM stream is damaged: short block at byte {pos}")
    relative = int.from_bytes(data[at : at + 2], "big", signed=True)
    return track, relative, data[at + 2]


def _block_group(data: bytes, pos: int, end: int, cluster: _Cluster) -> None:
    head: tuple[int, int, int] | None = None
    referenced = False
    duration: int | None = None
    while pos < end:
        ident, size, payload = _element(data, pos, end)
        if size is None or payload + size > end:
            raise InvalidMediaError(f"the WebM stream is damaged: bad BlockGroup at byte {pos}")
        if ident == _BLOCK:
            head = _block_head(data, payload, payload + size)
        elif ident == _REFERENCE_BLOCK:
            referenced = True
        elif ident == _BLOCK_DURATION:
            duration = _uint(data, payload, size)
        pos = payload + size
    if head is not None:
        cluster.block(head[0], head[1], not referenced, duration)


def _cluster_body(
    data: bytes, pos: int, end: int, known: bool, final: bool
) -> tuple[_Cluster, int, bool] | None:
    """Scan a cluster's children from *pos*; return it, where it ends and whether the
    (final) data was cut inside it, or ``None`` when its end is not in the data. *end*
    is the cluster's end when *known*."""
    cluster = _Cluster()
    while True:
        if pos >= end:
            if known or final:
                return cluster, pos, False
            return None
        try:
            ident, size, payload = _element(data, pos, end)
        except _IncompleteError:
            if known:
                raise InvalidMediaError(
                    f"the WebM stream is damaged: a cluster ends inside an element at byte {pos}"
                ) from None
            return (cluster, pos, True) if final else None
        if not known and ident in TOP_LEVEL:
            return cluster, pos, False
        if size is None:
            raise InvalidMediaError(
                f"the WebM stream is damaged: element {ident:#x} of unknown size in a cluster"
            )
        after = payload + size
        if after > end:
            if known:
                raise InvalidMediaError(
                    f"the WebM stream is damaged: element {ident:#x} overruns its cluster"
                )
            return (cluster, pos, True) if final else None
        if ident == _SIMPLE_BLOCK:
            track, relative, flags = _block_head(data, payload, after)
            cluster.block(track, relative, bool(flags & 0x80), None)
        elif ident == _BLOCK_GROUP:
            _block_group(data, payload, after, cluster)
        elif ident == _TIMECODE:
            cluster.timecode = _uint(data, payload, size)
        pos = after


def _mark(offset: int, size: int, cluster: _Cluster, header: StreamHeader) -> ClusterMark:
    scale = header.timecode_scale
    kinds = {t.number: t for t in header.tracks}
    start = cluster.timecode * scale
    end = start
    for track, relative in cluster.last.items():
        info = kinds.get(track)
        if track in cluster.duration:
            length = cluster.duration[track] * scale
        elif info is not None and info.default_duration:
            length = info.default_duration
        elif track in cluster.step:
            length = cluster.step[track] * scale
        elif info is not None and info.kind == _AUDIO_TYPE:
            length = _GUESS_AUDIO
        else:
            length = _GUESS_VIDEO
        end = max(end, start + relative * scale + length)
    videos = [t.number for t in header.tracks if t.kind == _VIDEO_TYPE]
    if videos:
        keyframe = cluster.first.get(videos[0], True)
    elif header.tracks:
        keyframe = True
    else:  # no header to tell the video track: every track's first frame must be key
        keyframe = all(cluster.first.values())
    return ClusterMark(
        offset=offset, size=size, start=round(start, 6), end=round(end, 6), keyframe=keyframe
    )


def scan_stream(
    data: bytes | bytearray | memoryview,
    *,
    at_start: bool,
    final: bool,
    header: StreamHeader | None = None,
) -> StreamScan:
    """Find the header (when *at_start*) and the complete clusters in *data*.

    *header*, for data that does not begin the stream, is the stream's parsed header
    (:func:`parse_header`): its timecode scale and tracks (which one is video, frame
    durations). Without it the scale is 1 ms and a cluster counts as a keyframe when
    every track's first frame in it is one. Raises ``InvalidMediaError`` for bytes that
    are not a WebM/Matroska stream.
    """
    if isinstance(data, memoryview):
        data = data.cast("B")
    end = len(data)
    pos = 0
    header_size = 0
    tracks: StreamTracks | None = None
    parsed = header or StreamHeader()
    if at_start:
        header_size, parsed, complete = _parse_header(data, end, final)  # type: ignore[arg-type]
        if not complete:
            return StreamScan(header_size=0, tracks=None, clusters=(), consumed=0)
        tracks = parsed.stream_tracks()
        pos = header_size
    clusters: list[ClusterMark] = []
    consumed = pos
    segment_end = end
    while pos < segment_end:
        try:
            ident, size, payload = _element(data, pos, segment_end)  # type: ignore[arg-type]
        except _IncompleteError:
            break
        if ident == CLUSTER:
            if size is None:
                found = _cluster_body(data, payload, segment_end, False, final)  # type: ignore[arg-type]
            elif payload + size > segment_end:
                break
            else:
                found = _cluster_body(data, payload, payload + size, True, final)  # type: ignore[arg-type]
            if found is None:
                break
            cluster, after, cut = found
            clusters.append(_mark(pos, after - pos, cluster, parsed))
            pos = consumed = after
            if cut:
                break
        elif ident in (EBML, SEGMENT):
            break  # a second stream chained after this one: not ours to read
        elif ident in _SKIPPABLE:
            if size is None:
                raise InvalidMediaError(
                    f"the WebM stream is damaged: element {ident:#x} of unknown size"
                )
            if payload + size > segment_end:
                break
            pos = payload + size
            if not clusters and not at_start:
                consumed = pos
        else:
            raise InvalidMediaError(
                f"the stream is not WebM: unexpected element {ident:#x} at byte {pos}"
            )
    return StreamScan(
        header_size=header_size, tracks=tracks, clusters=tuple(clusters), consumed=consumed
    )


def cluster_time(data: bytes, header: StreamHeader | None = None) -> float:
    """Recording time of the cluster that *data* begins with (its Timecode, which comes
    before its blocks, so the first few kilobytes are enough)."""
    end = len(data)
    try:
        ident, size, pos = _element(data, 0, end)
        if ident != CLUSTER:
            raise InvalidMediaError("the data does not begin with a WebM cluster")
        limit = end if size is None else min(end, pos + size)
        while pos < limit:
            ident, size, payload = _element(data, pos, limit)
            if ident == _TIMECODE and size is not None and payload + size <= limit:
                return _uint(data, payload, size) * (header or StreamHeader()).timecode_scale
            if size is None or ident in TOP_LEVEL:
                break
            pos = payload + size
    except _IncompleteError:
        pass
    raise InvalidMediaError("the WebM cluster has no timecode before its blocks")


__all__ = ["StreamHeader", "Track", "cluster_time", "parse_header", "scan_stream"]
