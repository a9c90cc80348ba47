// The operator view (staff users only): every user's jobs with filters, a job's steps,
// attempts, workers and errors with Retry, the queue's depth and the workers seen
// recently, and the users. The API refuses it to everyone else (403); the router sends
// non-staff users back to the library before any of it is asked for.
import { SessionExpired, api } from "./api.js";
import { clear, h, when } from "./dom.js";

const POLL_SECONDS = 5;
const FILTERS = [
  ["", "All jobs"], ["failed", "Failed"], ["running", "Running"], ["stuck", "Stuck"],
  ["pending", "Pending"], ["partial", "Partial"], ["succeeded", "Succeeded"],
];
const PAGE_SIZE = 25;

let who = null; // the caller (GET /api/v1/me/), per session

export async function currentUser() {
  if (who === null) who = await api("GET", "/api/v1/me/");
  return who;
}

export function forgetUser() {
  who = null;
}

function seconds(value) {
  if (value === null || value === undefined) return "–";
  return value < 60 ? `${value.toFixed(1)} s` : `${Math.floor(value / 60)} min ${Math.round(value % 60)} s`;
}

function jobBadge(status, stuck) {
  const shown = stuck ? "stuck" : status;
  return h("span", { class: `badge job-${shown}`, dataset: { status: shown } }, shown);
}

function tabs(active) {
  const link = (href, label, key) => h("a", { href, class: key === active ? "tab active" : "tab",
    "aria-current": key === active ? "page" : false }, label);
  return h("nav", { class: "tabs", "aria-label": "Operator" },
    link("#/operator", "Jobs", "jobs"), link("#/operator/users", "Users", "users"));
}

function failure(exc, box) {
  if (exc instanceof SessionExpired) return;
  box.textContent = exc.message;
}

// --------------------------------------------------------------------------- jobs

function jobsState() {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  return {
    status: params.get("status") || "",
    page: Math.max(1, Number.parseInt(params.get("page") || "1", 10) || 1),
  };
}

function goJobs(next) {
  const params = new URLSearchParams();
  if (next.status) params.set("status", next.status);
  if (next.page > 1) params.set("page", String(next.page));
  const query = params.toString();
  location.hash = query ? `#/operator?${query}` : "#/operator";
}

export function operatorJobsView(root) {
  const current = jobsState();
  let stopped = false;
  let timer = null;
  const error = h("p", { class: "error", role: "alert", id: "operator-error" });
  const filter = h("select", { id: "job-filter", "aria-label": "Filter jobs" },
    FILTERS.map(([value, label]) => h("option", { value, selected: value === current.status },
      label)));
  filter.addEventListener("change", () => goJobs({ status: filter.value, page: 1 }));
  const body = h("tbody", { id: "jobs" });
  const table = h("table", { class: "log jobs-table" },
    h("thead", {}, h("tr", {}, ["Job", "Recording", "Owner", "Status", "Steps", "Created",
      "Error"].map((title) => h("th", { scope: "col" }, title)))), body);
  const pager = h("nav", { class: "pager", "aria-label": "Pages" });
  const queue = h("section", { class: "card queue", id: "queue", "aria-live": "polite" },
    h("p", { class: "muted" }, "Loading the queue…"));

  clear(root).append(h("section", { class: "operator" },
    h("div", { class: "toolbar" }, h("h1", {}, "Operator"), tabs("jobs")),
    queue,
    h("div", { class: "filters" }, h("label", { for: "job-filter" }, "Show"), filter),
    error, h("div", { class: "table-box" }, table), pager));

  function stepsSummary(job) {
    const counts = {};
    for (const step of job.steps) counts[step.status] = (counts[step.status] || 0) + 1;
    return Object.entries(counts).map(([status, n]) => `${n} ${status}`).join(", ");
  }

  function row(job) {
    const recording = job.recording || {};
    return h("tr", { class: `job-row job-row-${job.stuck ? "stuck" : job.status}`,
      dataset: { id: job.id } },
    h("td", {}, h("a", { href: `#/operator/jobs/${job.id}`, class: "job-link" },
      job.id.slice(0, 8))),
    h("td", { class: "job-title" }, recording.title || "(deleted)"),
    h("td", {}, job.owner ? job.owner.username : "–"),
    h("td", {}, jobBadge(job.status, job.stuck)),
    h("td", { class: "muted" }, stepsSummary(job)),
    h("td", {}, when(job.created_at)),
    h("td", { class: "job-error" }, job.error || ""));
  }

  async function loadJobs() {
    const params = new URLSearchParams({ page_size: String(PAGE_SIZE) });
    if (current.status) params.set("status", current.status);
    if (current.page > 1) params.set("page", String(current.page));
    const page = await api("GET", `/api/v1/operator/jobs/?${params}`);
    if (stopped) return;
    clear(body);
    for (const job of page.results) body.append(row(job));
    if (!page.results.length) {
      body.append(h("tr", {}, h("td", { colspan: "7", class: "empty" },
        current.status ? `No ${current.status} jobs.` : "No jobs yet.")));
    }
    const pages = Math.max(1, Math.ceil(page.count / PAGE_SIZE));
    clear(pager).append(
      h("button", { type: "button", disabled: current.page <= 1,
        onclick: () => goJobs({ ...current, page: current.page - 1 }) }, "Previous"),
      h("span", {}, `Page ${current.page} of ${pages} · ${page.count} job${page.count === 1 ? "" : "s"}`),
      h("button", { type: "button", disabled: current.page >= pages,
        onclick: () => goJobs({ ...current, page: current.page + 1 }) }, "Next"));
  }

  async function loadQueue() {
    const data = await api("GET", "/api/v1/operator/queue/");
    if (stopped) return;
    const jobs = Object.entries(data.jobs).map(([status, n]) => `${n} ${status}`).join(", ");
    const workers = h("tbody", {});
    for (const worker of data.workers) {
      workers.append(h("tr", { class: "worker" }, h("td", { class: "worker-name" }, worker.name),
        h("td", {}, when(worker.last_seen)), h("td", {}, String(worker.running))));
    }
    if (!data.workers.length) {
      workers.append(h("tr", {}, h("td", { colspan: "3", class: "muted" },
        "No worker started a step in the last hour.")));
    }
    clear(queue).append(
      h("h2", {}, "Queue"),
      data.available
        ? h("p", { id: "queue-depth" },
          h("strong", {}, `${data.waiting} waiting`), ` · ${data.running} running · ` +
          `${data.consumers.length} consumer${data.consumers.length === 1 ? "" : "s"} (${data.backend})`)
        : h("p", { class: "error", id: "queue-depth" }, `The queue cannot be reached: ${data.error}`),
      h("p", { class: "muted" }, `Jobs: ${jobs || "none"} · stuck steps: ${data.stuck_steps}`),
      h("h2", {}, "Workers seen recently"),
      h("table", { class: "log", id: "workers" }, h("thead", {}, h("tr", {},
        ["Worker", "Last step started", "Running"].map((t) => h("th", { scope: "col" }, t)))),
      workers));
  }

  async function refresh() {
    try {
      await Promise.all([loadJobs(), loadQueue()]);
      error.textContent = "";
    } catch (exc) {
      failure(exc, error);
    }
    if (!stopped) timer = setTimeout(refresh, POLL_SECONDS * 1000);
  }
  refresh();
  return () => { stopped = true; clearTimeout(timer); };
}

// --------------------------------------------------------------------------- one job

export function operatorJobView(root, jobId) {
  let stopped = false;
  let timer = null;
  const error = h("p", { class: "error", role: "alert", id: "job-error" });
  const notice = h("p", { role: "status", id: "job-notice", class: "muted" });
  const box = h("div", { id: "job" }, h("p", { class: "muted" }, "Loading…"));
  clear(root).append(h("section", { class: "operator" },
    h("div", { class: "toolbar" }, h("h1", {}, "Job"), tabs("jobs")),
    h("p", {}, h("a", { href: "#/operator" }, "← All jobs")), error, notice, box));

  async function retry(step) {
    error.textContent = "";
    try {
      const result = await api("POST", `/api/v1/operator/jobs/${jobId}/retry/`,
        step ? { step } : undefined);
      notice.textContent = `Retrying: ${(result.reset.length ? result.reset : result.queued)
        .join(", ")}.`;
      await load();
    } catch (exc) {
      failure(exc, error);
    }
  }

  function render(job) {
    const recording = job.recording || {};
    const failed = job.steps.some((s) => s.status === "failed");
    const steps = h("tbody", {});
    for (const step of job.steps) {
      const stuck = step.stuck === true;
      const canRetry = step.status === "failed" || stuck;
      steps.append(h("tr", { class: `step-row step-${step.status}`, dataset: { step: step.name } },
        h("td", {}, step.title || step.name),
        h("td", { class: "step-status" }, stuck ? "stuck" : step.status),
        h("td", {}, String(step.attempts)),
        h("td", { class: "worker-name" }, step.worker || "–"),
        h("td", {}, when(step.started_at)),
        h("td", {}, seconds(step.duration)),
        h("td", {}, step.status === "running" ? when(step.lease_expires_at) : "–"),
        h("td", { class: "step-error" }, step.error || ""),
        h("td", {}, canRetry ? h("button", { type: "button", class: "small",
          onclick: () => retry(step.name) }, `Retry ${step.name}`) : "")));
    }
    clear(box).append(
      h("div", { class: "card" },
        h("h2", { class: "job-recording" }, recording.title || "(recording deleted)"),
        h("p", {}, jobBadge(job.status, job.stuck), " ",
          h("span", { class: "muted" }, `job ${job.id} · owner `),
          h("strong", { id: "job-owner" }, job.owner ? job.owner.username : "–"),
          h("span", { class: "muted" }, ` · created ${when(job.created_at)} · ${job.progress}%`)),
        job.error ? h("p", { class: "error failure", id: "job-failure" },
          `Processing failed: ${job.error}`) : null,
        h("div", { class: "actions" }, h("button", { type: "button", id: "retry-job",
          disabled: !failed && !job.stuck, onclick: () => retry(null) }, "Retry"))),
      h("h2", {}, "Steps"),
      h("div", { class: "table-box" }, h("table", { class: "log", id: "job-steps" },
        h("thead", {}, h("tr", {}, ["Step", "Status", "Attempts", "Worker", "Started",
          "Duration", "Lease until", "Error", ""].map((t) => h("th", { scope: "col" }, t)))),
        steps)));
  }

  async function load() {
    try {
      const job = await api("GET", `/api/v1/operator/jobs/${jobId}/`);
      if (stopped) return;
      render(job);
      error.textContent = "";
    } catch (exc) {
      if (!stopped) failure(exc, error);
    }
  }

  async function poll() {
    await load();
    if (!stopped) timer = setTimeout(poll, POLL_SECONDS * 1000);
  }
  poll();
  return () => { stopped = true; clearTimeout(timer); };
}

// --------------------------------------------------------------------------- users

export function operatorUsersView(root) {
  let stopped = false;
  const error = h("p", { class: "error", role: "alert", id: "users-error" });
  const notice = h("p", { role: "status", id: "users-notice", class: "muted" });
  const body = h("tbody", { id: "users" });

  const username = h("input", { id: "new-username", required: true, maxlength: "150",
    autocomplete: "off" });
  const password = h("input", { id: "new-password", type: "password", required: true,
    minlength: "8", maxlength: "1024", autocomplete: "new-password" });
  const staff = h("input", { id: "new-staff", type: "checkbox" });
  const formError = h("p", { class: "error", role: "alert", id: "user-form-error" });
  const form = h("form", { class: "card editor", id: "user-form" },
    h("h2", {}, "New user"),
    h("label", { for: "new-username" }, "User name"), username,
    h("label", { for: "new-password" }, "Password (at least 8 characters)"), password,
    h("label", { class: "check" }, staff, " Staff (operator)"),
    formError, h("div", { class: "actions" }, h("button", { type: "submit" }, "Create user")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    formError.textContent = "";
    try {
      const created = await api("POST", "/api/v1/operator/users/",
        { username: username.value.trim(), password: password.value, is_staff: staff.checked });
      form.reset();
      notice.textContent = `Created ${created.username}.`;
      await load();
    } catch (exc) {
      failure(exc, formError);
    }
  });

  async function change(user, flags, message) {
    error.textContent = "";
    try {
      await api("PATCH", `/api/v1/operator/users/${user.id}/`, flags);
      notice.textContent = message;
      await load();
    } catch (exc) {
      failure(exc, error);
    }
  }

  function resetForm(user, cell) {
    const field = h("input", { type: "password", minlength: "8", maxlength: "1024",
      required: true, autocomplete: "new-password",
      "aria-label": `New password for ${user.username}` });
    const save = h("button", { type: "submit", class: "small" }, "Set password");
    const cancel = h("button", { type: "button", class: "small" }, "Cancel");
    const reset = h("form", { class: "inline" }, field, save, cancel);
    const before = [...cell.childNodes];
    cancel.addEventListener("click", () => cell.replaceChildren(...before));
    reset.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      try {
        await api("POST", `/api/v1/operator/users/${user.id}/password/`,
          { password: field.value });
        notice.textContent = `The password of ${user.username} was reset; their sessions ended.`;
        cell.replaceChildren(...before);
      } catch (exc) {
        failure(exc, error);
      }
    });
    cell.replaceChildren(reset);
    field.focus();
  }

  function row(user) {
    const actions = h("td", { class: "actions" });
    actions.append(
      h("button", { type: "button", class: user.is_active ? "small danger" : "small",
        onclick: () => change(user, { is_active: !user.is_active },
          `${user.username} is ${user.is_active ? "deactivated" : "active again"}.`) },
      user.is_active ? "Deactivate" : "Activate"),
      h("button", { type: "button", class: "small",
        onclick: () => change(user, { is_staff: !user.is_staff },
          `${user.username} is ${user.is_staff ? "no longer staff" : "staff"}.`) },
      user.is_staff ? "Remove staff" : "Make staff"),
      h("button", { type: "button", class: "small", onclick: () => resetForm(user, actions) },
        "Reset password"));
    return h("tr", { class: user.is_active ? "user" : "user inactive", dataset: { id: user.id } },
      h("td", { class: "user-name" }, user.username),
      h("td", {}, user.is_active ? "active" : "inactive"),
      h("td", {}, user.is_staff ? "staff" : ""),
      h("td", {}, when(user.created_at)),
      actions);
  }

  async function load() {
    try {
      const page = await api("GET", "/api/v1/operator/users/");
      if (stopped) return;
      clear(body);
      for (const user of page.results) body.append(row(user));
    } catch (exc) {
      if (!stopped) failure(exc, error);
    }
  }

  clear(root).append(h("section", { class: "operator" },
    h("div", { class: "toolbar" }, h("h1", {}, "Operator"), tabs("users")),
    error, notice,
    h("div", { class: "table-box" }, h("table", { class: "log users-table" },
      h("thead", {}, h("tr", {}, ["User", "State", "Role", "Created", ""].map((t) =>
        h("th", { scope: "col" }, t)))), body)),
    form));
  load();
  return () => { stopped = true; };
}
