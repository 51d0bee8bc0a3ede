// One run: progress (and its trend while watched), items by status, failed items with their
// reasons and attempts, retries, item latency and cost by model, and cancel with confirmation.
// One request per refresh: GET /api/runs/{id} with a page of up to 1000 items; further pages
// load on demand.
import { getJson, request } from "../api.js";
import { Refresher, announce, card, count, el, money, problemBox, progressBar, stackTable, statusBadge, when } from "../util.js";

const PAGE = 1000;
const ACTIVE = new Set(["pending", "running"]);

export async function runView(main, runId) {
  const heading = el("h1", {}, `Run ${runId.slice(0, 8)}`);
  const summary = el("div", { id: "run-summary" });
  const trend = [];
  const trendBox = el("div", {});
  const statsBox = el("section", { id: "run-stats", "aria-labelledby": "run-stats-heading" });
  const itemsBox = el("div", { id: "run-items" });
  const cancelButton = el("button", { type: "button", class: "danger", id: "cancel-run", hidden: true }, "Cancel run");
  main.append(el("p", {}, el("a", { href: "#/runs" }, "← All runs")), heading, summary, trendBox,
    el("div", { class: "actions" }, cancelButton), statsBox, itemsBox);

  let extra = []; // items of later pages, loaded on demand
  let lastView = null;
  const refresher = new Refresher(async () => {
    let view;
    try {
      view = await getJson(`runs/${encodeURIComponent(runId)}?limit=${PAGE}`);
    } catch (error) {
      summary.replaceChildren(problemBox(error));
      throw error;
    }
    lastView = view;
    const done = view.counts.completed + view.counts.failed;
    trend.push([performance.now(), view.total ? done / view.total : 1]);
    renderSummary(summary, view);
    renderTrend(trendBox, trend);
    renderStats(statsBox, view.stats, view.progress);
    renderItems(itemsBox, view, [...view.items, ...extra], loadMore);
    cancelButton.hidden = !ACTIVE.has(view.status);
    const active = ACTIVE.has(view.status);
    announce(active ? `Run ${view.status}: ${done} of ${view.total} items` : `Run ${view.status}`);
    return active;
  });

  async function loadMore(token) {
    const next = await getJson(`runs/${encodeURIComponent(runId)}?limit=${PAGE}&continuation=${token}`);
    extra = [...extra, ...next.items];
    renderItems(itemsBox, { ...lastView, continuation: next.continuation }, [...lastView.items, ...extra], loadMore);
  }

  cancelButton.addEventListener("click", () => {
    const dialog = document.getElementById("confirm-dialog");
    dialog.returnValue = "";
    dialog.addEventListener("close", async () => {
      if (dialog.returnValue !== "yes") return;
      try {
        await request(`runs/${encodeURIComponent(runId)}/cancel`, { method: "POST" });
        announce("Run canceled");
      } catch (error) {
        summary.prepend(problemBox(error));
      }
      if (refresher.timer !== null) clearTimeout(refresher.timer);
      refresher.run();
    }, { once: true });
    dialog.showModal();
    document.getElementById("confirm-no").focus();
  });

  await refresher.run();
  return () => refresher.stop();
}

function renderSummary(box, view) {
  box.replaceChildren(
    el("p", {}, statusBadge(view.status), ` ${view.agent} · started ${when(view.createdAt)}`,
      view.finishedAt ? ` · finished ${when(view.finishedAt)}` : ""),
    el("label", { for: "run-progress" }, "Progress"),
    Object.assign(progressBar(view), { id: "run-progress" }),
    el("div", { class: "cards" },
      card("Completed", count(view.counts.completed)),
      card("Failed", count(view.counts.failed)),
      card("Pending", count(view.counts.pending)),
      card("Tokens", count(view.usage.totalTokens)),
      card("Cost", money(view.cost)),
      card("Cache savings", `${money(view.cache.savedCost)} (${count(view.cache.hits)} hits)`)),
  );
}

// Completed share over the time this page has watched the run, as a line.
function renderTrend(box, trend) {
  if (trend.length < 2) {
    box.replaceChildren();
    return;
  }
  const t0 = trend[0][0];
  const span = Math.max(trend[trend.length - 1][0] - t0, 1);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "trend");
  svg.setAttribute("viewBox", "0 0 100 20");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "Progress over time while this page was open");
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", trend.map(([t, f]) => `${(100 * (t - t0)) / span},${20 - 20 * f}`).join(" "));
  svg.append(line);
  box.replaceChildren(el("h2", {}, "Progress over time"), svg);
}

const ms = (value) => (value === null ? "—" : `${count(value)} ms`);

// Over every item of the run, not only the page loaded.
// Deferrals come from the orchestration's progress: items put back without spending an attempt.
function renderStats(box, stats, progress) {
  const deferrals = Number.isInteger(progress?.deferrals) ? count(progress.deferrals) : "—";
  box.replaceChildren(
    el("h2", { id: "run-stats-heading" }, "Item statistics"),
    el("p", { id: "run-latency" },
      `Model time per item: p50 ${ms(stats.latencyP50Ms)}, p95 ${ms(stats.latencyP95Ms)} ` +
      `(over ${count(stats.timedItems)} timed items). Retries: ${count(stats.retries)}. ` +
      `Deferrals (open breaker, long retry-after; no attempt spent): ${deferrals}.`),
    stats.byModel.length ? el("div", { class: "table-wrap" }, el("table", { id: "cost-by-model" },
      el("caption", {}, "Tokens and cost by model"),
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Model"),
        el("th", { scope: "col", class: "num" }, "Items"), el("th", { scope: "col", class: "num" }, "Tokens"),
        el("th", { scope: "col", class: "num" }, "Cost"))),
      el("tbody", {}, stats.byModel.map((spend) => el("tr", {},
        el("th", { scope: "row" }, spend.model ?? "not recorded"),
        el("td", { class: "num" }, count(spend.items)),
        el("td", { class: "num" }, count(spend.usage.totalTokens)),
        el("td", { class: "num" }, money(spend.cost)))))))
      : el("p", { class: "note" }, "No finished items yet."),
  );
}

function renderItems(box, view, items, loadMore) {
  const failed = items.filter((i) => i.status === "failed");
  const retried = items.filter((i) => i.attempts > 1);
  const byStatus = { pending: 0, completed: 0, failed: 0 };
  for (const item of items) byStatus[item.status] += 1;
  const kinds = {};
  for (const item of failed) kinds[item.error?.kind || "unknown"] = (kinds[item.error?.kind || "unknown"] || 0) + 1;
  box.replaceChildren(
    el("h2", {}, "Items"),
    el("p", {}, `Shown: ${items.length} of ${view.total}. Completed ${byStatus.completed}, failed ${byStatus.failed}, pending ${byStatus.pending}. ` +
      `Retried: ${retried.length} items (${retried.reduce((n, i) => n + i.attempts - 1, 0)} retries). ` +
      `Answered from cache: ${items.filter((i) => i.cached).length}.`),
    view.continuation ? el("button", { type: "button", class: "secondary",
      onclick: () => loadMore(view.continuation) }, "Load more items") : "",
    el("h2", { id: "failed-heading" }, `Failed items (${failed.length})`),
    Object.keys(kinds).length ? el("p", {}, Object.entries(kinds).map(([k, n]) => `${k}: ${n}`).join(", ")) : "",
    failed.length ? stackTable(["Item", "Reason", "Attempts"], failed.map((item) => [
      el("details", {}, el("summary", {}, `#${item.index}`), el("pre", {}, JSON.stringify(item, null, 2))),
      `${item.error?.kind || "unknown"}: ${item.error?.message || ""}`,
      String(item.attempts),
    ]), { id: "failed-items", "aria-labelledby": "failed-heading" }) : el("p", { class: "note" }, "None."),
  );
}
