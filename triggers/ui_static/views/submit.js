// Submit work: choose an agent, paste or upload queries (one per line, or JSONL of strings or
// {"query": ...} objects), see the API's refusal reasons, then follow the new run.
import { getJson, request } from "../api.js";
import { el, problemBox } from "../util.js";

export function parseQueries(text) {
  const lines = text.split(/\r?\n/).filter((line) => line.trim());
  const jsonl = lines.length > 0 && lines.every((line) => /^\s*[{"]/.test(line));
  if (!jsonl) return lines;
  return lines.map((line, n) => {
    let value;
    try {
      value = JSON.parse(line);
    } catch {
      throw new Error(`line ${n + 1} is not JSON`);
    }
    if (typeof value === "string") return value;
    if (value && typeof value.query === "string") return value.query;
    throw new Error(`line ${n + 1}: a string or an object with a "query" string`);
  });
}

export async function submitView(main) {
  const { agents } = await getJson("agents");
  const agent = el("select", { id: "submit-agent", name: "agent", required: true },
    agents.map((a) => el("option", { value: a.name }, `${a.name}: ${a.description}`)));
  const text = el("textarea", { id: "submit-queries", name: "queries", required: true,
    "aria-describedby": "submit-help" });
  const file = el("input", { id: "submit-file", type: "file", accept: ".txt,.jsonl,.json,text/plain" });
  const outcome = el("div", { id: "submit-outcome", "aria-live": "polite" });
  const button = el("button", { type: "submit", id: "submit-run" }, "Start run");
  file.addEventListener("change", async () => {
    if (file.files.length) text.value = await file.files[0].text();
  });
  const form = el("form", { id: "submit-form", novalidate: true },
    el("label", { for: "submit-agent" }, "Agent"), agent,
    el("label", { for: "submit-queries" }, "Queries"),
    el("p", { id: "submit-help", class: "note" }, "One query per line, or JSONL: one JSON string or {\"query\": \"...\"} per line."),
    text,
    el("label", { for: "submit-file" }, "Or upload a file"), file,
    el("div", { class: "actions" }, button), outcome);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    outcome.replaceChildren();
    let queries;
    try {
      queries = parseQueries(text.value);
    } catch (error) {
      outcome.append(problemBox({ problem: { title: "Not sent", detail: error.message } }));
      return;
    }
    button.disabled = true;
    try {
      const response = await request(`agents/${encodeURIComponent(agent.value)}/runs`,
        { method: "POST", body: { queries } });
      const accepted = await response.json();
      location.hash = `#/runs/${accepted.runId}`;
    } catch (error) {
      outcome.append(problemBox(error)); // the API's own reasons: size limits, budget, ...
    } finally {
      button.disabled = false;
    }
  });
  main.append(el("h1", {}, "Submit work"), form);
}
