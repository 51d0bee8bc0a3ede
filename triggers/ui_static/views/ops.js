// Operations (admins): circuit breakers and dependency checks (GET /api/health/ready), the
// latest backups (GET /api/backups) and reports (GET /api/reports), with links, and rate
// limiter load and budgets used today (GET /api/ops/limits).
import { ApiError, getJson, openDocument, request } from "../api.js";
import { count, el, money, problemBox, stackTable, when } from "../util.js";

export async function opsView(main) {
  const health = el("section", { id: "ops-health", "aria-labelledby": "ops-health-h" });
  const backups = el("section", { id: "ops-backups", "aria-labelledby": "ops-backups-h" });
  const reports = el("section", { id: "ops-reports", "aria-labelledby": "ops-reports-h" });
  const limits = el("section", { id: "ops-limits", "aria-labelledby": "ops-limits-h" });
  main.append(el("h1", {}, "Operations"), health, backups, reports, limits);
  await Promise.all([showHealth(health), showBackups(backups), showReports(reports), showLimits(limits)]);
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
    stackTable(["Check", "Outcome"], Object.entries(ready.checks || {})),
    stackTable(["Deployment", "Breaker"], Object.entries(ready.breakers || {})));
}

async function showBackups(box) {
  box.append(el("h2", { id: "ops-backups-h" }, "Latest backups"));
  try {
    const { backups } = await getJson("backups?limit=5");
    box.append(backups.length ? stackTable(["Backup", "Taken", "Documents", "Bytes"], backups.map((b) => [
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
    box.append(reports.length ? stackTable(["Report", "Kind", "Period", "Created", "Open"], reports.map((r) => [
      r.id, r.kind, `${when(r.periodStart)} – ${when(r.periodEnd)}`, when(r.createdAt),
      el("span", {},
        el("button", { type: "button", class: "secondary", onclick: () => openDocument(r.htmlUri, "text/html") }, "HTML"), " ",
        el("button", { type: "button", class: "secondary", onclick: () => openDocument(r.reportUri, "application/json") }, "JSON"))]))
      : el("p", { class: "note" }, "No reports yet."));
  } catch (error) {
    box.append(problemBox(error));
  }
}

async function showLimits(box) {
  box.append(el("h2", { id: "ops-limits-h" }, "Rate limiters and budgets"));
  try {
    const limits = await getJson("ops/limits");
    box.append(el("p", { class: "note" },
      `Limiter load is the answering worker process's own (${limits.workerProcesses} per instance): each instance and process paces its own share of the quota.`),
      limits.deployments.length ? stackTable(["Deployment", "RPM", "TPM", "Requests available", "Tokens available", "Queued", "Breaker"],
        limits.deployments.map((d) => [d.deployment, limit(d.rpm), limit(d.tpm), bucket(d.requests), bucket(d.tokens), count(d.waiters), d.breaker || "no calls yet"]))
        : el("p", { class: "note" }, "No deployment has rate limits set (RATE_LIMITS)."),
      el("h3", {}, `Budgets used today (UTC ${limits.day})`),
      limits.budgets.length ? stackTable(["Scope", "Name", "Tokens used", "Token limit", "Cost used", "Cost limit"],
        limits.budgets.map((b) => [b.scope, b.name, count(b.tokensUsed), limit(b.tokenLimit), money(b.costUsed), b.costLimit === null ? "none" : money(b.costLimit)]))
        : el("p", { class: "note" }, "No tenant or agent has a budget set (TENANT_BUDGETS, AGENT_BUDGETS)."));
  } catch (error) {
    box.append(problemBox(error));
  }
}

function limit(value) {
  return value === null || value === undefined ? "none" : count(value);
}

function bucket(load) {
  return load ? `${count(Math.floor(load.available))} of ${count(Math.floor(load.capacity))}` : "unlimited";
}

