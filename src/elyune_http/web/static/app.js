// The router: #/login, #/ (library), #/recordings/<id>. Each view gets the main element
// and returns a function that stops its timers and streams when the view is left.
import { ApiError, SessionExpired, login, loggedIn, logout, onSessionExpired, refresh } from "./api.js";
import { clear, h } from "./dom.js";
import { libraryView } from "./library.js";
import { currentUser, forgetUser, operatorJobView, operatorJobsView, operatorUsersView }
  from "./operator.js";
import { recordingView } from "./recording.js";
import { searchHref, searchView } from "./search.js";
import { webhooksView } from "./webhooks.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const operatorLink = document.getElementById("nav-operator");
let leave = () => {};
let wanted = "#/";

function loginView(root, reason) {
  const error = h("p", { class: "error", role: "alert", id: "login-error" }, reason || "");
  const username = h("input", { id: "username", name: "username", autocomplete: "username",
    required: true, maxlength: "150" });
  const password = h("input", { id: "password", name: "password", type: "password",
    autocomplete: "current-password", required: true, maxlength: "1024" });
  const button = h("button", { type: "submit" }, "Log in");
  const form = h("form", { class: "card login", novalidate: false },
    h("h1", {}, "Log in to Elyune"),
    h("label", { for: "username" }, "User name"), username,
    h("label", { for: "password" }, "Password"), password,
    button, error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    error.textContent = "";
    try {
      await login(username.value, password.value);
      location.hash = wanted === "#/login" ? "#/" : wanted;
      route();
    } catch (exc) {
      error.textContent = exc instanceof ApiError ? exc.message : "Could not reach the server.";
      password.value = "";
      password.focus();
    } finally {
      button.disabled = false;
    }
  });
  clear(root).append(form);
  username.focus();
  return () => {};
}

function notFound(root) {
  clear(root).append(h("section", { class: "card" }, h("h1", {}, "Not found"),
    h("p", {}, h("a", { href: "#/" }, "Back to the library"))));
  return () => {};
}

async function route(reason) {
  leave();
  leave = () => {};
  const hash = location.hash || "#/";
  if (hash === "#/login" || !(loggedIn() || (await refresh()))) {
    if (hash !== "#/login") wanted = hash;
    nav.hidden = true;
    if (location.hash !== "#/login") history.replaceState(null, "", "#/login");
    leave = loginView(main, reason);
    return;
  }
  nav.hidden = false;
  const match = hash.match(/^#\/recordings\/([A-Za-z0-9_-]{1,64})(?:\?t=(\d+(?:\.\d+)?))?$/);
  try {
    let me = { is_staff: false };
    try {
      me = await currentUser();
    } catch (exc) {
      if (exc instanceof SessionExpired) throw exc; // else: shown as a regular user
    }
    operatorLink.hidden = !me.is_staff; // the operator view is linked for staff only
    if (hash.startsWith("#/operator")) {
      if (!me.is_staff) { // and refused to everyone else: back to the library
        history.replaceState(null, "", "#/");
        leave = libraryView(main);
        main.prepend(h("p", { class: "error", role: "alert", id: "refused" },
          "The operator view is for staff users only."));
        return;
      }
      const job = hash.match(/^#\/operator\/jobs\/([A-Za-z0-9_-]{1,64})$/);
      if (job) leave = operatorJobView(main, job[1]);
      else if (hash === "#/operator/users") leave = operatorUsersView(main);
      else leave = operatorJobsView(main);
      return;
    }
    if (hash === "#/" || hash.startsWith("#/?")) leave = libraryView(main);
    else if (match) leave = recordingView(main, match[1], match[2] ? Number(match[2]) : null);
    else if (hash === "#/search" || hash.startsWith("#/search?")) leave = searchView(main);
    else if (hash === "#/webhooks") leave = webhooksView(main);
    else leave = notFound(main);
  } catch (exc) {
    if (!(exc instanceof SessionExpired)) throw exc;
  }
}

onSessionExpired(() => {
  forgetUser();
  wanted = location.hash === "#/login" ? wanted : location.hash || "#/";
  leave();
  leave = () => {};
  nav.hidden = true;
  history.replaceState(null, "", "#/login");
  leave = loginView(main, "Your session has ended: log in again.");
});

document.getElementById("logout").addEventListener("click", async () => {
  leave();
  leave = () => {};
  await logout();
  forgetUser();
  operatorLink.hidden = true;
  location.hash = "#/login";
});

document.getElementById("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const q = document.getElementById("search-box").value.trim();
  if (q) location.hash = searchHref(q);
});

window.addEventListener("hashchange", () => route());
// Errors a view did not handle: a session that ended shows the login form (above).
window.addEventListener("unhandledrejection", (event) => {
  if (event.reason instanceof SessionExpired) event.preventDefault();
});
route();
