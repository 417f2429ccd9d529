// Custos redaction editor (subject access requests). Shows one frame at a
// time, lets the privacy officer drag boxes on it, and keeps the plan
// (FORMAT.md §13.1) in the form's `plan` field. Boxes move in a straight
// line between the keyframes set here, exactly as the server renders them.
'use strict';

const root = document.getElementById('editor');
const img = document.getElementById('frame');
const canvas = document.getElementById('overlay');
const planField = document.getElementById('plan');
const atField = document.getElementById('at');
const shownField = document.getElementById('shown-at');
const trackSelect = document.getElementById('track');
const kindSelect = document.getElementById('kind');
const addButton = document.getElementById('add-track');
const form = document.getElementById('redact');
const proposeButton = document.getElementById('propose');
const muteList = document.getElementById('mutes');

let plan = { tracks: [], mute: [] };
try {
  const parsed = JSON.parse(planField.value || '{}');
  plan = { tracks: parsed.tracks || [], mute: parsed.mute || [] };
} catch (e) { /* a hand-edited field that does not parse: start afresh */ }
let current = plan.tracks.length - 1;
let shownAt = 0; // the time of the frame on screen (a keyframe), in ms
let drag = null;
let proposals = []; // faces the detector found on the frame shown, not yet accepted

function regionAt(track, t) {
  const k = track.keyframes;
  if (k.length === 0 || t < k[0].at_millis) return null;
  if (k.length === 1) return k[0];
  const next = k.findIndex((f) => f.at_millis >= t);
  if (next < 0) return null;
  const b = k[next];
  if (next === 0 || b.at_millis === t) return b;
  const a = k[next - 1];
  const f = (t - a.at_millis) / (b.at_millis - a.at_millis);
  const mix = (p, q) => p + (q - p) * f;
  return { x: mix(a.x, b.x), y: mix(a.y, b.y), w: mix(a.w, b.w), h: mix(a.h, b.h) };
}

function save() {
  const kept = { tracks: plan.tracks.filter((t) => t.keyframes.length > 0), mute: plan.mute };
  planField.value = JSON.stringify(kept);
  root.dataset.keyframes = String(kept.tracks.reduce((n, t) => n + t.keyframes.length, 0));
}

function listMutes() {
  muteList.replaceChildren(...plan.mute.map((m) => {
    const li = document.createElement('li');
    li.textContent = `${(m.from_millis / 1000).toFixed(1)}–${(m.to_millis / 1000).toFixed(1)} s`;
    return li;
  }));
  root.dataset.mutes = String(plan.mute.length);
}

function listTracks() {
  trackSelect.replaceChildren(...plan.tracks.map((t, i) => {
    const o = document.createElement('option');
    o.value = String(i);
    o.textContent = `${t.label} (${t.kind}, ${t.keyframes.length})`;
    return o;
  }));
  if (current >= 0) trackSelect.value = String(current);
}

function draw(extra) {
  canvas.width = img.clientWidth;
  canvas.height = img.clientHeight;
  const g = canvas.getContext('2d');
  g.clearRect(0, 0, canvas.width, canvas.height);
  plan.tracks.forEach((t, i) => {
    const r = regionAt(t, shownAt);
    if (!r) return;
    g.lineWidth = i === current ? 3 : 2;
    g.strokeStyle = t.kind === 'keep' ? '#1a7f37' : '#c62828';
    g.strokeRect(r.x * canvas.width, r.y * canvas.height, r.w * canvas.width, r.h * canvas.height);
  });
  g.setLineDash([6, 4]);
  g.lineWidth = 2;
  g.strokeStyle = '#e8710a';
  proposals.forEach((p) => g.strokeRect(p.x * canvas.width, p.y * canvas.height, p.w * canvas.width, p.h * canvas.height));
  g.setLineDash([]);
  if (extra) {
    g.setLineDash([4, 3]);
    g.strokeStyle = '#0b57d0';
    g.strokeRect(extra.x, extra.y, extra.w, extra.h);
  }
}

async function showFrame(seconds) {
  const t = Math.max(0, Number.isFinite(seconds) ? seconds : 0);
  atField.value = t.toFixed(1);
  const response = await fetch(`${root.dataset.thumbnail}&at=${t}`, { credentials: 'same-origin' });
  if (!response.ok) {
    root.dataset.error = String(response.status);
    return;
  }
  shownAt = parseInt(response.headers.get('x-custos-frame-at-ms') || '0', 10);
  proposals = [];
  root.dataset.proposals = '0';
  shownField.textContent = (shownAt / 1000).toFixed(2);
  root.dataset.shownAt = String(shownAt);
  const url = URL.createObjectURL(await response.blob());
  img.onload = () => { URL.revokeObjectURL(url); draw(); root.dataset.ready = 'true'; };
  img.src = url;
}

function point(event) {
  const r = canvas.getBoundingClientRect();
  return {
    x: Math.min(Math.max(event.clientX - r.left, 0), r.width),
    y: Math.min(Math.max(event.clientY - r.top, 0), r.height),
  };
}

canvas.addEventListener('pointerdown', (e) => {
  drag = point(e);
  canvas.setPointerCapture(e.pointerId);
});
canvas.addEventListener('pointermove', (e) => {
  if (!drag) return;
  const p = point(e);
  draw({ x: Math.min(drag.x, p.x), y: Math.min(drag.y, p.y), w: Math.abs(p.x - drag.x), h: Math.abs(p.y - drag.y) });
});
canvas.addEventListener('pointerup', (e) => {
  if (!drag) return;
  const p = point(e);
  const box = {
    x: Math.min(drag.x, p.x) / canvas.width,
    y: Math.min(drag.y, p.y) / canvas.height,
    w: Math.abs(p.x - drag.x) / canvas.width,
    h: Math.abs(p.y - drag.y) / canvas.height,
  };
  drag = null;
  if (box.w < 0.01 || box.h < 0.01) {
    // A click, not a drag: on a proposal, it accepts it.
    const x = p.x / canvas.width;
    const y = p.y / canvas.height;
    const hit = proposals.find((f) => x >= f.x && x <= f.x + f.w && y >= f.y && y <= f.y + f.h);
    if (hit) accept(hit);
    draw();
    return;
  }
  if (current < 0) addTrack();
  const track = plan.tracks[current];
  const keyframe = { at_millis: shownAt, x: box.x, y: box.y, w: Math.min(box.w, 1 - box.x), h: Math.min(box.h, 1 - box.y) };
  track.keyframes = track.keyframes.filter((k) => k.at_millis !== shownAt);
  track.keyframes.push(keyframe);
  track.keyframes.sort((a, b) => a.at_millis - b.at_millis);
  save();
  listTracks();
  draw();
});

/// A proposal accepted: a new pixelate box with one keyframe here.
function accept(face) {
  plan.tracks.push({
    label: `face-${plan.tracks.length + 1}`,
    kind: 'pixelate',
    keyframes: [{ at_millis: shownAt, x: face.x, y: face.y, w: face.w, h: face.h }],
  });
  current = plan.tracks.length - 1;
  proposals = proposals.filter((f) => f !== face);
  root.dataset.proposals = String(proposals.length);
  save();
  listTracks();
}

async function propose() {
  const response = await fetch(`${root.dataset.faces}&at=${shownAt / 1000}`, { credentials: 'same-origin' });
  if (!response.ok) {
    root.dataset.error = String(response.status);
    return;
  }
  proposals = (await response.json()).faces;
  root.dataset.proposals = String(proposals.length);
  root.dataset.proposedAt = String(shownAt);
  draw();
}

function addTrack() {
  const kind = kindSelect.value === 'keep' ? 'keep' : 'pixelate';
  plan.tracks.push({ label: `${kind === 'keep' ? 'keep' : 'person'}-${plan.tracks.length + 1}`, kind, keyframes: [] });
  current = plan.tracks.length - 1;
  listTracks();
}

addButton.addEventListener('click', () => { addTrack(); draw(); });
proposeButton.addEventListener('click', () => propose());
document.getElementById('add-mute').addEventListener('click', () => {
  const from = Math.round(parseFloat(document.getElementById('mute-from').value) * 1000);
  const to = Math.round(parseFloat(document.getElementById('mute-to').value) * 1000);
  if (!(from >= 0 && to > from)) return;
  plan.mute.push({ from_millis: from, to_millis: to });
  save();
  listMutes();
});
trackSelect.addEventListener('change', () => { current = parseInt(trackSelect.value, 10); draw(); });
atField.addEventListener('change', () => showFrame(parseFloat(atField.value)));
document.querySelectorAll('[data-step]').forEach((b) => b.addEventListener('click', () => {
  showFrame(parseFloat(atField.value || '0') + parseFloat(b.dataset.step));
}));
form.addEventListener('submit', save);
window.addEventListener('resize', () => draw());

listTracks();
listMutes();
save();
showFrame(parseFloat(atField.value || '0'));
