// The second painting's region: a canvas over the photo, at most 1024 pixels a side (the server resizes the mask to
// the photo), drawn with a brush; its strokes' opacity is the mask's grey level.
import { $ } from "./page.js";

const MASK_SIDE = 1024;
let stroke = null; // the last point of the stroke being drawn, in the canvas's pixels
let drawn = false;

// A clear canvas for a photo of width x height.
export function resetRegion(width, height) {
  const canvas = $("region");
  const scale = Math.min(1, MASK_SIDE / Math.max(width, height));
  canvas.width = Math.max(1, Math.round(width * scale));
  canvas.height = Math.max(1, Math.round(height * scale));
  drawn = false;
}

export function regionDrawn() {
  return drawn;
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

// The brush, the eraser and Clear; changed() is called after each stroke and each Clear of a drawn region.
export function setupRegion(hasPhoto, changed) {
  const canvas = $("region");
  canvas.addEventListener("pointerdown", (event) => {
    if (!hasPhoto() || !$("draw").checked) return;
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
    drawn = true;
    changed();
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
    if (!hasPhoto()) return;
    canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
    const had = drawn;
    drawn = false;
    if (had) changed();
  });
}

// The mask as a PNG blob: white where drawn (the second painting), black elsewhere, grey where the brush was soft.
export function regionMask() {
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
