"""A child engine for the engine-process tests: it does what each request says.

``{"do": "echo"}`` answers at once; ``"progress"`` reports *n* steps of progress a
``pause`` apart, then answers; ``"hang"`` never answers (a stuck native library);
``"die"`` exits with status 3; ``"fail"`` answers with an error; ``"pid"`` answers with
its process id.
"""

from __future__ import annotations

import os
import sys
import time

from elyune_adapters.asr.engine import ChildChannel


def main() -> int:
    channel = ChildChannel()
    config = channel.read() or {}
    print("fake engine ready", config, flush=True)  # stray output must not break anything
    while (request := channel.read()) is not None:
        do = request.get("do")
        if do == "hang":
            while True:
                time.sleep(3600)
        if do == "die":
            sys.stderr.write("fake engine: giving up\n")
            sys.stderr.flush()
            os._exit(3)
        if do == "fail":
            channel.error("the audio is unreadable", transient=False)
            continue
        if do == "progress":
            for step in range(1, int(request.get("n", 5)) + 1):
                time.sleep(float(request.get("pause", 0.05)))
                channel.progress(step / 10)
        channel.send(
            {
                "type": "result",
                "pid": os.getpid(),
                "threads": os.environ.get("OPENBLAS_NUM_THREADS"),
            }
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
