// Plays an Axis recording's clips joined by the server (`…/joined`, one
// fragmented MP4) in Debian's Chromium: its own MP4 reader and decoders
// take it, it plays across the point where the second clip starts, and it
// seeks into the second clip. The video is put on the player page (whose
// policy lets media come from the server itself), as a reviewer's session.
// Prints one JSON line. Env: BASE, TOKEN (session), PAGE (a page of the
// server), VIDEO (the joined video's path + query).
import { chromium } from 'playwright-core';

const { BASE, TOKEN, PAGE, VIDEO } = process.env;
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--autoplay-policy=no-user-gesture-required'],
});
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  await context.addCookies([{ name: '__Host-custos_session', value: TOKEN, url: `${BASE}/`,
    secure: true, httpOnly: true, sameSite: 'Strict' }]);
  const page = await context.newPage();
  const ranges = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname.endsWith('/joined')) ranges.push(r.headers().range || null);
  });
  await page.goto(`${BASE}${PAGE}`);
  await page.evaluate((src) => {
    const v = document.createElement('video');
    v.id = 'joined';
    v.muted = true;
    v.preload = 'auto';
    v.src = src;
    document.body.appendChild(v);
  }, VIDEO);
  const state = () => page.evaluate(() => {
    const v = document.getElementById('joined');
    return { ready: v.readyState, duration: v.duration, time: v.currentTime,
      paused: v.paused, error: v.error ? `${v.error.code} ${v.error.message}` : null,
      width: v.videoWidth, height: v.videoHeight };
  });
  // The page's CSP forbids eval, so no waitForFunction: poll its state.
  const until = async (what, test) => {
    for (let i = 0; i < 200; i++) {
      const s = await state();
      if (s.error) throw new Error(`${what}: ${s.error}`);
      if (test(s)) return s;
      await page.waitForTimeout(100);
    }
    throw new Error(`${what}: ${JSON.stringify(await state())}`);
  };
  const loaded = await until('no metadata', (s) => s.ready >= 1);
  // From 2.5 s, across the second clip's start, on its own.
  await page.evaluate(() => {
    const v = document.getElementById('joined');
    v.currentTime = 2.5;
    return v.play();
  });
  const across = await until('did not play into the second clip', (s) => s.time > 3.5);
  await page.evaluate(() => document.getElementById('joined').pause());
  // And straight to 5 s, in the second clip.
  await page.evaluate(() => { document.getElementById('joined').currentTime = 5.0; });
  const seeked = await until('did not seek into the second clip',
    (s) => Math.abs(s.time - 5.0) < 0.01 && s.ready >= 2);
  console.log(JSON.stringify({ ok: true, loaded, across, seeked, ranges }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e) }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
