// The app's own JSON API, called with the caller's identity: the App Service Authentication
// cookie (same origin), or the function key kept in this tab's session storage and sent in
// the x-functions-key header, never in a URL.
const KEY_STORE = "agentops.functionKey";

// Requests made by this page, for the request-rate figure and for anyone curious.
export const stats = { requests: 0, loadedAt: performance.now() };

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export function functionKey() {
  return sessionStorage.getItem(KEY_STORE);
}

export function setFunctionKey(key) {
  if (key) sessionStorage.setItem(KEY_STORE, key);
  else sessionStorage.removeItem(KEY_STORE);
}

// Routes are relative to the page (/api/ui/), so the host's route prefix is respected.
export function apiUrl(path) {
  return new URL(`../${path.replace(/^\//, "")}`, document.baseURI).toString();
}

export async function request(path, { method = "GET", body, accept = "application/json", signal } = {}) {
  const headers = { Accept: accept };
  const key = functionKey();
  if (key) headers["x-functions-key"] = key;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  stats.requests += 1;
  const response = await fetch(apiUrl(path), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
    signal,
  });
  if (response.status === 401) document.dispatchEvent(new CustomEvent("agentops:unauthorized"));
  if (!response.ok) {
    let problem;
    try {
      problem = await response.json();
    } catch {
      problem = { title: response.statusText || `HTTP ${response.status}`, detail: "" };
    }
    throw new ApiError(response.status, problem);
  }
  return response;
}

export async function getJson(path, options) {
  return (await request(path, options)).json();
}

// Opens a JSON or HTML document the API serves (a report) in a new tab: fetched with the
// caller's identity, then shown from a blob URL, so the key never enters a link.
export async function openDocument(url, type) {
  const target = window.open("", "_blank");
  const address = new URL(url, document.baseURI);
  const response = await request((address.pathname + address.search).replace(/^.*?\/api\//, ""));
  const blob = new Blob([await response.text()], { type });
  const link = URL.createObjectURL(blob);
  if (target) target.location = link;
  else window.location.assign(link);
}
