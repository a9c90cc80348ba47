// Search: hits in the user's transcripts, titles, speakers and analyses; each hit opens
// the recording at its moment (#/recordings/<id>?t=<seconds>). Snippets are built from
// text nodes with <mark> around the matched words (the API's highlight offsets).
import { ApiError, SessionExpired, api } from "./api.js";
import { clear, clock, h } from "./dom.js";

const PAGE_SIZE = 20;
const KIND_TEXT = { title: "Title", description: "Description", speaker: "Speaker",
  summary: "Summary", action_items: "Action item", key_points: "Key point",
  sentiment: "Sentiment" };

function state() {
  const params = new URLSearchParams(location.hash.replace(/^#\/search\??/, ""));
  return { q: params.get("q") || "",
    page: Math.max(1, Number.parseInt(params.get("page") || "1", 10) || 1) };
}

export function searchHref(q, page = 1) {
  const params = new URLSearchParams({ q });
  if (page > 1) params.set("page", String(page));
  return `#/search?${params}`;
}

function snippet(hit) {
  const node = h("p", { class: "snippet" });
  let at = 0;
  for (const [start, end] of hit.highlights) {
    node.append(hit.snippet.slice(at, start), h("mark", {}, hit.snippet.slice(start, end)));
    at = end;
  }
  node.append(hit.snippet.slice(at));
  return node;
}

function hitItem(hit) {
  const moment = hit.start === null ? "" : clock(hit.start);
  const label = KIND_TEXT[hit.kind === "analysis" ? hit.field : hit.kind] || hit.kind;
  const where = hit.kind === "segment" ? moment : `${label}${moment ? ` · ${moment}` : ""}`;
  const href = hit.url.replace(/^\//, ""); // #/recordings/<id>?t=<seconds>
  return h("li", { class: "hit", dataset: { recording: hit.recording_id } },
    h("a", { class: "hit-link", href },
      h("span", { class: "title" }, hit.recording_title || "Untitled"),
      h("span", { class: "moment" }, where),
      hit.speaker_name ? h("span", { class: "muted" }, hit.speaker_name) : null),
    snippet(hit));
}

export function searchView(root) {
  const current = state();
  let stopped = false;
  const list = h("ol", { class: "hits", id: "hits", "aria-live": "polite" });
  const summary = h("p", { class: "muted", id: "hits-summary", role: "status" }, "Searching…");
  const pager = h("nav", { class: "pager", "aria-label": "Pages" });
  const error = h("p", { class: "error", role: "alert" });
  clear(root).append(h("section", {}, h("h1", {}, "Search"),
    h("p", { class: "muted" }, `Results for “${current.q}”`), summary, error, list, pager));
  const box = document.getElementById("search-box");
  if (box && box.value !== current.q) box.value = current.q;

  async function load() {
    if (!current.q.trim()) {
      summary.textContent = "Type words to find in your recordings.";
      return;
    }
    const params = new URLSearchParams({ q: current.q, page_size: String(PAGE_SIZE) });
    if (current.page > 1) params.set("page", String(current.page));
    try {
      const body = await api("GET", `/api/v1/search/?${params}`);
      if (stopped) return;
      summary.textContent = body.count ? `${body.count} match${body.count === 1 ? "" : "es"}`
        : "No matches.";
      list.replaceChildren(...body.results.map(hitItem));
      pager.replaceChildren(
        body.previous ? h("a", { href: searchHref(current.q, current.page - 1) }, "Previous") : "",
        body.next ? h("a", { href: searchHref(current.q, current.page + 1) }, "Next") : "");
    } catch (exc) {
      if (exc instanceof SessionExpired) return;
      summary.textContent = "";
      error.textContent = exc instanceof ApiError ? exc.message : "Could not reach the server.";
    }
  }

  load();
  return () => { stopped = true; };
}
