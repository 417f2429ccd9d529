// Plays an Axis recording's clips as one in Debian's Chromium, on the
// player page, as a reviewer would: the first clip plays, the second
// follows on its own, the recording's slider moves back into the first.
// Prints one JSON line. Env: BASE, TOKEN (session), PAGE (path + query).
import { chromium } from 'playwright-core';

const { BASE, TOKEN, PAGE } = process.env;
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
  const fetched = [];
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (url.pathname.endsWith('/video')) fetched.push(url.searchParams.get('part'));
  });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${BASE}${PAGE}`);
  const video = page.locator('#player');
  const state = () => page.evaluate(() => {
    const v = document.getElementById('player');
    const t = document.getElementById('timeline');
    return { part: v.dataset.part, at: Number(v.dataset.at || 0), time: v.currentTime,
      paused: v.paused, ended: v.ended, timeline: Number(t.value), max: Number(t.max),
      shown: !t.hidden, where: document.getElementById('where').textContent,
      current: Array.from(document.querySelectorAll('ol.parts li'))
        .findIndex((li) => li.getAttribute('aria-current') === 'true') };
  });
  // The page's CSP forbids eval, so no waitForFunction: poll its state.
  const until = async (what, test) => {
    for (let i = 0; i < 200; i++) {
      const s = await state();
      if (test(s)) return s;
      await page.waitForTimeout(100);
    }
    throw new Error(`${what}: ${JSON.stringify(await state())}`);
  };
  await video.evaluate((v) => { v.muted = true; return v.play(); });
  const start = await state();
  // The second clip follows on its own.
  const second = await until('the second clip did not follow',
    (s) => s.part === '1' && s.time > 0.3);
  // Back into the first clip through the recording's slider.
  await page.evaluate(() => {
    const t = document.getElementById('timeline');
    t.value = '1500';
    t.dispatchEvent(new Event('change'));
  });
  const back = await until('the slider did not move back into the first clip',
    (s) => s.part === '0' && Math.abs(s.time - 1.5) < 0.3);
  console.log(JSON.stringify({ ok: true, start, second, back, fetched, errors }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e) }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
