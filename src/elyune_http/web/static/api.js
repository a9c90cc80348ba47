// The session and the REST API. The access token lives in this module's memory only;
// the refresh token is an HttpOnly cookie scripts cannot read, sent by the browser to
// /app/session/ alone, with the CSRF header that repeats the elyune_csrf cookie.

let access = null;
let refreshTimer = null;
let refreshing = null;
const expiredListeners = [];

export class ApiError extends Error {
  constructor(status, body) {
    super(ApiError.describe(body) || `Request failed (${status})`);
    this.status = status;
    this.body = body;
  }

  static describe(body) {
    if (!body || typeof body !== "object") return "";
    if (typeof body.detail === "string") return body.detail;
    return Object.entries(body)
      .map(([field, messages]) => `${field}: ${[].concat(messages).join(" ")}`)
      .join("; ");
  }
}

export class SessionExpired extends Error {}

export function onSessionExpired(listener) {
  expiredListeners.push(listener);
}

function csrfToken() {
  const pair = document.cookie.split("; ").find((item) => item.startsWith("elyune_csrf="));
  return pair ? decodeURIComponent(pair.slice("elyune_csrf=".length)) : "";
}

function remember(body) {
  access = body.access;
  clearTimeout(refreshTimer);
  // Renew at four fifths of the token's life, so a request rarely meets an expired one.
  const lifetime = Math.max(30, Number(body.access_lifetime) || 300);
  refreshTimer = setTimeout(() => { refresh().catch(() => {}); }, lifetime * 800);
}

async function sessionCall(path, body) {
  return fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function readJson(response) {
  const text = await response.text();
  if (!text) return null;
  try { return JSON.parse(text); } catch { return { detail: text.slice(0, 200) }; }
}

export async function login(username, password) {
  const response = await sessionCall("/app/session/", { username, password });
  const body = await readJson(response);
  if (!response.ok) throw new ApiError(response.status, body);
  remember(body);
  return body;
}

// A new access token from the refresh cookie; false when there is no session (any more).
export function refresh() {
  if (!refreshing) {
    refreshing = (async () => {
      const response = await sessionCall("/app/session/refresh/");
      if (!response.ok) { access = null; return false; }
      remember(await response.json());
      return true;
    })().finally(() => { refreshing = null; });
  }
  return refreshing;
}

export async function logout() {
  clearTimeout(refreshTimer);
  access = null;
  await sessionCall("/app/session/logout/");
}

export function loggedIn() {
  return access !== null;
}

function expired() {
  access = null;
  clearTimeout(refreshTimer);
  for (const listener of expiredListeners) listener();
  return new SessionExpired("Your session has ended: log in again.");
}

// fetch() with the access token; one refresh and retry on a 401.
export async function authorised(method, path, { body, accept, signal } = {}) {
  if (access === null && !(await refresh())) throw expired();
  const send = () => fetch(path, {
    method,
    signal,
    credentials: "omit",
    headers: {
      Authorization: `Bearer ${access}`,
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      ...(accept ? { Accept: accept } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let response = await send();
  if (response.status === 401) {
    if (!(await refresh())) throw expired();
    response = await send();
    if (response.status === 401) throw expired();
  }
  return response;
}

export async function api(method, path, body) {
  const response = await authorised(method, path, { body });
  if (response.status === 204) return null;
  const data = await readJson(response);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// Server-sent events over fetch (the token goes in a header, never in the URL).
// Calls onEvent(name, data) per event; resolves when the stream ends.
export async function stream(path, onEvent, signal) {
  const response = await authorised("GET", path, { accept: "text/event-stream", signal });
  if (response.status === 204) return;
  if (!response.ok) throw new ApiError(response.status, await readJson(response));
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const chunk = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data = [];
      for (const line of chunk.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    }
  }
}

// PUT a file to a presigned URL with progress (fetch cannot report upload progress).
export function upload(url, headers, file, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("PUT", url);
    for (const [name, value] of Object.entries(headers || {})) request.setRequestHeader(name, value);
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    request.addEventListener("load", () => {
      if (request.status >= 200 && request.status < 300) resolve();
      else reject(new Error(`The upload was refused (${request.status}).`));
    });
    request.addEventListener("error", () => reject(new Error("The upload failed: network error.")));
    request.send(file);
  });
}
