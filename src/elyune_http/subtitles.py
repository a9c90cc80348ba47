"""Signed, short-lived WebVTT links to a recording's transcript, for ``<track src>``.

A ``<track>`` element cannot send an ``Authorization`` header, so the recording detail
carries ``transcript_vtt_url``: a link that works without a token until it expires
(15 minutes, like the video's URL). Its HMAC, under a key derived from the server
secret, covers the recording id and the expiry time; the file is made from the
transcript (with the current speaker names) when it is fetched.
"""

from __future__ import annotations

from aiohttp import web

from elyune_adapters.container import resolve
from elyune_core import CONTENT_TYPES, GetRecordingInput, RecordingId, TranscriptFormat, export
from elyune_http.keys import CONTAINER, SUBTITLES
from elyune_http.links import PREFIX
from elyune_http.middleware import problem

routes = web.RouteTableDef()


@routes.get(PREFIX + "{id:[A-Za-z0-9_-]{1,64}}.vtt")
async def subtitles(request: web.Request) -> web.Response:
    """The transcript as WebVTT, for a signed link (no token)."""
    recording_id = request.match_info["id"]
    if not request.app[SUBTITLES].valid(recording_id, request.query):
        return problem(403, {"detail": "The link is not signed or has expired."})
    details = await (await resolve(request.app[CONTAINER].get_recording())).execute(
        GetRecordingInput(RecordingId(recording_id))
    )
    if details.transcript is None:
        return problem(404, {"detail": "The recording has no transcript yet."})
    text = export(details.transcript, TranscriptFormat.VTT, details.recording.speaker_names)
    return web.Response(
        text=text,
        content_type=CONTENT_TYPES[TranscriptFormat.VTT],
        charset="utf-8",
        headers={"Cache-Control": "private, max-age=300"},
    )
