// The library: the user's recordings newest first, search, status filter, pages,
// live status, and an upload through the presigned flow.
import { ApiError, SessionExpired, api, upload } from "./api.js";
import { clear, clock, h, setStatusBadge, statusBadge, when } from "./dom.js";

const PAGE_SIZE = 12;
const POLL_SECONDS = 4;
const thumbnails = new Map(); // recording id -> {url, at}

function state() {
  const params = new URLSearchParams(location.hash.slice(3));
  return {
    search: params.get("search") || "",
    status: params.get("status") || "",
    page: Math.max(1, Number.parseInt(params.get("page") || "1", 10) || 1),
  };
}

function go(next) {
  const params = new URLSearchParams();
  if (next.search) params.set("search", next.search);
  if (next.status) params.set("status", next.status);
  if (next.page > 1) params.set("page", String(next.page));
  const query = params.toString();
  location.hash = query ? `#/?${query}` : "#/";
}

export function libraryView(root) {
  const current = state();
  let stopped = false;
  let timer = null;
  const search = h("input", { type: "search", id: "search", placeholder: "Search titles",
    value: current.search, "aria-label": "Search recordings", maxlength: "200" });
  const status = h("select", { id: "status-filter", "aria-label": "Filter by status" },
    h("option", { value: "" }, "All statuses"),
    ...["ready", "processing", "uploaded", "awaiting_upload", "failed"].map((value) =>
      h("option", { value, selected: value === current.status }, {
        ready: "Ready", processing: "Processing", uploaded: "Queued",
        awaiting_upload: "Awaiting upload", failed: "Failed",
      }[value])));
  let typing = null;
  search.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => go({ ...current, search: search.value.trim(), page: 1 }), 350);
  });
  status.addEventListener("change", () => go({ ...current, status: status.value, page: 1 }));

  const file = h("input", { type: "file", id: "upload-file", accept: "video/*,audio/*,.webm,.mp4,.mkv",
    class: "visually-hidden" });
  const uploadLabel = h("label", { for: "upload-file", class: "button" }, "Upload a recording");
  const progress = h("progress", { id: "upload-progress", max: "100", value: "0", hidden: true });
  const uploadStatus = h("span", { id: "upload-status", role: "status" });
  file.addEventListener("change", () => {
    if (file.files.length) sendFile(file.files[0]);
    file.value = "";
  });

  const list = h("ul", { class: "recordings", id: "recordings", "aria-live": "polite" });
  const pager = h("nav", { class: "pager", "aria-label": "Pages" });
  const error = h("p", { class: "error", role: "alert" });

  clear(root).append(h("section", {},
    h("div", { class: "toolbar" },
      h("h1", {}, "Your recordings"),
      h("div", { class: "upload" }, file, uploadLabel, progress, uploadStatus)),
    h("div", { class: "filters" }, search, status),
    error, list, pager));

  async function sendFile(chosen) {
    progress.hidden = false;
    progress.value = 0;
    uploadStatus.textContent = `Uploading ${chosen.name}…`;
    try {
      const ticket = await api("POST", "/api/v1/recordings/request-upload/",
        { filename: chosen.name, file_size: chosen.size, title: chosen.name.replace(/\.[^.]+$/, "") });
      await upload(ticket.upload_url, ticket.upload_headers, chosen,
        (share) => { progress.value = Math.round(share * 100); });
      progress.value = 100;
      await api("POST", `/api/v1/recordings/${ticket.recording_id}/upload-complete/`,
        { s3_key: ticket.s3_key });
      uploadStatus.textContent = "Uploaded: processing has started.";
      location.hash = `#/recordings/${ticket.recording_id}`;
    } catch (exc) {
      if (exc instanceof SessionExpired) return;
      progress.hidden = true;
      uploadStatus.textContent = `Upload failed: ${exc.message}`;
    }
  }

  const cards = new Map();

  function card(recording) {
    const image = h("img", { class: "thumb", alt: "", width: "160", height: "90" });
    const badge = statusBadge(recording.status);
    const title = h("a", { class: "title", href: `#/recordings/${recording.id}` });
    const duration = h("span", { class: "duration" });
    const created = h("span", { class: "muted" });
    const node = h("li", { class: "recording", dataset: { id: recording.id } },
      h("div", { class: "thumb-box" }, image), h("div", { class: "meta" }, title,
        h("div", { class: "line" }, badge, duration, created)));
    const entry = { node, image, badge, title, duration, created, status: null };
    cards.set(recording.id, entry);
    return entry;
  }

  function update(entry, recording) {
    entry.title.textContent = recording.title || recording.filename || "Untitled";
    entry.duration.textContent = clock(recording.duration);
    entry.created.textContent = when(recording.created_at);
    if (entry.status !== recording.status) {
      setStatusBadge(entry.badge, recording.status);
      entry.status = recording.status;
      if (recording.files.some((f) => f.kind === "thumbnail")) loadThumbnail(entry, recording.id);
    }
  }

  async function loadThumbnail(entry, id) {
    const cached = thumbnails.get(id);
    if (cached && Date.now() - cached.at < 5 * 60 * 1000) {
      entry.image.src = cached.url;
      return;
    }
    try {
      const detail = await api("GET", `/api/v1/recordings/${id}/`);
      if (detail.thumbnail_url) {
        thumbnails.set(id, { url: detail.thumbnail_url, at: Date.now() });
        entry.image.src = detail.thumbnail_url;
      }
    } catch { /* the card keeps its placeholder */ }
  }

  function render(page) {
    const ids = page.results.map((r) => r.id);
    const same = ids.length === cards.size && ids.every((id) => cards.has(id));
    if (!same) {
      cards.clear();
      clear(list);
    }
    for (const recording of page.results) {
      const entry = cards.get(recording.id) || card(recording);
      if (!same) list.append(entry.node);
      update(entry, recording);
    }
    if (!page.results.length) {
      list.append(h("li", { class: "empty" }, current.search || current.status
        ? "No recordings match." : "No recordings yet. Upload one, or record with the extension."));
    }
    const pages = Math.max(1, Math.ceil(page.count / PAGE_SIZE));
    clear(pager).append(
      h("button", { type: "button", disabled: !page.previous,
        onclick: () => go({ ...current, page: current.page - 1 }) }, "Previous"),
      h("span", { class: "muted" }, `Page ${current.page} of ${pages} · ${page.count} recordings`),
      h("button", { type: "button", disabled: !page.next,
        onclick: () => go({ ...current, page: current.page + 1 }) }, "Next"));
  }

  async function load() {
    const params = new URLSearchParams({ page: String(current.page), page_size: String(PAGE_SIZE) });
    if (current.search) params.set("search", current.search);
    if (current.status) params.set("status", current.status);
    try {
      const page = await api("GET", `/api/v1/recordings/?${params}`);
      if (stopped) return;
      error.textContent = "";
      render(page);
    } catch (exc) {
      if (exc instanceof SessionExpired || stopped) return;
      if (exc instanceof ApiError && exc.status === 404 && current.page > 1) {
        go({ ...current, page: 1 });
        return;
      }
      error.textContent = `Could not load recordings: ${exc.message}`;
    }
    // Statuses change while jobs run: read the page again, as long as it is shown.
    if (!stopped) timer = setTimeout(load, POLL_SECONDS * 1000);
  }

  load();
  return () => { stopped = true; clearTimeout(timer); clearTimeout(typing); };
}
