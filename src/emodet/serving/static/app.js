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
const HISTORY_SECONDS = 30;  // each tracked face's timeline shows this much of its past
const history = new Map();  // track id -> [{t, probs}], oldest first
let colors = {};  // class -> #rrggbb, from /v1/model (the colours of emodet's reports)
window.emodetHistory = history;  // for tests and the console

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
  socket.onopen = () => { setStatus("live"); waiting = false; if (!Object.keys(colors).length) loadColors(); sendFrame(); };
  socket.onclose = (event) => setStatus("disconnected" + (event.reason ? ": " + event.reason : ""), !!event.reason);
  socket.onmessage = (event) => {
    waiting = false;
    const answer = JSON.parse(event.data);
    window.emodetLastAnswer = answer;  // for tests and the console
    if (answer.error) { setStatus(answer.error, true); } else { draw(answer); remember(answer.faces); showBars(answer.faces); }
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

function remember(faces) {
  const now = performance.now() / 1000;
  for (const face of faces) {
    if (!face.track_id) continue;
    if (!history.has(face.track_id)) history.set(face.track_id, []);
    history.get(face.track_id).push({ t: now, probs: face.probs });
  }
  for (const [id, points] of history) {
    while (points.length && now - points[0].t > HISTORY_SECONDS) points.shift();
    if (!points.length) history.delete(id);
  }
}

function showBars(faces) {
  bars.replaceChildren();
  if (!faces.length) { bars.innerHTML = '<p class="hint">No face in view.</p>'; return; }
  for (const face of faces) {
    const block = document.createElement("div");
    block.className = "face";
    block.innerHTML = "<strong>" + (face.track_id ? "Face #" + face.track_id : "Face") + "</strong>";
    const rows = document.createElement("div");
    for (const [label, p] of Object.entries(face.probs)) {
      const row = document.createElement("div");
      row.className = "row";
      row.innerHTML = "<span>" + label + "</span><div><div class=\"bar\" style=\"width:" + (100 * p).toFixed(1) +
        "%;background:" + (colors[label] || "#3a6ee8") + "\"></div></div><span>" + Math.round(100 * p) + "%</span>";
      rows.appendChild(row);
    }
    const body = document.createElement("div");
    body.className = "face-body";
    body.appendChild(rows);
    if (face.track_id && history.has(face.track_id)) body.appendChild(timeline(history.get(face.track_id)));
    block.appendChild(body);
    bars.appendChild(block);
  }
}

// The face's last HISTORY_SECONDS: one line per emotion, in its colour; now is the right edge.
function timeline(points) {
  const canvas = document.createElement("canvas");
  canvas.className = "timeline";
  canvas.width = 240;
  canvas.height = 72;
  canvas.title = "this face's emotions over the last " + HISTORY_SECONDS + " seconds";
  const context = canvas.getContext("2d");
  const [w, h, top] = [canvas.width, canvas.height - 12, 2];
  const now = performance.now() / 1000;
  context.fillStyle = "#1d2026";
  context.fillRect(0, 0, w, canvas.height);
  context.lineWidth = 1.5;
  for (const label of Object.keys(points[points.length - 1].probs)) {
    context.strokeStyle = colors[label] || "#888";
    context.beginPath();
    points.forEach((point, i) => {
      const x = w * (1 - (now - point.t) / HISTORY_SECONDS);
      const y = top + (h - top) * (1 - point.probs[label]);
      if (i) context.lineTo(x, y); else context.moveTo(x, y);
    });
    context.stroke();
  }
  context.fillStyle = "#889";
  context.font = "10px system-ui, sans-serif";
  context.fillText("-" + HISTORY_SECONDS + " s", 2, canvas.height - 2);
  context.fillText("now", w - 22, canvas.height - 2);
  return canvas;
}

function loadColors() {
  fetch(withKey("/v1/model")).then((r) => r.ok ? r.json() : {}).then((info) => { colors = info.class_colors || {}; })
    .catch(() => {});
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

fetch(withKey("/readyz")).then((r) => {
  setStatus(r.ok ? "ready: start the camera" : "the model is loading…");
  if (r.ok) loadColors();
}).catch(() => setStatus("server unreachable", true));
if (params.get("autostart") === "1") startCamera();
