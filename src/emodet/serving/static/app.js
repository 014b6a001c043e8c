// emodet's live page: webcam frames over a WebSocket, boxes and smoothed emotions drawn back.
// At most one frame is in flight: the next is sent only when the answer to the last has come,
// so a slow server never builds a backlog (the server also drops frames that wait).
"use strict";

const params = new URLSearchParams(location.search);
const apiKey = params.get("api_key");
const video = document.getElementById("video");
const overlay = document.getElementById("overlay");
const statusLine = document.getElementById("status");
const bars = document.getElementById("bars");
const capture = document.createElement("canvas");
let socket = null;
let waiting = false;
let answered = 0;
let started = performance.now();

function setStatus(text, error = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle("error", error);
}

function withKey(url) {
  return apiKey ? url + (url.includes("?") ? "&" : "?") + "api_key=" + encodeURIComponent(apiKey) : url;
}

async function startCamera() {
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  } catch (error) {
    setStatus("no camera: " + error.message, true);
    return;
  }
  await video.play();
  connect();
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  socket = new WebSocket(withKey(scheme + location.host + "/v1/stream"));
  socket.binaryType = "arraybuffer";
  socket.onopen = () => { setStatus("live"); waiting = false; sendFrame(); };
  socket.onclose = (event) => setStatus("disconnected" + (event.reason ? ": " + event.reason : ""), !!event.reason);
  socket.onmessage = (event) => {
    waiting = false;
    const answer = JSON.parse(event.data);
    window.emodetLastAnswer = answer;  // for tests and the console
    if (answer.error) { setStatus(answer.error, true); } else { draw(answer); showBars(answer.faces); }
    answered += 1;
    const seconds = (performance.now() - started) / 1000;
    document.getElementById("rate").textContent = (answered / seconds).toFixed(1) + " frames/s, " +
      (answer.dropped || 0) + " dropped";
    requestAnimationFrame(sendFrame);
  };
}

function sendFrame() {
  if (!socket || socket.readyState !== WebSocket.OPEN || waiting || !video.videoWidth) {
    if (socket && socket.readyState === WebSocket.OPEN && !waiting) setTimeout(sendFrame, 50);
    return;
  }
  capture.width = video.videoWidth;
  capture.height = video.videoHeight;
  capture.getContext("2d").drawImage(video, 0, 0);
  waiting = true;
  capture.toBlob((blob) => blob.arrayBuffer().then((buffer) => socket.send(buffer)), "image/jpeg", 0.8);
}

function draw(answer) {
  overlay.width = answer.width;
  overlay.height = answer.height;
  const context = overlay.getContext("2d");
  context.clearRect(0, 0, overlay.width, overlay.height);
  context.lineWidth = Math.max(2, answer.width / 240);
  context.font = Math.round(answer.width / 28) + "px system-ui, sans-serif";
  for (const face of answer.faces) {
    const [x, y, w, h] = face.box;
    context.strokeStyle = "#3a6ee8";
    context.strokeRect(x, y, w, h);
    const text = (face.track_id ? "#" + face.track_id + " " : "") + face.label + " " + Math.round(100 * face.score) + "%";
    context.fillStyle = "#3a6ee8";
    context.fillRect(x, y - answer.width / 22, context.measureText(text).width + 8, answer.width / 22);
    context.fillStyle = "white";
    context.fillText(text, x + 4, y - 6);
  }
}

function showBars(faces) {
  bars.replaceChildren();
  if (!faces.length) { bars.innerHTML = '<p class="hint">No face in view.</p>'; return; }
  for (const face of faces) {
    const block = document.createElement("div");
    block.className = "face";
    block.innerHTML = "<strong>" + (face.track_id ? "Face #" + face.track_id : "Face") + "</strong>";
    for (const [label, p] of Object.entries(face.probs)) {
      const row = document.createElement("div");
      row.className = "row";
      row.innerHTML = "<span>" + label + "</span><div><div class=\"bar\" style=\"width:" + (100 * p).toFixed(1) +
        "%\"></div></div><span>" + Math.round(100 * p) + "%</span>";
      block.appendChild(row);
    }
    bars.appendChild(block);
  }
}

async function sendPhoto(file) {
  const form = new FormData();
  form.append("file", file);
  const response = await fetch(withKey("/v1/detect?annotate=true"), { method: "POST", body: form,
    headers: apiKey ? { "X-API-Key": apiKey } : {} });
  const answer = await response.json();
  const list = document.getElementById("photo-faces");
  list.replaceChildren();
  if (!response.ok) { list.innerHTML = "<li>" + answer.error + "</li>"; return; }
  const image = document.getElementById("annotated");
  image.src = "data:image/png;base64," + answer.annotated_image;
  image.hidden = false;
  for (const face of answer.faces) {
    const item = document.createElement("li");
    item.textContent = face.label + " " + Math.round(100 * face.score) + "% (" +
      face.top.map((t) => t.label + " " + t.probability.toFixed(2)).join(", ") + ")";
    list.appendChild(item);
  }
  if (!answer.faces.length) list.innerHTML = "<li>No face found.</li>";
}

const drop = document.getElementById("drop");
const picker = document.getElementById("file");
drop.addEventListener("click", () => picker.click());
picker.addEventListener("change", () => picker.files[0] && sendPhoto(picker.files[0]));
drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  if (event.dataTransfer.files[0]) sendPhoto(event.dataTransfer.files[0]);
});
document.getElementById("camera").addEventListener("click", startCamera);

fetch(withKey("/readyz")).then((r) => setStatus(r.ok ? "ready: start the camera" : "the model is loading…"))
  .catch(() => setStatus("server unreachable", true));
if (params.get("autostart") === "1") startCamera();
