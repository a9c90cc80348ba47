"""A page records with MediaRecorder and uploads live, chunk by chunk, to the API on
another origin (CORS), as the extension does; then it plays the MP4 made from it.

The page plays the first 15 s of the sample meeting (two voices) through WebAudio into
the recording, with a canvas as the screen, and sends each 1-second chunk as it comes:
declare it with its MD5, PUT it to its signed URL with the ``Content-MD5`` header, and
at the end ``finish`` with the count.
"""

from __future__ import annotations

import base64
import json

from tests.support.live import PASSWORD
from tests.support.media import SAMPLE

MD5 = """
function md5(bytes) {
  const K = new Uint32Array(64);
  for (let i = 0; i < 64; i++) K[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) >>> 0;
  const S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
  const length = bytes.length;
  const padded = new Uint8Array((((length + 8) >> 6) << 6) + 64);
  padded.set(bytes);
  padded[length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, (length * 8) >>> 0, true);
  view.setUint32(padded.length - 4, Math.floor(length / 2 ** 29), true);
  let a0 = 0x67452301, b0 = 0xefcdab89, c0 = 0x98badcfe, d0 = 0x10325476;
  for (let offset = 0; offset < padded.length; offset += 64) {
    let A = a0, B = b0, C = c0, D = d0;
    for (let i = 0; i < 64; i++) {
      let F, g;
      if (i < 16) { F = (B & C) | (~B & D); g = i; }
      else if (i < 32) { F = (D & B) | (~D & C); g = (5 * i + 1) % 16; }
      else if (i < 48) { F = B ^ C ^ D; g = (3 * i + 5) % 16; }
      else { F = C ^ (B | ~D); g = (7 * i) % 16; }
      F = (F + A + K[i] + view.getUint32(offset + 4 * g, true)) >>> 0;
      A = D; D = C; C = B;
      const s = S[(i >> 4) * 4 + (i % 4)];
      B = (B + ((F << s) | (F >>> (32 - s)))) >>> 0;
    }
    a0 = (a0 + A) >>> 0; b0 = (b0 + B) >>> 0; c0 = (c0 + C) >>> 0; d0 = (d0 + D) >>> 0;
  }
  const out = new DataView(new ArrayBuffer(16));
  [a0, b0, c0, d0].forEach((v, i) => out.setUint32(4 * i, v, true));
  return btoa(String.fromCharCode(...new Uint8Array(out.buffer)));
}
"""

RECORD = (
    """async ({api, user, password, sample, seconds}) => {
"""
    + MD5
    + """
  const call = async (method, path, body, token) => {
    const answer = await fetch(api + path, {
      method,
      headers: {"Content-Type": "application/json",
                ...(token ? {Authorization: "Bearer " + token} : {})},
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return {status: answer.status, body: await answer.json()};
  };
  const login = (await call("POST", "/api/token/", {username: user, password})).body;
  const token = login.access;
  const started = await call("POST", "/api/v1/recordings/request-upload/",
    {upload: "live", filename: "live standup.webm", title: "Live standup"}, token);
  const live = started.body;

  // the screen: a canvas that changes; the sound: the sample meeting through WebAudio
  const canvas = document.createElement("canvas"); canvas.width = 640; canvas.height = 360;
  document.body.appendChild(canvas);
  const g = canvas.getContext("2d"); let n = 0;
  const draw = () => { g.fillStyle = `hsl(${(n * 5) % 360},60%,40%)`; g.fillRect(0, 0, 640, 360);
    g.fillStyle = "#fff"; g.font = "40px sans-serif"; g.fillText("slide " + (n++ >> 5), 40, 180); };
  const timer = setInterval(draw, 33); draw();
  const audio = new AudioContext(); await audio.resume();
  const raw = Uint8Array.from(atob(sample), (c) => c.charCodeAt(0));
  const decoded = await audio.decodeAudioData(raw.buffer);
  const player = audio.createBufferSource(); player.buffer = decoded;
  const into = audio.createMediaStreamDestination(); player.connect(into);
  const stream = new MediaStream([...canvas.captureStream(30).getVideoTracks(),
                                  ...into.stream.getAudioTracks()]);
  const recorder = new MediaRecorder(stream, {mimeType: "video/webm;codecs=vp8,opus"});

  // each chunk as it comes: declare it with its MD5, PUT it to its signed URL
  let index = 0, sending = Promise.resolve();
  const puts = [], etags = [];
  const send = async (i, blob) => {
    const body = new Uint8Array(await blob.arrayBuffer());
    const digest = md5(body);
    const signed = await call("POST", live.chunks_url,
      {chunks: [{index: i, size: body.length, md5: digest}]}, token);
    const ticket = signed.body.chunks[0];
    if (ticket.stored) return;
    const put = await fetch(ticket.upload_url, {method: "PUT", headers: ticket.headers, body});
    puts.push(put.status); etags.push(put.headers.get("ETag"));
  };
  recorder.ondataavailable = ({data}) => {
    if (!data.size) return;
    const i = index++;
    sending = sending.then(() => send(i, data));
  };
  const stopped = new Promise((resolve) => { recorder.onstop = resolve; });
  player.start(); recorder.start(1000);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  recorder.stop(); await stopped; clearInterval(timer); player.stop();
  await sending;
  const status = await call("GET", live.upload_status_url, undefined, token);
  const finished = await call("POST", live.finish_url, {chunks: index}, token);

  // wait for the recording (bounded), then play its MP4
  let detail = null;
  for (let tries = 0; tries < 900; tries++) {
    detail = (await call("GET", `/api/v1/recordings/${live.recording_id}/`, undefined, token)).body;
    if (detail.status === "ready" || detail.status === "failed") break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  let played = null;
  if (detail.video_url) {
    const video = document.createElement("video");
    video.muted = true; video.src = detail.video_url; document.body.appendChild(video);
    played = await new Promise((resolve) => {
      video.addEventListener("error", () => resolve({error: video.error && video.error.code}));
      video.addEventListener("timeupdate", () => {
        if (video.currentTime > 0.5) resolve({duration: video.duration, width: video.videoWidth});
      });
      video.play().catch((error) => resolve({error: String(error)}));
      setTimeout(() => resolve({error: "timeout"}), 30000);
    });
  }
  return {started: started.status, live: live.upload, chunks: index, puts, etags,
          received: status.body.received.length, finished: finished.status,
          status: detail.status, error: detail.error,
          transcript: detail.transcript && detail.transcript.text, played};
}"""
)


def test_a_page_records_live_and_plays_the_mp4(live, page, app_origin):
    live.user("erin")
    page.goto(f"{app_origin}/app.html")
    sample = base64.b64encode(SAMPLE.read_bytes()).decode()
    result = page.evaluate(
        RECORD,
        {"api": live.url, "user": "erin", "password": PASSWORD, "sample": sample, "seconds": 12},
    )
    summary = json.dumps({k: v for k, v in result.items() if k != "etags"})
    assert result["started"] == 201, summary
    assert result["live"] == "live"
    assert result["chunks"] >= 10, summary  # one a second
    assert set(result["puts"]) == {200}, summary  # every chunk stored, cross-origin
    assert all(result["etags"]), "the page reads each chunk's ETag"
    assert result["received"] == result["chunks"], summary
    assert result["finished"] == 202, summary
    assert result["status"] == "ready", summary
    assert "good morning" in (result["transcript"] or "").lower(), summary
    assert result["played"] and "error" not in result["played"], summary
    assert result["played"]["width"] == 640
    assert 10 <= result["played"]["duration"] <= 14, summary
    assert not page.console_errors, page.console_errors
