"""Media adapters: the ``Transcoder`` and ``LiveMedia`` ports on ffmpeg."""

from elyune_adapters.media.ffmpeg import FfmpegTranscoder, default_ffmpeg_path
from elyune_adapters.media.live import FfmpegLiveMedia

__all__ = ["FfmpegLiveMedia", "FfmpegTranscoder", "default_ffmpeg_path"]
