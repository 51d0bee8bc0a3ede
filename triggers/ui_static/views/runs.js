// The runs list: newest first, by agent and status, with progress, tokens, cost and cache
// savings. One request per refresh (GET /api/runs), refreshed while a listed run is active.
import { getJson } from "../api.js";
import { Refresher, announce, count, el, money, problemBox, progressBar, statusBadge, when } from "../util.js";

const STATUSES = ["", "running", "completed", "failed", "canceled", "stopped"];

export async function runsView(main, params) {
  const agents = await getJson("agents").then((b) => b.agents.map((a) => a.name)).catch(() => []);
  const agentSelect = el("select", { id: "filter-agent", name: "agent" },
    el("option", { value: "" }, "All agents"), agents.map((a) => el("option", { value: a }, a)));
  const statusSelect = el("select", { id: "filter-status", name: "status" },
    STATUSES.map((s) => el("option", { value: s }, s || "Any status")));
  agentSelect.value = params.get("agent") || "";
  statusSelect.value = params.get("status") || "";
  const body = el("div", { id: "runs-body" });
  const more = el("div", { class: "actions" });
  main.append(
    el("h1", {}, "Runs"),
    el("div", { class: "filters" },
      el("div", {}, el("label", { for: "filter-agent" }, "Agent"), agentSelect),
      el("div", {}, el("label", { for: "filter-status" }, "Status"), statusSelect)),
    body, more);

  let pages = 1;
  const query = () => {
    const q = new URLSearchParams({ limit: "20" });
    if (agentSelect.value) q.set("agent", agentSelect.value);
    if (statusSelect.value) q.set("status", statusSelect.value);
    return q;
  };
  const refresher = new Refresher(async () => {
    // Only the first page refreshes; older pages hold finished runs.
    let listing;
    try {
      listing = await getJson(`runs?${query()}`);
    } catch (error) {
      body.replaceChildren(problemBox(error));
      throw error;
    }
    if (pages > 1) {
      // Older pages are on screen: update the rows in place rather than drop them.
      for (const run of listing.runs) body.querySelector(`tr[data-run="${run.id}"]`)?.replaceWith(row(run));
      return listing.runs.some((r) => r.status === "running" || r.status === "pending");
    }
    render(body, listing.runs);
    more.replaceChildren();
    if (listing.continuation) {
      more.append(el("button", { type: "button", class: "secondary", onclick: async () => {
        pages += 1;
        const next = await getJson(`runs?${query()}&continuation=${encodeURIComponent(listing.continuation)}`);
        body.querySelector("tbody").append(...next.runs.map(row));
        more.replaceChildren();
      } }, "Older runs"));
    }
    const active = listing.runs.some((r) => r.status === "running" || r.status === "pending");
    announce(`${listing.runs.length} runs${active ? ", refreshing while runs are active" : ""}`);
    return active;
  });
  const restart = () => {
    const q = new URLSearchParams();
    if (agentSelect.value) q.set("agent", agentSelect.value);
    if (statusSelect.value) q.set("status", statusSelect.value);
    history.replaceState(null, "", `#/runs${q.size ? `?${q}` : ""}`);
    pages = 1;
    if (refresher.timer !== null) clearTimeout(refresher.timer);
    refresher.run();
  };
  agentSelect.addEventListener("change", restart);
  statusSelect.addEventListener("change", restart);
  await refresher.run();
  return () => refresher.stop();
}

// The columns: header text and class. At phone width the rows stack as cards, each cell labelled
// by its column's header (data-label, drawn by the style sheet: the CSP allows no inline style).
const COLUMNS = [
  ["Run", ""], ["Agent", ""], ["Status", ""], ["Progress", ""],
  ["Done / failed / total", "num"], ["Tokens", "num wide"], ["Cost", "num"],
  ["Cache savings", "num wide"], ["Started", "wide"],
];

function render(body, runs) {
  if (!runs.length) {
    body.replaceChildren(el("p", { class: "note" }, "No runs yet. Submit one from the Submit view."));
    return;
  }
  // Explicit roles: a table whose rows are restyled as blocks keeps its table semantics for
  // screen readers in every browser.
  body.replaceChildren(el("div", { class: "table-wrap" }, el("table", { id: "runs-table", class: "stack", role: "table" },
    el("caption", { class: "note" }, "Newest first"),
    el("thead", { role: "rowgroup" }, el("tr", { role: "row" },
      COLUMNS.map(([label, cls]) => el("th", { scope: "col", role: "columnheader", class: cls || undefined }, label)))),
    el("tbody", { role: "rowgroup" }, runs.map(row)))));
}

function row(run) {
  const cells = [
    el("a", { href: `#/runs/${run.id}` }, run.id.slice(0, 8)),
    run.agent,
    statusBadge(run.status),
    progressBar(run),
    `${count(run.counts.completed)} / ${count(run.counts.failed)} / ${count(run.total)}`,
    count(run.usage.totalTokens),
    money(run.cost),
    `${money(run.cache.savedCost)} (${count(run.cache.hits)} hits)`,
    when(run.createdAt),
  ];
  return el("tr", { "data-run": run.id, role: "row" }, cells.map((cell, n) => {
    const [label, cls] = COLUMNS[n];
    return el("td", { role: "cell", class: cls || undefined, "data-label": label }, cell);
  }));
}
