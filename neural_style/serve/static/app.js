// The page of `neural-style serve`: a photo, a style, the settings, the picture; refine it with the article's
// optimisation (refine.js). Plain JavaScript modules, no framework and nothing from another host (the server's
// Content-Security-Policy is default-src 'self').
import { api, withToken } from "./api.js";
import { $, copyText, download, showCommand, showError } from "./page.js";
import { setupRefine, updateRefine } from "./refine.js";
import { regionDrawn, regionMask, resetRegion, setupRegion } from "./region.js";

const state = {
  limits: { max_upload_bytes: 50 * 1024 * 1024, max_pixels: Infinity },
  networks: [],
  refine: { available: false, reason: "The server has not said yet." },
  photo: null, // {file, url, width, height}
  painting: null,
  painting2: null,
  result: null, // {blob, url, width, height}
  stale: false, // the picture shown is from earlier settings (the latest request failed)
  busy: false,
  pending: false,
  timer: null,
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
    const stage = $("stage");
    stage.classList.remove("empty");
    stage.style.aspectRatio = `${img.naturalWidth} / ${img.naturalHeight}`;
    stage.style.width = `min(100%, calc(70vh * ${img.naturalWidth} / ${img.naturalHeight}))`;
    $("photo-status").textContent = `${file.name}, ${img.naturalWidth} x ${img.naturalHeight} pixels`;
    resetRegion(img.naturalWidth, img.naturalHeight);
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
    if (regionDrawn()) form.append("region", await regionMask(), "region.png");
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


// Why Refine cannot start now ("" when it can): it needs the server's VGG-19 weights, a painting, and the picture.
function refineBlocker() {
  if (!state.refine.available) return state.refine.reason || "The server cannot refine.";
  if (styleKind() !== "painting") return "Refine needs a painting: choose any painting as the style.";
  if (!state.result) return "Refine starts from the picture: make one first.";
  if (state.stale) return "Refine starts from the picture of the settings above: mend the error first.";
  return "";
}

function refineInputs() {
  if (refineBlocker() || !state.painting) return null;
  return { photo: state.photo.file, painting: state.painting, picture: state.result.blob };
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
  setupRegion(
    () => Boolean(state.photo),
    () => state.painting2 && stylizeSoon(0),
  );
  $("download-png").addEventListener("click", () => download(state.result.url, "neural-style.png"));
  $("download-jpeg").addEventListener("click", downloadJpeg);
  $("command-copy").addEventListener("click", () => copyText($("command"), $("command-copy")));
  $("refine-command-copy").addEventListener("click", () => copyText($("refine-command"), $("refine-command-copy")));
  setupRefine({ blocker: refineBlocker, inputs: refineInputs });
  loadModels();
}

main();
