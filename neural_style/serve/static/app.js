// The page of `neural-style serve`: a photo, a style, the settings, the picture; refine it with the article's
// optimisation. Plain JavaScript, no framework and nothing from another host (the server's Content-Security-Policy
// is default-src 'self'). The API is docs/serve.md's; every error it answers is {"error": "one line"}, shown as is.
"use strict";

const $ = (id) => document.getElementById(id);

// ?token=... in the page's address is sent on every request: as a header where one can be set, else (EventSource,
// <img src>) as the query parameter the server also accepts.
const TOKEN = new URLSearchParams(location.search).get("token");

function withToken(url) {
  if (!TOKEN) return url;
  return url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(TOKEN);
}

class ApiError extends Error {
  constructor(message, status, retryAfter) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

// fetch with the token; a response that is not 2xx becomes an ApiError carrying the server's one line.
async function api(path, options = {}) {
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

function showError(message) {
  const line = $("error");
  line.textContent = message;
  line.hidden = !message;
}

const state = {
  limits: { max_upload_bytes: 50 * 1024 * 1024, max_pixels: Infinity },
  networks: [],
  refine: { available: false, reason: "The server has not said yet." },
  photo: null, // {file, url, width, height}
  painting: null,
  painting2: null,
  regionDrawn: false,
  result: null, // {blob, url, width, height}
  stale: false, // the picture shown is from earlier settings (the latest request failed)
  busy: false,
  pending: false,
  timer: null,
  job: null, // {id, source, finished}
  refined: null, // {blob, url}
};

// ---------------------------------------------------------------------------------------------------------------
// Files: the photo and the paintings, chosen or dropped

function checkSize(file, what) {
  if (file.size > state.limits.max_upload_bytes) {
    const mb = (n) => (n / 1024 / 1024).toFixed(1);
    throw new Error(
      `${file.name}: the ${what} is ${mb(file.size)} MB and the server takes up to ` +
        `${mb(state.limits.max_upload_bytes)} MB: choose a smaller file.`,
    );
  }
}

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error("cannot be shown"));
    img.src = url;
  });
}

async function setPhoto(file) {
  try {
    checkSize(file, "photo");
    const url = URL.createObjectURL(file);
    let img;
    try {
      img = await loadImage(url);
    } catch (err) {
      URL.revokeObjectURL(url);
      throw new Error(`${file.name}: the browser cannot read this picture: choose a PNG, JPEG or WebP photo.`);
    }
    const pixels = img.naturalWidth * img.naturalHeight;
    if (pixels > state.limits.max_pixels) {
      URL.revokeObjectURL(url);
      throw new Error(
        `${file.name}: ${img.naturalWidth}x${img.naturalHeight} is more than the server's ` +
          `${state.limits.max_pixels} pixels: choose a smaller photo.`,
      );
    }
    if (state.photo) URL.revokeObjectURL(state.photo.url);
    state.photo = { file, url, width: img.naturalWidth, height: img.naturalHeight };
    const preview = $("photo-preview");
    preview.src = url;
    preview.hidden = false;
    $("stage").classList.remove("empty");
    $("photo-status").textContent = `${file.name}, ${img.naturalWidth} x ${img.naturalHeight} pixels`;
    resetRegion();
    showError("");
    stylizeSoon(0);
  } catch (err) {
    showError(err.message);
  }
}

function setPainting(file, which) {
  try {
    checkSize(file, "painting");
  } catch (err) {
    showError(err.message);
    return;
  }
  const preview = $(which === 2 ? "painting2-preview" : "painting-preview");
  if (preview.src.startsWith("blob:")) URL.revokeObjectURL(preview.src);
  preview.onerror = () => (preview.hidden = true); // the server's line will say what is wrong with it
  preview.src = URL.createObjectURL(file);
  preview.hidden = false;
  if (which === 2) {
    state.painting2 = file;
    $("painting2-remove").hidden = false;
  } else {
    state.painting = file;
  }
  showError("");
  updateControls();
  stylizeSoon(0);
}

// A file input and the drop zone around it: both give the same file to `take`.
function fileSource(inputId, dropId, take) {
  const input = $(inputId);
  const zone = $(dropId);
  input.addEventListener("change", () => {
    if (input.files.length) take(input.files[0]);
    input.value = ""; // so that choosing the same file again still answers
  });
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    const file = event.dataTransfer && event.dataTransfer.files[0];
    if (file) take(file);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The style: any painting, a bundled network's style, or a trained network from --models

function styleKind() {
  return document.querySelector('input[name="style-kind"]:checked').value;
}

function networksOf(kind) {
  return state.networks.filter((network) => network.kind === kind);
}

function fillNetworks(kind) {
  const select = $(`${kind}-network`);
  select.replaceChildren();
  for (const network of networksOf(kind)) {
    select.append(new Option(network.name, network.name));
  }
  fillStyles(kind);
}

function fillStyles(kind) {
  const box = $(`${kind}-styles`);
  box.querySelectorAll("label").forEach((label) => label.remove());
  const network = networksOf(kind).find((each) => each.name === $(`${kind}-network`).value);
  box.hidden = !network || network.styles.length === 0;
  if (!network) return;
  network.styles.forEach((style, i) => {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "radio";
    input.name = `${kind}-style`;
    input.value = String(style.index);
    input.checked = i === 0;
    input.addEventListener("change", () => stylizeSoon(0));
    const img = document.createElement("img");
    img.src = withToken(style.thumbnail);
    img.alt = "";
    img.loading = "lazy";
    img.width = 64;
    img.height = 64;
    const name = document.createElement("span");
    name.textContent = style.name;
    label.append(input, img, name);
    label.title = style.name;
    box.append(label);
  });
}

// What the chosen style adds to the stylize form, or a line saying what is missing.
function styleFields(form) {
  const kind = styleKind();
  if (kind === "painting") {
    if (!state.painting) return "Choose a painting (or a bundled style).";
    form.append("style", state.painting);
    form.append("strength", $("strength").value);
    form.append("style_size", $("style-size").value);
    return null;
  }
  const name = $(`${kind}-network`).value;
  if (!name) return kind === "trained" ? "No trained network: start the server with --models DIR." : "No network.";
  form.append("model", name);
  const chosen = document.querySelector(`input[name="${kind}-style"]:checked`);
  if (chosen) form.append("style_index", chosen.value);
  return null;
}

function updateControls() {
  const kind = styleKind();
  for (const each of ["painting", "bundled", "trained"]) $(`${each}-choice`).hidden = each !== kind;
  const painting = kind === "painting";
  for (const id of ["strength", "style-size", "mix", "painting2-input"]) $(id).disabled = !painting;
  $("painting-only").hidden = painting;
  $("trained-none").hidden = networksOf("trained").length > 0;
  updateRefine();
}

// ---------------------------------------------------------------------------------------------------------------
// The second painting's region: a canvas over the photo, at most 1024 pixels a side (the server resizes the mask to
// the photo); its strokes' opacity is the mask's grey level.

const MASK_SIDE = 1024;
let stroke = null;

function resetRegion() {
  const canvas = $("region");
  const scale = Math.min(1, MASK_SIDE / Math.max(state.photo.width, state.photo.height));
  canvas.width = Math.max(1, Math.round(state.photo.width * scale));
  canvas.height = Math.max(1, Math.round(state.photo.height * scale));
  state.regionDrawn = false;
}

function canvasPoint(event) {
  const canvas = $("region");
  const box = canvas.getBoundingClientRect();
  return [
    ((event.clientX - box.left) / box.width) * canvas.width,
    ((event.clientY - box.top) / box.height) * canvas.height,
  ];
}

function drawTo(point) {
  const canvas = $("region");
  const context = canvas.getContext("2d");
  // The brush's size is in the page's pixels: the same on screen whatever the photo's size.
  context.lineWidth = (Number($("brush-size").value) * canvas.width) / canvas.getBoundingClientRect().width;
  context.lineCap = "round";
  context.lineJoin = "round";
  context.strokeStyle = "rgb(255, 90, 30)";
  context.globalCompositeOperation = $("erase").checked ? "destination-out" : "source-over";
  context.beginPath();
  context.moveTo(...(stroke || point));
  context.lineTo(...point);
  context.stroke();
  stroke = point;
}

function setupRegion() {
  const canvas = $("region");
  canvas.addEventListener("pointerdown", (event) => {
    if (!state.photo || !$("draw").checked) return;
    canvas.setPointerCapture(event.pointerId);
    stroke = null;
    drawTo(canvasPoint(event));
  });
  canvas.addEventListener("pointermove", (event) => {
    if (stroke) drawTo(canvasPoint(event));
  });
  const end = () => {
    if (!stroke) return;
    stroke = null;
    state.regionDrawn = true;
    if (state.painting2) stylizeSoon(0);
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  $("draw").addEventListener("change", () => {
    canvas.classList.toggle("drawing", $("draw").checked);
    // The photo may have scrolled away while one reached this box: bring it back to draw on.
    if ($("draw").checked) $("stage").scrollIntoView({ block: "nearest" });
  });
  $("brush-size").addEventListener("input", () => ($("brush-size-value").value = $("brush-size").value));
  $("region-clear").addEventListener("click", () => {
    if (!state.photo) return;
    canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
    const had = state.regionDrawn;
    state.regionDrawn = false;
    if (had && state.painting2) stylizeSoon(0);
  });
}

// The mask as a PNG: white where drawn (the second painting), black elsewhere.
function regionMask() {
  const canvas = $("region");
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  const data = pixels.data;
  for (let i = 0; i < data.length; i += 4) {
    const alpha = data[i + 3];
    data[i] = data[i + 1] = data[i + 2] = alpha;
    data[i + 3] = 255;
  }
  const mask = document.createElement("canvas");
  mask.width = canvas.width;
  mask.height = canvas.height;
  mask.getContext("2d").putImageData(pixels, 0, 0);
  return new Promise((resolve) => mask.toBlob(resolve, "image/png"));
}

// ---------------------------------------------------------------------------------------------------------------
// The picture: one request in flight; settings changed meanwhile send one more when it answers (the latest wins)

function stylizeSoon(delay = 250) {
  clearTimeout(state.timer);
  state.timer = setTimeout(stylize, delay);
}

function setResultStatus(text, busy) {
  const line = $("result-status");
  line.textContent = text;
  line.dataset.state = busy ? "busy" : "idle";
}

async function stylizeForm() {
  const form = new FormData();
  form.append("content", state.photo.file);
  const missing = styleFields(form);
  if (missing) return [null, missing];
  if (styleKind() === "painting" && state.painting2) {
    form.append("style2", state.painting2);
    form.append("mix", $("mix").value);
    if (state.regionDrawn) form.append("region", await regionMask(), "region.png");
  }
  form.append("preserve_colors", $("preserve-colors").checked ? "true" : "false");
  return [form, null];
}

async function stylize() {
  if (state.busy) {
    state.pending = true;
    return;
  }
  if (!state.photo) {
    setResultStatus("Choose a photo.", false);
    return;
  }
  // Busy from here, before the form's first await, so that a second call meanwhile waits its turn.
  state.busy = true;
  state.pending = false;
  const started = performance.now();
  let retry = null;
  try {
    const [form, missing] = await stylizeForm();
    if (!form) {
      setResultStatus(missing, false);
      return;
    }
    setResultStatus("Painting…", true);
    const response = await api("/api/stylize", { method: "POST", body: form });
    const command = response.headers.get("X-Neural-Style-Command") || "";
    const blob = await response.blob();
    await showResult(blob, command, (performance.now() - started) / 1000);
    showError("");
  } catch (err) {
    if (err.status === 503) {
      // The server's pool is full: try again when it says, a few seconds at most.
      retry = Math.min(err.retryAfter || 1, 5);
      setResultStatus(`The server is busy: trying again in ${retry} s.`, true);
    } else {
      showError(err.message);
      state.stale = Boolean(state.result);
      setResultStatus(state.stale ? "The picture is from the earlier settings." : "", false);
      updateRefine();
    }
  } finally {
    state.busy = false;
    if (state.pending) stylize();
    else if (retry !== null) stylizeSoon(retry * 1000);
  }
}

async function showResult(blob, command, seconds) {
  const url = URL.createObjectURL(blob);
  const img = $("result");
  await new Promise((resolve) => {
    img.onload = img.onerror = resolve;
    img.src = url;
  });
  if (state.result) URL.revokeObjectURL(state.result.url);
  state.result = { blob, url, width: img.naturalWidth, height: img.naturalHeight };
  state.stale = false;
  img.hidden = false;
  $("result-stage").classList.remove("empty");
  $("download-png").disabled = $("download-jpeg").disabled = false;
  showCommand($("command"), $("command-copy"), command);
  if (!state.pending) {
    setResultStatus(`${img.naturalWidth} x ${img.naturalHeight} pixels in ${seconds.toFixed(1)} s.`, false);
  }
  updateRefine();
}

function download(url, name) {
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
}

function downloadJpeg() {
  const img = $("result");
  const canvas = document.createElement("canvas");
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  const context = canvas.getContext("2d");
  context.fillStyle = "#fff";
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.drawImage(img, 0, 0);
  canvas.toBlob(
    (blob) => {
      if (!blob) return showError("The browser could not encode the JPEG: download the PNG instead.");
      const url = URL.createObjectURL(blob);
      download(url, "neural-style.jpg");
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    },
    "image/jpeg",
    0.92,
  );
}

// A command line in its box, the box as tall as the line's wrapped text.
function showCommand(textarea, button, text) {
  textarea.value = text;
  button.disabled = !text;
  textarea.style.height = "auto";
  textarea.style.height = `${textarea.scrollHeight + 4}px`;
}

async function copyText(textarea, button) {
  const text = textarea.value;
  try {
    // The clipboard API needs a secure context (127.0.0.1 and localhost are); elsewhere select and copy.
    if (navigator.clipboard && window.isSecureContext) await navigator.clipboard.writeText(text);
    else {
      textarea.select();
      if (!document.execCommand("copy")) throw new Error("refused");
    }
    button.textContent = "Copied";
  } catch (err) {
    textarea.select();
    button.textContent = "Select and copy";
  }
  setTimeout(() => (button.textContent = "Copy"), 1500);
}

// ---------------------------------------------------------------------------------------------------------------
// Refine: a job on the server (POST /api/jobs), its events (EventSource), Cancel (DELETE)

function updateRefine() {
  const running = state.job && !state.job.finished;
  let reason = "";
  if (!state.refine.available) reason = state.refine.reason || "The server cannot refine.";
  else if (styleKind() !== "painting") reason = "Refine needs a painting: choose any painting as the style.";
  else if (!state.result) reason = "Refine starts from the picture: make one first.";
  else if (state.stale) reason = "Refine starts from the picture of the settings above: mend the error first.";
  $("refine").disabled = Boolean(reason) || running;
  $("cancel").disabled = !running;
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

async function refine() {
  if (!state.result || !state.painting) return;
  const iterations = Math.max(1, Math.round(Number($("iterations").value) || 100));
  const form = new FormData();
  form.append("content", state.photo.file);
  form.append("style", state.painting);
  form.append("init", state.result.blob, "picture.png");
  form.append("iterations", String(iterations));
  form.append("max_size", String(Math.max(16, Math.round(Number($("refine-size").value) || 400))));
  // A preview every 10 steps (a fraction of a second each at the default size): the run is seen as it goes.
  form.append("preview_every", "10");
  $("refine").disabled = true;
  let job;
  try {
    const response = await api("/api/jobs", { method: "POST", body: form });
    job = await response.json();
  } catch (err) {
    showError(err.message);
    updateRefine();
    return;
  }
  showError("");
  if (state.job && state.job.source) state.job.source.close();
  state.job = { id: job.id, source: null, finished: false };
  showCommand($("refine-command"), $("refine-command-copy"), job.command || "");
  $("refined-download").hidden = true;
  const progress = $("refine-progress");
  progress.hidden = false;
  progress.max = iterations;
  progress.value = 0;
  $("refine").dataset.job = job.id;
  setRefineStatus(queueText(job.position), "queued");
  updateRefine();
  listen(state.job);
}

function queueText(position) {
  return position > 0 ? `Queued: position ${position} (one job runs at a time).` : "Starting…";
}

function listen(job) {
  const source = new EventSource(withToken(`/api/jobs/${encodeURIComponent(job.id)}/events`));
  job.source = source;
  const current = () => state.job === job;
  const finish = (text, phase) => {
    source.close();
    job.finished = true;
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
      if (state.refined) URL.revokeObjectURL(state.refined.url);
      state.refined = { blob, url: URL.createObjectURL(blob) };
      $("refine-preview").src = state.refined.url;
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
    } else if (!job.finished) {
      finish("The connection to the server was lost: the job's progress is unknown.", "error");
    }
  });
}

async function cancel() {
  const job = state.job;
  if (!job || job.finished) return;
  $("cancel").disabled = true;
  setRefineStatus("Cancelling…", "cancelling");
  try {
    await api(`/api/jobs/${encodeURIComponent(job.id)}`, { method: "DELETE" });
  } catch (err) {
    showError(err.message);
    updateRefine();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Start

async function loadModels() {
  try {
    const response = await api("/api/models");
    const models = await response.json();
    state.networks = models.networks || [];
    state.refine = models.refine || state.refine;
    state.limits = { ...state.limits, ...(models.limits || {}) };
    fillNetworks("bundled");
    fillNetworks("trained");
    document.querySelector('input[name="style-kind"][value="bundled"]').disabled = !networksOf("bundled").length;
  } catch (err) {
    showError(err.message);
  }
  updateControls();
  document.body.dataset.ready = "true";
}

function slider(id, digits) {
  const input = $(id);
  const shown = () => ($(`${id}-value`).value = Number(input.value).toFixed(digits));
  input.addEventListener("input", () => {
    shown();
    stylizeSoon();
  });
  shown();
}

function main() {
  fileSource("photo-input", "photo-drop", setPhoto);
  fileSource("painting-input", "painting-drop", (file) => setPainting(file, 1));
  fileSource("painting2-input", "painting2-drop", (file) => setPainting(file, 2));
  $("painting2-remove").addEventListener("click", () => {
    state.painting2 = null;
    $("painting2-preview").hidden = true;
    $("painting2-remove").hidden = true;
    stylizeSoon(0);
  });
  // A photo dropped anywhere on its picture counts too.
  const stage = $("stage");
  stage.addEventListener("dragover", (event) => event.preventDefault());
  stage.addEventListener("drop", (event) => {
    event.preventDefault();
    const file = event.dataTransfer && event.dataTransfer.files[0];
    if (file) setPhoto(file);
  });
  for (const radio of document.querySelectorAll('input[name="style-kind"]')) {
    radio.addEventListener("change", () => {
      updateControls();
      stylizeSoon(0);
    });
  }
  for (const kind of ["bundled", "trained"]) {
    $(`${kind}-network`).addEventListener("change", () => {
      fillStyles(kind);
      stylizeSoon(0);
    });
  }
  slider("strength", 2);
  slider("style-size", 0);
  slider("mix", 2);
  $("preserve-colors").addEventListener("change", () => stylizeSoon(0));
  setupRegion();
  $("download-png").addEventListener("click", () => download(state.result.url, "neural-style.png"));
  $("download-jpeg").addEventListener("click", downloadJpeg);
  $("command-copy").addEventListener("click", () => copyText($("command"), $("command-copy")));
  $("refine-command-copy").addEventListener("click", () => copyText($("refine-command"), $("refine-command-copy")));
  $("refine").addEventListener("click", refine);
  $("cancel").addEventListener("click", cancel);
  $("refined-download").addEventListener("click", () => download(state.refined.url, "neural-style-refined.png"));
  loadModels();
}

main();
