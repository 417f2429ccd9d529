// Plays a recording in Debian's Chromium, as a reviewer's browser would:
// session cookie, same-origin <video>, then a seek. Prints one JSON line.
// Env: BASE (https://localhost:PORT), TOKEN (session), VIDEO (path + query).
import { chromium } from 'playwright-core';

const { BASE, TOKEN, VIDEO } = process.env;
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--autoplay-policy=no-user-gesture-required'],
});
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  // A __Host- cookie is host-only: set by URL, not by domain.
  await context.addCookies([{ name: '__Host-custos_session', value: TOKEN, url: `${BASE}/`,
    secure: true, httpOnly: true, sameSite: 'Strict' }]);
  const page = await context.newPage();
  const ranges = [];
  page.on('request', (r) => { if (r.url().includes('/video')) ranges.push(r.headers()['range'] ?? null); });
  // Same origin as the API, so the SameSite=Strict cookie goes along; a
  // page of the web UI, whose CSP lets it play media from its own origin
  // (API answers carry `default-src 'none'; sandbox`).
  await page.goto(`${BASE}/login`);
  const result = await page.evaluate(async (src) => {
    const v = document.createElement('video');
    v.muted = true;
    v.preload = 'auto';
    document.body.appendChild(v);
    const once = (name, ms) => new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no ${name} within ${ms} ms; error ${v.error && v.error.code}`)), ms);
      v.addEventListener(name, () => { clearTimeout(t); resolve(); }, { once: true });
      v.addEventListener('error', () => { clearTimeout(t); reject(new Error(`media error ${v.error && v.error.code}: ${v.error && v.error.message}`)); }, { once: true });
    });
    v.src = src;
    await once('loadedmetadata', 20000);
    const duration = v.duration;
    const size = [v.videoWidth, v.videoHeight];
    await v.play();
    await once('timeupdate', 20000);
    v.pause();
    const target = duration / 2;
    v.currentTime = target;
    await once('seeked', 20000);
    return { duration, size, seekedTo: v.currentTime, target, readyState: v.readyState };
  }, `${BASE}${VIDEO}`);
  console.log(JSON.stringify({ ok: true, ...result, ranges }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e) }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
