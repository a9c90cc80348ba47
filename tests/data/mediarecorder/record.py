"""Make ``recording.webm``: 6.5 s of a canvas stream and a WebAudio sawtooth sweep recorded
by headless Chromium's MediaRecorder with ``start(1000)``; ``chunks.json`` holds the sizes
of the blobs it gave (the recording is their concatenation).

Run: ``/work/main/.venv/bin/python tests/data/mediarecorder/record.py`` (needs
``/usr/bin/chromium``).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).parent
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--autoplay-policy=no-user-gesture-required",
    "--no-first-run",
]
RECORD = """
async () => {
  const canvas = document.createElement('canvas'); canvas.width = 320; canvas.height = 240;
  document.body.appendChild(canvas);
  const g = canvas.getContext('2d'); let n = 0;
  const draw = () => { g.fillStyle = `hsl(${(n*7)%360},80%,50%)`; g.fillRect(0,0,320,240);
    g.fillStyle = '#fff'; g.font = '48px sans-serif'; g.fillText(String(n++), 40 + (n%200), 140); };
  const timer = setInterval(draw, 33); draw();
  const audio = new AudioContext(); await audio.resume();
  const osc = audio.createOscillator(); osc.type = 'sawtooth';
  osc.frequency.setValueAtTime(220, audio.currentTime);
  osc.frequency.linearRampToValueAtTime(880, audio.currentTime + 7);
  const gain = audio.createGain(); gain.gain.value = 0.3;
  const dest = audio.createMediaStreamDestination(); osc.connect(gain).connect(dest); osc.start();
  const stream = new MediaStream([...canvas.captureStream(30).getVideoTracks(),
                                  ...dest.stream.getAudioTracks()]);
  const rec = new MediaRecorder(stream, {mimeType: 'video/webm;codecs=vp8,opus',
    videoBitsPerSecond: 150000, audioBitsPerSecond: 32000});
  const blobs = [];
  rec.ondataavailable = e => { if (e.data.size) blobs.push(e.data); };
  const done = new Promise(r => rec.onstop = r);
  rec.start(1000);
  await new Promise(r => setTimeout(r, 6500));
  rec.stop(); await done; clearInterval(timer);
  const out = [];
  for (const b of blobs) {
    const buf = new Uint8Array(await b.arrayBuffer()); let s = '';
    for (let i = 0; i < buf.length; i += 8192) s += String.fromCharCode(...buf.subarray(i, i+8192));
    out.push(btoa(s));
  }
  return out;
}
"""


def main() -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page()
        page.set_content("<html><body></body></html>")
        chunks = [base64.b64decode(chunk) for chunk in page.evaluate(RECORD)]
        browser.close()
    (HERE / "recording.webm").write_bytes(b"".join(chunks))
    (HERE / "chunks.json").write_text(json.dumps([len(chunk) for chunk in chunks]) + "\n")


if __name__ == "__main__":
    main()
