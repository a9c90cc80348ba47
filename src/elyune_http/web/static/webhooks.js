// Webhooks: the user's endpoints, a new one (its signing secret shown once), deletion,
// and each endpoint's delivery log.
import { SessionExpired, api } from "./api.js";
import { clear, h, when } from "./dom.js";

const EVENTS = ["recording.uploaded", "transcript.ready", "analysis.ready",
  "processing.completed", "processing.failed"];

export function webhooksView(root) {
  let stopped = false;
  const error = h("p", { class: "error", role: "alert", id: "webhooks-error" });
  const list = h("ul", { class: "webhooks", id: "webhooks" });
  const secretBox = h("div", { id: "new-secret", class: "card secret", hidden: true,
    role: "status" });

  const url = h("input", { id: "webhook-url", type: "url", required: true, maxlength: "2000",
    placeholder: "https://example.com/elyune-hook" });
  const description = h("input", { id: "webhook-description", maxlength: "500" });
  const boxes = EVENTS.map((event) => h("input", { type: "checkbox", value: event,
    id: `event-${event}`, defaultChecked: event === "processing.completed" }));
  const formError = h("p", { class: "error", role: "alert", id: "webhook-form-error" });
  const form = h("form", { class: "card editor", id: "webhook-form" },
    h("h2", {}, "New webhook"),
    h("label", { for: "webhook-url" }, "URL"), url,
    h("label", { for: "webhook-description" }, "Description"), description,
    h("fieldset", { class: "events" }, h("legend", {}, "Events"),
      boxes.map((box) => h("label", { class: "check" }, box, ` ${box.value}`))),
    formError, h("div", { class: "actions" }, h("button", { type: "submit" }, "Create webhook")));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    formError.textContent = "";
    try {
      const created = await api("POST", "/api/v1/webhooks/", {
        url: url.value.trim(),
        description: description.value,
        events: boxes.filter((box) => box.checked).map((box) => box.value),
      });
      form.reset();
      showSecret(created);
      await load();
    } catch (exc) {
      if (!(exc instanceof SessionExpired)) formError.textContent = exc.message;
    }
  });

  function showSecret(created) {
    const value = h("code", { id: "secret-value" }, created.secret);
    const copy = h("button", { type: "button" }, "Copy");
    copy.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(created.secret);
        copy.textContent = "Copied";
      } catch {
        copy.textContent = "Select and copy it";
      }
    });
    clear(secretBox).append(
      h("p", {}, h("strong", {}, "Signing secret of "), created.url),
      h("p", {}, value, " ", copy),
      h("p", { class: "muted" }, "Copy it now: it is not shown again. Deliveries are signed " +
        "with it (X-Elyune-Signature)."),
      h("button", { type: "button", onclick: () => { secretBox.hidden = true; clear(secretBox); } },
        "Done"));
    secretBox.hidden = false;
  }

  function row(hook) {
    const log = h("div", { class: "deliveries", hidden: true });
    const toggle = h("button", { type: "button", class: "small", "aria-expanded": "false" },
      "Delivery log");
    let timer = null;
    const refresh = async () => {
      await deliveries(hook, log);
      // An open log follows new deliveries and retries.
      if (!log.hidden && !stopped && log.isConnected) timer = setTimeout(refresh, 3000);
    };
    toggle.addEventListener("click", () => {
      const open = log.hidden;
      log.hidden = !open;
      toggle.setAttribute("aria-expanded", String(open));
      clearTimeout(timer);
      if (open) {
        clear(log).append(h("p", { class: "muted" }, "Loading…"));
        refresh();
      }
    });
    const remove = h("button", { type: "button", class: "small danger" }, "Delete");
    remove.addEventListener("click", async () => {
      if (!window.confirm(`Delete the webhook to ${hook.url} and its delivery log?`)) return;
      try {
        await api("DELETE", `/api/v1/webhooks/${hook.id}/`);
        await load();
      } catch (exc) {
        if (!(exc instanceof SessionExpired)) error.textContent = exc.message;
      }
    });
    return h("li", { class: "card webhook", dataset: { id: hook.id } },
      h("div", { class: "analysis-head" }, h("strong", { class: "webhook-url" }, hook.url),
        h("div", { class: "actions" }, toggle, remove)),
      hook.description ? h("p", { class: "webhook-description" }, hook.description) : null,
      h("p", { class: "muted" }, `${hook.events.join(", ")} · created ${when(hook.created_at)}`
        + (hook.is_active ? "" : " · inactive")),
      log);
  }

  async function deliveries(hook, box) {
    try {
      const page = await api("GET", `/api/v1/webhooks/${hook.id}/deliveries/`);
      clear(box);
      if (!page.results.length) {
        box.append(h("p", { class: "muted" }, "No deliveries yet."));
        return;
      }
      const body = h("tbody", {});
      for (const delivery of page.results) {
        const last = delivery.attempts.at(-1);
        body.append(h("tr", { class: `delivery delivery-${delivery.status}` },
          h("td", {}, delivery.event),
          h("td", {}, delivery.status),
          h("td", {}, when(delivery.created_at)),
          h("td", {}, String(delivery.attempts.length)),
          h("td", { class: "delivery-result" }, !last ? "" : last.error
            ? last.error : `HTTP ${last.status_code} in ${last.duration_ms} ms`),
          h("td", {}, delivery.next_attempt_at && !delivery.delivered_at
            ? `next try ${when(delivery.next_attempt_at)}` : when(delivery.delivered_at))));
      }
      box.append(h("table", { class: "log" }, h("thead", {}, h("tr", {},
        ["Event", "Status", "Created", "Attempts", "Last result", "Delivered"].map((title) =>
          h("th", { scope: "col" }, title)))), body));
    } catch (exc) {
      if (!(exc instanceof SessionExpired)) clear(box).append(h("p", { class: "error" }, exc.message));
    }
  }

  async function load() {
    try {
      const page = await api("GET", "/api/v1/webhooks/");
      if (stopped) return;
      error.textContent = "";
      clear(list);
      for (const hook of page.results) list.append(row(hook));
      if (!page.results.length) list.append(h("li", { class: "empty" }, "No webhooks yet."));
    } catch (exc) {
      if (!(exc instanceof SessionExpired) && !stopped) error.textContent = exc.message;
    }
  }

  clear(root).append(h("section", { class: "webhooks-page" }, h("h1", {}, "Webhooks"),
    h("p", { class: "muted" }, "Elyune POSTs a signed JSON event to these URLs."),
    error, secretBox, form, h("h2", {}, "Your webhooks"), list));
  load();
  return () => { stopped = true; };
}
