// Small DOM and formatting helpers shared by the views.

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function money(value) {
  return `$${Number(value || 0).toFixed(value && value < 0.01 ? 6 : 4)}`;
}

export function count(value) {
  return Number(value || 0).toLocaleString("en");
}

export function when(iso) {
  if (!iso) return "";
  const at = new Date(iso);
  return at.toLocaleString("en-GB", { dateStyle: "short", timeStyle: "medium" });
}

export function statusBadge(status) {
  return el("span", { class: `badge s-${status}` }, status);
}

export function progressBar(run) {
  const done = run.counts.completed + run.counts.failed;
  const percent = run.total ? Math.round((100 * done) / run.total) : 100;
  return el("progress", {
    max: String(run.total || 1),
    value: String(run.total ? done : 1),
    "aria-label": `${percent}% done: ${done} of ${run.total} items`,
    "data-percent": String(percent),
  });
}

export function problemBox(error) {
  const problem = error.problem || { title: "Error", detail: String(error.message || error) };
  const box = el("div", { class: "problem", role: "alert" },
    el("strong", {}, problem.title || "Refused"), problem.detail ? `: ${problem.detail}` : "");
  if (Array.isArray(problem.errors) && problem.errors.length) {
    box.append(el("ul", {}, problem.errors.map((e) => el("li", {}, `${e.field}: ${e.message}`))));
  }
  return box;
}

export function card(label, value) {
  return el("div", { class: "card" }, el("div", { class: "label" }, label),
    el("div", { class: "value" }, value));
}

export function announce(text) {
  document.getElementById("status").textContent = text;
}

// Refreshes while `active()` says there is something to watch: every `every` ms while the tab
// is visible, backing off (doubling up to `hiddenMax`) while it is hidden, at once when it is
// shown again. One tick at a time: a slow answer delays the next refresh, never overlaps it.
export class Refresher {
  constructor(tick, { every = 2000, hiddenMax = 60000 } = {}) {
    this.tick = tick;
    this.every = every;
    this.hiddenMax = hiddenMax;
    this.delay = every;
    this.timer = null;
    this.stopped = false;
    this.onVisibility = () => {
      if (!document.hidden && this.timer !== null) {
        clearTimeout(this.timer);
        this.delay = this.every;
        this.run();
      }
    };
    document.addEventListener("visibilitychange", this.onVisibility);
  }

  schedule(active) {
    if (this.stopped || !active) {
      this.timer = null;
      return;
    }
    this.delay = document.hidden ? Math.min(this.delay * 2, this.hiddenMax) : this.every;
    this.timer = setTimeout(() => this.run(), this.delay);
  }

  async run() {
    this.timer = null;
    let active = false;
    try {
      active = await this.tick();
    } catch (error) {
      announce(`Refresh failed: ${error.message}`);
      // A refusal (no key, not allowed, gone) stays a refusal; anything else is tried again
      // later, backing off as for a hidden tab.
      active = ![400, 401, 403, 404].includes(error.status);
      this.delay = Math.min(this.delay * 2, this.hiddenMax);
    }
    this.schedule(active);
  }

  stop() {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    document.removeEventListener("visibilitychange", this.onVisibility);
  }
}

// A table whose rows stack as labelled cards at phone width (app.css, `table.stack`): each cell
// carries its column's header as data-label (drawn by the style sheet: the CSP allows no inline
// style), and explicit roles keep the table semantics for screen readers when rows are blocks.
export function stackTable(headings, rows, attributes = {}) {
  return el("div", { class: "table-wrap" }, el("table", { ...attributes, class: "stack", role: "table" },
    el("thead", { role: "rowgroup" }, el("tr", { role: "row" },
      headings.map((h) => el("th", { scope: "col", role: "columnheader" }, h)))),
    el("tbody", { role: "rowgroup" }, rows.map((cells) => el("tr", { role: "row" },
      cells.map((c, n) => el("td", { role: "cell", "data-label": headings[n] }, c)))))));
}
