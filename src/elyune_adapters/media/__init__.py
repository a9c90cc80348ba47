"""Media adapters: the ``Transcoder`` port on ffmpeg."""

from elyune_adapters.media.ffmpeg import FfmpegTranscoder, default_ffmpeg_path

__all__ = ["FfmpegTranscoder", "default_ffmpeg_path"]
