// Operations (admins): circuit breakers and dependency checks (GET /api/health/ready), the
// latest backups (GET /api/backups) and reports (GET /api/reports), with links. Limiter load
// and budgets used today have no API yet, and the page says so rather than guessing.
import { ApiError, getJson, openDocument, request } from "../api.js";
import { count, el, problemBox, when } from "../util.js";

export async function opsView(main) {
  const health = el("section", { id: "ops-health", "aria-labelledby": "ops-health-h" });
  const backups = el("section", { id: "ops-backups", "aria-labelledby": "ops-backups-h" });
  const reports = el("section", { id: "ops-reports", "aria-labelledby": "ops-reports-h" });
  main.append(el("h1", {}, "Operations"), health, backups, reports,
    el("h2", {}, "Rate limiters and budgets"),
    el("p", { class: "note" }, "Limiter load per deployment and budgets used today per tenant and agent are not shown: the API has no route for them yet."));
  await Promise.all([showHealth(health), showBackups(backups), showReports(reports)]);
}

async function showHealth(box) {
  box.append(el("h2", { id: "ops-health-h" }, "Readiness and circuit breakers"));
  let ready;
  try {
    // 503 still carries the checks: read the body whatever the status.
    ready = await (await request("health/ready")).json();
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 503) {
      box.append(problemBox(error));
      return;
    }
    ready = error.problem;
  }
  box.append(el("p", {}, `Status: ${ready.status}`),
    table(["Check", "Outcome"], Object.entries(ready.checks || {})),
    table(["Deployment", "Breaker"], Object.entries(ready.breakers || {})));
}

async function showBackups(box) {
  box.append(el("h2", { id: "ops-backups-h" }, "Latest backups"));
  try {
    const { backups } = await getJson("backups?limit=5");
    box.append(backups.length ? table(["Backup", "Taken", "Documents", "Bytes"], backups.map((b) => [
      el("button", { type: "button", class: "secondary", onclick: () => openDocument(`../backups/${b.id}`, "application/json") }, b.id),
      when(b.createdAt), count(Object.values(b.counts).reduce((n, c) => n + c, 0)), count(b.totalBytes)]))
      : el("p", { class: "note" }, "No backups yet."));
  } catch (error) {
    box.append(problemBox(error));
  }
}

async function showReports(box) {
  box.append(el("h2", { id: "ops-reports-h" }, "Latest reports"));
  try {
    const { reports } = await getJson("reports?limit=5");
    box.append(reports.length ? table(["Report", "Kind", "Period", "Created", "Open"], reports.map((r) => [
      r.id, r.kind, `${when(r.periodStart)} – ${when(r.periodEnd)}`, when(r.createdAt),
      el("span", {},
        el("button", { type: "button", class: "secondary", onclick: () => openDocument(r.htmlUri, "text/html") }, "HTML"), " ",
        el("button", { type: "button", class: "secondary", onclick: () => openDocument(r.reportUri, "application/json") }, "JSON"))]))
      : el("p", { class: "note" }, "No reports yet."));
  } catch (error) {
    box.append(problemBox(error));
  }
}

function table(headings, rows) {
  return el("div", { class: "table-wrap" }, el("table", {},
    el("thead", {}, el("tr", {}, headings.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c) => el("td", {}, c)))))));
}
