// Custos player: plays an Axis recording's clips as one recording. When a
// clip ends the next one plays; one slider spans the recording's own time
// and moves between clips. Each clip is still fetched through its own
// purpose- and case-bound URL (with ranges), so every clip played is on
// record. Without this script the page lists the clips, one link each.
'use strict';

(() => {
  const video = document.getElementById('player');
  const timeline = document.getElementById('timeline');
  const where = document.getElementById('where');
  if (!video || !timeline || !where || !video.dataset.sequence) return;
  // [{src, offset_ms}] in recording order; offsets from the recording's start.
  const parts = JSON.parse(video.dataset.sequence);
  const total = Math.max(Number(video.dataset.lengthMs) || 0, 1);
  const items = Array.from(document.querySelectorAll('ol.parts li'));
  let current = Number(video.dataset.part) || 0;

  const clock = (ms) => {
    const s = Math.max(0, Math.floor(ms / 1000));
    const pad = (n) => String(n).padStart(2, '0');
    return `${pad(Math.floor(s / 3600))}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
  };

  // The clip that holds a moment of the recording: the last starting at
  // or before it.
  const partAt = (ms) => {
    let found = 0;
    parts.forEach((p, i) => { if (p.offset_ms <= ms) found = i; });
    return found;
  };

  const show = () => {
    const at = parts[current].offset_ms + video.currentTime * 1000;
    if (!timeline.matches(':active')) timeline.value = String(Math.round(at));
    where.textContent = `${clock(at)} / ${clock(total)}`;
    video.dataset.at = String(Math.round(at));
    items.forEach((li, i) => {
      if (i === current) li.setAttribute('aria-current', 'true');
      else li.removeAttribute('aria-current');
    });
  };

  const go = (index, seconds, play) => {
    current = index;
    video.dataset.part = String(index);
    video.addEventListener('loadedmetadata', () => {
      if (seconds > 0) video.currentTime = Math.min(seconds, video.duration || seconds);
      show();
      if (play) video.play().catch(() => { /* the person presses play */ });
    }, { once: true });
    video.src = parts[index].src;
  };

  timeline.min = '0';
  timeline.max = String(total);
  timeline.hidden = false;
  where.hidden = false;
  video.addEventListener('timeupdate', show);
  video.addEventListener('ended', () => {
    if (current + 1 < parts.length) go(current + 1, 0, true);
  });
  timeline.addEventListener('change', () => {
    const at = Number(timeline.value);
    const index = partAt(at);
    const seconds = Math.max(0, (at - parts[index].offset_ms) / 1000);
    if (index === current) video.currentTime = seconds;
    else go(index, seconds, !video.paused);
  });
  show();
})();
