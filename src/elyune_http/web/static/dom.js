// Building DOM nodes: text always goes in as text nodes (never parsed as HTML).

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      node.className = value;
    } else if (key === "dataset") {
      Object.assign(node.dataset, value);
    } else if (key in node && typeof value !== "string") {
      node[key] = value;
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

export function clock(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
  const total = Math.max(0, Math.floor(seconds));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = String(total % 60).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${secs}` : `${minutes}:${secs}`;
}

export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleString();
}

const STATUS_TEXT = {
  awaiting_upload: "Awaiting upload",
  uploaded: "Queued",
  processing: "Processing",
  ready: "Ready",
  failed: "Failed",
};

export function statusBadge(status) {
  return h("span", { class: `badge status-${status}`, dataset: { status } },
    STATUS_TEXT[status] || status);
}

export function setStatusBadge(node, status) {
  node.className = `badge status-${status}`;
  node.dataset.status = status;
  node.textContent = STATUS_TEXT[status] || status;
}

// A stable colour per speaker label (eight distinct hues, then wrapping).
const PALETTE = ["#2563eb", "#db2777", "#059669", "#d97706", "#7c3aed", "#0891b2", "#dc2626",
  "#4d7c0f"];
export function speakerColour(label) {
  if (label === null || label === undefined) return "#6b7280";
  const number = Number.parseInt(label, 10);
  let index = Number.isNaN(number) ? 0 : number;
  if (Number.isNaN(number)) for (const char of String(label)) index += char.charCodeAt(0);
  return PALETTE[Math.abs(index) % PALETTE.length];
}
