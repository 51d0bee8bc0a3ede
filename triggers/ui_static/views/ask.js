// Ask one agent one question, keeping the conversation's thread. The answer is read as a
// stream of Server-Sent Events when the route answers `Accept: text/event-stream` with one,
// and as JSON otherwise, so the page works with either form of POST /api/agents/{agent}/run.
import { getJson, request } from "../api.js";
import { el, money, problemBox } from "../util.js";

const THREADS = "agentops.threads";

function threads() {
  return JSON.parse(sessionStorage.getItem(THREADS) || "{}");
}

function keepThread(agent, threadId) {
  sessionStorage.setItem(THREADS, JSON.stringify({ ...threads(), [agent]: threadId }));
}

export async function askView(main) {
  const { agents } = await getJson("agents");
  const agent = el("select", { id: "ask-agent", name: "agent" },
    agents.map((a) => el("option", { value: a.name }, a.name)));
  const query = el("textarea", { id: "ask-query", name: "query", required: true, rows: "3" });
  const log = el("ol", { id: "ask-thread", class: "thread", "aria-live": "polite" });
  const meta = el("p", { id: "ask-meta", class: "note" });
  const outcome = el("div", {});
  const button = el("button", { type: "submit", id: "ask-send" }, "Ask");
  const fresh = el("button", { type: "button", class: "secondary", id: "ask-new" }, "New conversation");
  fresh.addEventListener("click", () => {
    keepThread(agent.value, null);
    log.replaceChildren();
    meta.textContent = "";
  });
  const form = el("form", { id: "ask-form" },
    el("label", { for: "ask-agent" }, "Agent"), agent,
    el("label", { for: "ask-query" }, "Question"), query,
    el("div", { class: "actions" }, button, fresh), outcome);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!query.value.trim()) return;
    outcome.replaceChildren();
    const text = query.value;
    const answer = el("li", { class: "assistant", "aria-busy": "true" });
    log.append(el("li", { class: "user" }, text), answer);
    button.disabled = true;
    try {
      const body = { query: text };
      const thread = threads()[agent.value];
      if (thread) body.thread_id = thread;
      const response = await request(`agents/${encodeURIComponent(agent.value)}/run`, {
        method: "POST", body, accept: "text/event-stream, application/json;q=0.9",
      });
      const final = (response.headers.get("content-type") || "").startsWith("text/event-stream")
        ? await readStream(response, answer)
        : await response.json();
      if (final.answer !== undefined && !answer.textContent) answer.textContent = final.answer;
      const threadId = final.threadId || final.thread_id;
      if (threadId) keepThread(agent.value, threadId);
      const usage = final.usage || {};
      meta.textContent = `Thread ${threadId || "?"} · ${usage.totalTokens ?? "?"} tokens · ${money(final.cost)}` +
        (final.cached ? " · from cache" : "");
      query.value = "";
    } catch (error) {
      answer.remove();
      outcome.append(problemBox(error));
    } finally {
      answer.removeAttribute("aria-busy");
      button.disabled = false;
    }
  });
  main.append(el("h1", {}, "Ask"), form, el("h2", {}, "Conversation"), log, meta);
}

// Appends text deltas as they arrive; returns the last event that carries the thread or usage.
async function readStream(response, target) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let final = {};
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let cut;
    while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
      const event = parseEvent(block);
      if (!event) continue;
      if (event.type === "error") throw Object.assign(new Error(event.data.detail || "stream failed"), { problem: event.data });
      const delta = typeof event.data === "string" ? event.data : event.data.delta ?? event.data.text;
      if (typeof delta === "string" && !["done", "final", "usage"].includes(event.type)) target.append(delta);
      if (typeof event.data === "object" && (event.data.threadId || event.data.usage)) final = { ...final, ...event.data };
    }
  }
  return final;
}

function parseEvent(block) {
  let type = "message";
  const data = [];
  for (const line of block.split(/\r?\n/)) {
    if (line.startsWith("event:")) type = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  if (!data.length) return null;
  const text = data.join("\n");
  try {
    return { type, data: JSON.parse(text) };
  } catch {
    return { type, data: text };
  }
}
