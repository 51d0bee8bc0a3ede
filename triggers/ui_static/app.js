// The monitor page: a hash router over the views, and the function key prompt. Plain ES
// modules, no build step; everything it shows comes from the app's own JSON API.
import { functionKey, setFunctionKey, stats } from "./api.js";
import { askView } from "./views/ask.js";
import { opsView } from "./views/ops.js";
import { runView } from "./views/run.js";
import { runsView } from "./views/runs.js";
import { submitView } from "./views/submit.js";
import { announce, problemBox } from "./util.js";

window.agentopsStats = stats; // read by the browser tests for the request-rate figure

const main = document.getElementById("main");
let leave = null; // the current view's clean-up (stops its refresh)

function route() {
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean);
  const params = new URLSearchParams(query);
  if (parts[0] === "runs" && parts[1]) return ["runs", () => runView(main, parts[1])];
  if (parts[0] === "submit") return ["submit", () => submitView(main)];
  if (parts[0] === "ask") return ["ask", () => askView(main)];
  if (parts[0] === "ops") return ["ops", () => opsView(main)];
  return ["runs", () => runsView(main, params)];
}

async function show() {
  if (leave) leave();
  leave = null;
  const [name, render] = route();
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  main.replaceChildren();
  try {
    leave = (await render()) || null;
  } catch (error) {
    main.append(problemBox(error));
  }
  main.focus();
  document.body.dataset.ready = name; // the view has rendered
}

function askForKey() {
  const dialog = document.getElementById("key-dialog");
  if (dialog.open) return;
  announce("This app needs its function key");
  dialog.showModal();
  document.getElementById("key-input").focus();
}

document.getElementById("key-form").addEventListener("submit", () => {
  const input = document.getElementById("key-input");
  setFunctionKey(input.value.trim());
  input.value = "";
  document.getElementById("forget-key").hidden = false;
  show();
});

document.getElementById("forget-key").addEventListener("click", () => {
  setFunctionKey(null);
  document.getElementById("forget-key").hidden = true;
  announce("Key forgotten");
});

document.addEventListener("agentops:unauthorized", askForKey);
window.addEventListener("hashchange", show);
document.getElementById("forget-key").hidden = !functionKey();
show().then(() => {
  stats.firstViewMs = performance.now();
});

