// The server's API as the page uses it: the token on every request, and the server's one-line errors. The API is
// docs/serve.md's; every error it answers is {"error": "one line"}, shown as is.

// ?token=... in the page's address is sent on every request: as a header where one can be set, else (EventSource,
// <img src>) as the query parameter the server also accepts.
const TOKEN = new URLSearchParams(location.search).get("token");

export function withToken(url) {
  if (!TOKEN) return url;
  return url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(TOKEN);
}

export class ApiError extends Error {
  constructor(message, status, retryAfter) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

// fetch with the token; a response that is not 2xx becomes an ApiError carrying the server's one line.
export async function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  if (TOKEN) headers.set("Authorization", "Bearer " + TOKEN);
  let response;
  try {
    response = await fetch(path, { ...options, headers });
  } catch (err) {
    throw new ApiError("The server does not answer: is `neural-style serve` still running?", 0, null);
  }
  if (response.ok) return response;
  let line = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body && typeof body.error === "string") line = body.error;
  } catch (err) {
    // Not JSON (a proxy's page, say): the status line is all there is to show.
  }
  throw new ApiError(line, response.status, Number(response.headers.get("Retry-After")) || null);
}
