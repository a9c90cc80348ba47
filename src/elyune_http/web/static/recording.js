// One recording: the player with subtitles, the transcript synced both ways, speakers,
// the four analyses, editing, downloads, deletion, and the job's steps live.
import { ApiError, SessionExpired, api, authorised, stream } from "./api.js";
import { clear, clock, h, speakerColour, statusBadge, when } from "./dom.js";

const ANALYSES = [
  ["summary", "Summary"],
  ["action_items", "Action items"],
  ["key_points", "Key points"],
  ["sentiment", "Sentiment"],
];
const EXPORTS = ["srt", "vtt", "txt", "json"];
const FINISHED = new Set(["ready", "failed"]);

export function recordingView(root, id, startAt = null) {
  const base = `/api/v1/recordings/${id}/`;
  const controller = new AbortController();
  let stopped = false;
  let detail = null;
  let video = null;
  let transcript = null; // {segments, words}
  let segmentNodes = [];
  let wordNodes = [];
  let currentSegment = -1;
  let currentWord = -1;
  let streaming = false;

  const page = h("article", { class: "recording-page" });
  const message = h("p", { class: "error", role: "alert", id: "page-error" });
  clear(root).append(message, page, h("p", { class: "muted" }, "Loading…"));

  function fail(exc) {
    if (exc instanceof SessionExpired || stopped) return;
    message.textContent = exc.message;
  }

  function speakerName(label) {
    if (label === null || label === undefined) return "";
    return (detail.speaker_names || {})[label] || `Speaker ${label}`;
  }

  function seek(seconds) {
    if (!video || seconds === null || seconds === undefined) return;
    video.currentTime = Math.max(0, Number(seconds));
    highlight();
  }

  function timestampButton(seconds, segmentId) {
    let at = seconds;
    if ((at === null || at === undefined) && segmentId !== null && segmentId !== undefined
        && transcript) {
      const segment = transcript.segments.find((s) => s.id === segmentId);
      at = segment ? segment.start : null;
    }
    if (at === null || at === undefined) return null;
    return h("button", { type: "button", class: "timestamp", dataset: { seconds: String(at) },
      "aria-label": `Play from ${clock(at)}`, onclick: () => seek(at) }, clock(at));
  }

  // ------------------------------------------------------------------ header and editing
  function header() {
    const title = h("h1", { id: "title" }, detail.title || detail.filename || "Untitled");
    const description = h("p", { id: "description", class: "description" },
      detail.description || "");
    const edit = h("button", { type: "button", id: "edit" }, "Edit");
    const remove = h("button", { type: "button", id: "delete", class: "danger" }, "Delete");
    const box = h("header", { class: "recording-head" },
      h("div", {}, title, h("div", { class: "line" }, statusBadge(detail.status),
        h("span", { class: "duration" }, clock(detail.duration)),
        h("span", { class: "muted" }, when(detail.created_at))), description),
      h("div", { class: "actions" }, edit, remove));
    edit.addEventListener("click", () => box.replaceWith(editor()));
    remove.addEventListener("click", () => confirmDelete());
    return box;
  }

  function editor() {
    const title = h("input", { id: "edit-title", value: detail.title || "", maxlength: "255",
      "aria-label": "Title" });
    const description = h("textarea", { id: "edit-description", rows: "3",
      "aria-label": "Description" });
    description.value = detail.description || "";
    const error = h("p", { class: "error", role: "alert" });
    const form = h("form", { class: "card editor" },
      h("label", { for: "edit-title" }, "Title"), title,
      h("label", { for: "edit-description" }, "Description"), description, error,
      h("div", { class: "actions" }, h("button", { type: "submit" }, "Save"),
        h("button", { type: "button", onclick: () => form.replaceWith(header()) }, "Cancel")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const saved = await api("PATCH", base,
          { title: title.value, description: description.value });
        detail.title = saved.title;
        detail.description = saved.description;
        form.replaceWith(header());
      } catch (exc) {
        if (!(exc instanceof SessionExpired)) error.textContent = exc.message;
      }
    });
    setTimeout(() => title.focus());
    return form;
  }

  function confirmDelete() {
    const dialog = h("dialog", { id: "confirm-delete", "aria-labelledby": "confirm-title" },
      h("h2", { id: "confirm-title" }, "Delete this recording?"),
      h("p", {}, "Its video, audio, transcript and analyses are deleted for good."));
    const cancel = h("button", { type: "button", onclick: () => dialog.close() }, "Cancel");
    const confirm = h("button", { type: "button", class: "danger", id: "confirm-delete-button" },
      "Delete");
    confirm.addEventListener("click", async () => {
      try {
        await api("DELETE", base);
        dialog.close();
        location.hash = "#/";
      } catch (exc) {
        dialog.close();
        fail(exc);
      }
    });
    dialog.append(h("div", { class: "actions" }, cancel, confirm));
    dialog.addEventListener("close", () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  }

  // ------------------------------------------------------------------ processing
  const stepsBox = h("details", { class: "card steps", id: "steps", "aria-live": "polite" });

  function renderSteps(job) {
    clear(stepsBox);
    if (!job) return;
    const failed = job.steps.some((s) => s.status === "failed");
    const running = !["succeeded", "failed"].includes(job.status);
    // Open while the job runs or when a step failed; a finished job's steps fold away.
    if (running || failed) stepsBox.open = true;
    const total = job.steps.reduce((sum, s) => sum + (s.duration || 0), 0);
    stepsBox.append(h("summary", {}, h("h2", {}, running ? "Processing"
      : failed ? "Processing failed" : `Processed in ${total.toFixed(1)} s`)),
      h("progress", { max: "100", value: String(job.progress ?? 0), "aria-label": "Job progress" }));
    const list = h("ol", { class: "step-list" });
    for (const step of job.steps) {
      list.append(h("li", { class: `step step-${step.status}`, dataset: { step: step.name } },
        h("span", { class: "step-title" }, step.title || step.name),
        h("span", { class: "step-status" }, step.status +
          (step.status === "running" && step.progress !== null ? ` ${step.progress}%` : "")),
        h("span", { class: "muted" }, step.duration !== null ? `${step.duration.toFixed(1)} s` : ""),
        step.attempts > 1 ? h("span", { class: "muted" }, `attempt ${step.attempts}`) : null,
        step.error ? h("p", { class: "error step-error" }, step.error) : null));
    }
    stepsBox.append(list);
    if (failed) {
      stepsBox.append(h("button", { type: "button", id: "retry", onclick: retry },
        "Retry failed steps"));
    }
  }

  async function retry() {
    try {
      const result = await api("POST", `${base}retry/`);
      // Show the reset steps as pending at once: the job may fail again (or finish) before
      // the page reads the recording back, and the user should see that it ran again.
      if (detail.job) {
        const reset = new Set(result.reset);
        detail.job.steps = detail.job.steps.map((s) => (reset.has(s.name)
          ? { ...s, status: "pending", error: null, progress: null, duration: null } : s));
        detail.job.status = "running";
        renderSteps(detail.job);
      }
      await load();
    } catch (exc) {
      fail(exc);
    }
  }

  async function watch() {
    if (streaming || stopped) return;
    streaming = true;
    let done = false;
    try {
      while (!stopped && !done) {
        await stream(`${base}events/`, (name, data) => {
          if (name === "step" && detail.job) {
            const index = detail.job.steps.findIndex((s) => s.name === data.name);
            if (index >= 0) detail.job.steps[index] = data;
            detail.job.progress = data.progress_total;
            renderSteps(detail.job);
          } else if (name === "done") {
            done = true;
          }
        }, controller.signal);
        if (!done && !stopped) await new Promise((resolve) => setTimeout(resolve, 1000));
        if (!done && !stopped) {
          const fresh = await api("GET", base);
          if (FINISHED.has(fresh.status) && fresh.job && fresh.job.status !== "running") done = true;
        }
      }
    } catch (exc) {
      if (exc.name !== "AbortError") fail(exc);
    } finally {
      streaming = false;
    }
    if (done && !stopped) await load();
  }

  // ------------------------------------------------------------------ player and transcript
  function player() {
    video = h("video", { id: "player", controls: true, preload: "metadata",
      src: detail.video_url || detail.audio_url, poster: detail.thumbnail_url || undefined });
    if (detail.transcript_vtt_url) {
      video.append(h("track", { kind: "subtitles", label: "Transcript", default: true,
        srclang: (detail.transcript && detail.transcript.language) || "en",
        src: detail.transcript_vtt_url }));
    }
    video.addEventListener("timeupdate", highlight);
    video.addEventListener("seeked", highlight);
    return h("div", { class: "player" }, video);
  }

  function transcriptPane() {
    const pane = h("section", { class: "card transcript", id: "transcript",
      "aria-label": "Transcript" }, h("h2", {}, "Transcript"));
    segmentNodes = [];
    wordNodes = [];
    if (!transcript || !transcript.segments.length) {
      pane.append(h("p", { class: "muted" }, "No transcript."));
      return pane;
    }
    const words = transcript.words || [];
    let w = 0;
    for (const segment of transcript.segments) {
      const text = h("p", { class: "segment-text" });
      const mine = [];
      while (w < words.length && words[w].start < segment.end - 1e-6) {
        if (words[w].start >= segment.start - 0.05) mine.push(words[w]);
        w += 1;
      }
      if (mine.length) {
        for (const word of mine) {
          const node = h("span", { class: "word", dataset: { start: String(word.start) } },
            word.punctuated_word || word.word);
          node.addEventListener("click", (event) => { event.stopPropagation(); seek(word.start); });
          wordNodes.push({ node, start: word.start, end: word.end });
          text.append(node, " ");
        }
      } else {
        text.textContent = segment.text;
      }
      const chip = h("span", { class: "speaker-chip", dataset: { speaker: segment.speaker ?? "" } },
        segment.speaker === null ? "" : speakerName(segment.speaker));
      chip.style.setProperty("--speaker", speakerColour(segment.speaker));
      const node = h("div", { class: "segment", tabindex: "0", role: "button",
        dataset: { start: String(segment.start) },
        "aria-label": `${clock(segment.start)} ${segment.text}` },
        h("span", { class: "segment-time" }, clock(segment.start)), chip, text);
      node.addEventListener("click", () => seek(segment.start));
      node.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); seek(segment.start); }
      });
      segmentNodes.push({ node, start: segment.start, end: segment.end });
      pane.append(node);
    }
    return pane;
  }

  function find(items, time) {
    // The last item starting at or before time (items are in time order), if still on.
    let low = 0;
    let high = items.length - 1;
    let found = -1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      if (items[mid].start <= time + 1e-3) { found = mid; low = mid + 1; } else high = mid - 1;
    }
    return found >= 0 && time <= items[found].end + 0.25 ? found : -1;
  }

  function highlight() {
    if (!video) return;
    const time = video.currentTime;
    const segment = find(segmentNodes, time);
    if (segment !== currentSegment) {
      if (currentSegment >= 0) {
        segmentNodes[currentSegment].node.classList.remove("current");
        segmentNodes[currentSegment].node.removeAttribute("aria-current");
      }
      if (segment >= 0) {
        const node = segmentNodes[segment].node;
        node.classList.add("current");
        node.setAttribute("aria-current", "true");
        if (!video.paused) node.scrollIntoView({ block: "nearest", behavior: "smooth" });
      }
      currentSegment = segment;
    }
    const word = find(wordNodes, time);
    if (word !== currentWord) {
      if (currentWord >= 0) wordNodes[currentWord].node.classList.remove("current");
      if (word >= 0) wordNodes[word].node.classList.add("current");
      currentWord = word;
    }
  }

  // ------------------------------------------------------------------ speakers
  function speakersPane() {
    const labels = (detail.transcript && detail.transcript.speakers || []).map((s) => s.label);
    const pane = h("section", { class: "card speakers", id: "speakers" }, h("h2", {}, "Speakers"));
    if (!labels.length) {
      pane.append(h("p", { class: "muted" }, "No speakers were told apart."));
      return pane;
    }
    for (const label of labels) {
      const input = h("input", { class: "speaker-name", value: speakerName(label), maxlength: "100",
        dataset: { speaker: label }, "aria-label": `Name of speaker ${label}` });
      const swatch = h("span", { class: "swatch", "aria-hidden": "true" });
      swatch.style.setProperty("--speaker", speakerColour(label));
      const status = h("span", { class: "muted", role: "status" });
      const save = async () => {
        const name = input.value.trim();
        if (name === speakerName(label)) return;
        try {
          const result = await api("PATCH", `${base}speakers/`, { [label]: name });
          detail.speaker_names = result.speaker_names;
          input.value = speakerName(label);
          status.textContent = "Saved";
          await refreshNames();
        } catch (exc) {
          if (!(exc instanceof SessionExpired)) status.textContent = exc.message;
        }
      };
      input.addEventListener("change", save);
      input.addEventListener("keydown", (event) => { if (event.key === "Enter") input.blur(); });
      pane.append(h("div", { class: "speaker" }, swatch, input, status));
    }
    return pane;
  }

  async function refreshNames() {
    for (const chip of page.querySelectorAll(".speaker-chip")) {
      const label = chip.dataset.speaker;
      if (label !== "") chip.textContent = speakerName(label);
    }
    // The analyses name speakers too (owners, per-speaker sentiment): read them again.
    const fresh = await api("GET", base);
    detail.analyses = fresh.analyses;
    const old = page.querySelector("#analyses");
    if (old) old.replaceWith(analysesPane());
  }

  // ------------------------------------------------------------------ analyses
  function analysesPane() {
    const pane = h("section", { class: "analyses", id: "analyses" });
    for (const [kind, label] of ANALYSES) {
      const analysis = (detail.analyses || {})[kind];
      const box = h("section", { class: "card analysis", id: `analysis-${kind}` },
        h("div", { class: "analysis-head" }, h("h2", {}, label),
          detail.transcript ? h("button", { type: "button", class: "small",
            onclick: () => rerun(kind) }, "Re-run") : null));
      if (!analysis) box.append(h("p", { class: "muted" }, "Not available."));
      else if (analysis.status === "failed") {
        box.append(h("p", { class: "error" }, `Failed: ${analysis.error || "unknown reason"}`));
      } else if (!analysis.content) box.append(h("p", { class: "muted" }, analysis.status));
      else box.append(analysisBody(kind, analysis.content));
      if (analysis) {
        box.append(h("p", { class: "muted analysis-when" },
          `Made ${when(analysis.updated_at || analysis.created_at)} by the ${analysis.engine} engine`));
      }
      pane.append(box);
    }
    return pane;
  }

  function analysisBody(kind, content) {
    if (kind === "summary") {
      return h("div", {}, content.title ? h("h3", {}, content.title) : null,
        h("p", { class: "prose" }, content.text));
    }
    if (kind === "sentiment") {
      return h("div", {}, h("p", {}, h("strong", {}, content.label), ` (${content.score})`),
        h("p", {}, content.explanation || ""),
        h("ul", {}, (content.speakers || []).map((s) =>
          h("li", {}, `${s.name || speakerName(s.speaker)}: ${s.label} (${s.score})`))));
    }
    const items = content.items || [];
    if (!items.length) return h("p", { class: "muted" }, "None found.");
    return h("ul", { class: "items" }, items.map((item) => h("li", { class: "item" },
      timestampButton(item.timestamp, item.segment_id),
      h("span", { class: "item-text" }, item.text),
      item.owner ? h("span", { class: "owner" }, ` — ${item.owner}`) : null,
      item.due ? h("span", { class: "muted" }, ` (due ${item.due})`) : null)));
  }

  async function rerun(kind) {
    try {
      await api("POST", `${base}analyses/${kind}/rerun/`);
      await load();
    } catch (exc) {
      fail(exc);
    }
  }

  // ------------------------------------------------------------------ downloads
  function downloads() {
    const links = [];
    if (detail.video_url) links.push(h("a", { href: detail.video_url, download: "", class: "button",
      id: "download-mp4" }, "MP4"));
    if (detail.audio_url) links.push(h("a", { href: detail.audio_url, download: "", class: "button",
      id: "download-wav" }, "WAV"));
    if (detail.transcript) {
      for (const format of EXPORTS) {
        links.push(h("button", { type: "button", class: "button", dataset: { format },
          onclick: () => exportFile(format) }, format.toUpperCase()));
      }
    }
    return h("section", { class: "card downloads" }, h("h2", {}, "Download"),
      links.length ? h("div", { class: "actions" }, links) : h("p", { class: "muted" }, "Nothing yet."));
  }

  async function exportFile(format) {
    try {
      const response = await authorised("GET", `${base}transcript/?format=${format}`);
      if (!response.ok) throw new ApiError(response.status, await response.json());
      const url = URL.createObjectURL(await response.blob());
      const link = h("a", { href: url, download: `${(detail.title || "transcript")}.${format}` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (exc) {
      fail(exc);
    }
  }

  // ------------------------------------------------------------------ the page
  async function load() {
    try {
      detail = await api("GET", base);
      transcript = null;
      if (detail.transcript) {
        const response = await authorised("GET", `${base}transcript/?format=json`);
        transcript = response.ok ? await response.json() : detail.transcript;
      }
    } catch (exc) {
      if (exc instanceof ApiError && exc.status === 404) {
        clear(root).append(h("section", { class: "card" }, h("h1", {}, "Recording not found"),
          h("p", {}, h("a", { href: "#/" }, "Back to the library"))));
        return;
      }
      fail(exc);
      return;
    }
    if (stopped) return;
    const time = video ? video.currentTime : startAt || 0; // ?t= from a search hit
    currentSegment = -1;
    currentWord = -1;
    clear(page);
    for (const node of root.querySelectorAll(":scope > p.muted")) node.remove();
    page.append(header());
    if (detail.status === "failed") {
      page.append(h("p", { class: "error failure", id: "failure" },
        `Processing failed: ${detail.error || (detail.job && detail.job.error) || "unknown reason"}`));
    }
    const running = detail.job && !["succeeded", "failed"].includes(detail.job.status);
    if (detail.job) {
      renderSteps(detail.job);
      page.append(stepsBox);
    }
    if (detail.status === "awaiting_upload") {
      page.append(h("p", { class: "muted" }, "Waiting for the upload to finish."));
    }
    if (detail.video_url || detail.audio_url) { // an audio-only recording plays its WAV
      page.append(h("div", { class: "review" },
        h("div", { class: "left" }, player(), speakersPane(), downloads()),
        transcriptPane()));
      if (time) video.currentTime = time;
      page.append(analysesPane());
    } else if (detail.transcript) {
      page.append(downloads());
    }
    if (running || ["uploaded", "processing", "awaiting_upload"].includes(detail.status)) watch();
  }

  load();
  return () => { stopped = true; controller.abort(); };
}
