// Refine: the article's optimisation as a job on the server (POST /api/jobs), followed over its event stream
// (EventSource), cancelled with DELETE; one job is followed at a time.
import { api, withToken } from "./api.js";
import { $, download, showCommand, showError } from "./page.js";

let job = null; // {id, source, finished}
let refined = null; // {blob, url}: the finished job's picture
let blocker = () => "The page is starting.";
let inputs = () => null;

function running() {
  return Boolean(job && !job.finished);
}

// The Refine button on or off, with the reason it is off; Cancel while a job runs.
export function updateRefine() {
  const reason = blocker();
  $("refine").disabled = Boolean(reason) || running();
  $("cancel").disabled = !running();
  $("refine-reason").textContent = reason;
}

function setRefineStatus(text, phase) {
  const line = $("refine-status");
  line.textContent = text;
  line.dataset.phase = phase;
}

function formatCost(value) {
  return typeof value === "number" ? value.toExponential(3) : "?";
}

function queueText(position) {
  return position > 0 ? `Queued: position ${position} (one job runs at a time).` : "Starting…";
}

async function refine() {
  const given = inputs();
  if (!given) return;
  const iterations = Math.max(1, Math.round(Number($("iterations").value) || 100));
  const form = new FormData();
  form.append("content", given.photo);
  form.append("style", given.painting);
  form.append("init", given.picture, "picture.png");
  form.append("iterations", String(iterations));
  form.append("max_size", String(Math.max(16, Math.round(Number($("refine-size").value) || 400))));
  // A preview every 10 steps (a fraction of a second each at the default size): the run is seen as it goes.
  form.append("preview_every", "10");
  $("refine").disabled = true;
  let answer;
  try {
    const response = await api("/api/jobs", { method: "POST", body: form });
    answer = await response.json();
  } catch (err) {
    showError(err.message);
    updateRefine();
    return;
  }
  showError("");
  if (job && job.source) job.source.close();
  job = { id: answer.id, source: null, finished: false };
  showCommand($("refine-command"), $("refine-command-copy"), answer.command || "");
  $("refined-download").hidden = true;
  const progress = $("refine-progress");
  progress.hidden = false;
  progress.max = iterations;
  progress.value = 0;
  setRefineStatus(queueText(answer.position), "queued");
  updateRefine();
  listen(job);
}

function listen(followed) {
  const source = new EventSource(withToken(`/api/jobs/${encodeURIComponent(followed.id)}/events`));
  followed.source = source;
  const current = () => job === followed;
  const finish = (text, phase) => {
    source.close();
    followed.finished = true;
    if (!current()) return;
    setRefineStatus(text, phase);
    updateRefine();
  };
  const data = (event) => JSON.parse(event.data || "{}");
  source.addEventListener("queued", (event) => current() && setRefineStatus(queueText(data(event).position), "queued"));
  source.addEventListener("progress", (event) => {
    if (!current()) return;
    const step = data(event);
    $("refine-progress").max = step.iterations;
    $("refine-progress").value = step.iteration;
    // The first event (iteration 0) comes before the network is ready: it has no costs yet.
    const costs =
      typeof step.J === "number"
        ? `cost ${formatCost(step.J)} (content ${formatCost(step.J_content)}, style ${formatCost(step.J_style)})`
        : "starting";
    setRefineStatus(`Iteration ${step.iteration} of ${step.iterations}: ${costs}`, "running");
    if (step.preview) {
      $("refine-preview").src = step.preview;
      $("refine-preview").hidden = false;
    }
  });
  source.addEventListener("done", async (event) => {
    finish("Done.", "done");
    try {
      const response = await api(data(event).result);
      const blob = await response.blob();
      if (!current()) return;
      if (refined) URL.revokeObjectURL(refined.url);
      refined = { blob, url: URL.createObjectURL(blob) };
      $("refine-preview").src = refined.url;
      $("refine-preview").hidden = false;
      $("refined-download").hidden = false;
    } catch (err) {
      showError(err.message);
    }
  });
  source.addEventListener("cancelled", () => finish("Cancelled.", "cancelled"));
  // "error" is both the server's event (with its line) and EventSource's own when the connection fails.
  source.addEventListener("error", (event) => {
    if (event.data) {
      const line = data(event).error || "The job failed.";
      finish(`Failed: ${line}`, "error");
      if (current()) showError(line);
    } else if (!followed.finished) {
      finish("The connection to the server was lost: the job's progress is unknown.", "error");
    }
  });
}

async function cancel() {
  if (!running()) return;
  $("cancel").disabled = true;
  setRefineStatus("Cancelling…", "cancelling");
  try {
    await api(`/api/jobs/${encodeURIComponent(job.id)}`, { method: "DELETE" });
  } catch (err) {
    showError(err.message);
    updateRefine();
  }
}

// The refine's buttons. options.blocker() says why Refine cannot start ("" when it can); options.inputs() gives
// {photo, painting, picture} (the picture to refine from), or null.
export function setupRefine(options) {
  blocker = options.blocker;
  inputs = options.inputs;
  $("refine").addEventListener("click", refine);
  $("cancel").addEventListener("click", cancel);
  $("refined-download").addEventListener("click", () => download(refined.url, "neural-style-refined.png"));
  updateRefine();
}
