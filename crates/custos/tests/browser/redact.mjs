// The redaction editor in Debian's Chromium, as a privacy officer uses it:
// sign in (Dutch), open a held recording's editor, drag a box on one frame,
// step two seconds on, drag it again elsewhere, make the copy, and play the
// copy on the request's page.
// Env: BASE, NAME, PASSWORD, CODE, CASE, RECORDING, SHOTS. Prints one JSON line.
import { chromium } from 'playwright-core';

const env = process.env;
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const seen = {};
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'nl-NL', viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => { seen.page_error = String(e); });
  const editor = `/subject-requests/${env.CASE}/recordings/${env.RECORDING}/redact`;
  await page.goto(`${env.BASE}${editor}`);
  await page.fill('#name', env.NAME);
  await page.fill('#password', env.PASSWORD);
  await page.fill('#code', env.CODE);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  seen.landed = new URL(page.url()).pathname;
  await page.waitForSelector('#editor[data-ready=true]');
  const drag = async (x0, y0, x1, y1) => {
    const box = await page.locator('#overlay').boundingBox();
    await page.mouse.move(box.x + box.width * x0, box.y + box.height * y0);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * (x0 + x1) / 2, box.y + box.height * (y0 + y1) / 2, { steps: 4 });
    await page.mouse.move(box.x + box.width * x1, box.y + box.height * y1, { steps: 4 });
    await page.mouse.up();
  };
  if (env.FACES === '1') {
    // Faces proposed on the first frame; the first one accepted with a click.
    await page.click('#propose');
    await page.waitForSelector('#editor[data-proposed-at]');
    seen.proposals = Number(await page.locator('#editor').getAttribute('data-proposals'));
    const url = await page.locator('#editor').getAttribute('data-faces');
    const faces = await page.evaluate(async (u) => (await (await fetch(`${u}&at=0`)).json()).faces, url);
    // The button may have scrolled the frame away: back to it first.
    await page.locator('#overlay').scrollIntoViewIfNeeded();
    const box = await page.locator('#overlay').boundingBox();
    const f = faces[0];
    await page.mouse.move(box.x + box.width * (f.x + f.w / 2), box.y + box.height * (f.y + f.h / 2));
    await page.mouse.down();
    await page.mouse.up();
    seen.accepted = faces[0];
    seen.keyframes = await page.locator('#editor').getAttribute('data-keyframes');
    seen.proposals_left = Number(await page.locator('#editor').getAttribute('data-proposals'));
    seen.plan = JSON.parse(await page.inputValue('#plan'));
    await page.screenshot({ path: `${env.SHOTS}/redact-faces-nl.png`, fullPage: true });
    await page.focus('#redact button[type=submit]');
    await Promise.all([page.waitForNavigation({ timeout: 60000 }), page.keyboard.press('Enter')]);
    seen.after_render = new URL(page.url()).pathname;
    seen.derivatives = await page.locator('figure[data-derivative]').count();
    console.log(JSON.stringify({ ok: true, ...seen }));
    process.exit(0);
  }
  await drag(0.1, 0.2, 0.4, 0.7);
  seen.keyframes_after_first = await page.locator('#editor').getAttribute('data-keyframes');
  // Two seconds on (a keyframe of the recording), the same person has moved.
  // (Our CSP allows no eval, so the test waits on attributes, not functions.)
  await page.click('[data-step="1"]');
  await page.waitForSelector('#editor[data-shown-at="1000"]');
  await page.click('[data-step="1"]');
  await page.waitForSelector('#editor[data-shown-at="2000"]');
  seen.second_frame_at = Number(await page.locator('#editor').getAttribute('data-shown-at'));
  await drag(0.5, 0.2, 0.8, 0.7);
  seen.keyframes = await page.locator('#editor').getAttribute('data-keyframes');
  // A span whose sound is removed.
  await page.fill('#mute-from', '1');
  await page.fill('#mute-to', '2.5');
  await page.click('#add-mute');
  seen.mutes = await page.locator('#editor').getAttribute('data-mutes');
  seen.plan = JSON.parse(await page.inputValue('#plan'));
  await page.screenshot({ path: `${env.SHOTS}/redact-editor-nl.png`, fullPage: true });
  await page.focus('#redact button[type=submit]');
  await Promise.all([page.waitForNavigation({ timeout: 60000 }), page.keyboard.press('Enter')]);
  seen.after_render = new URL(page.url()).pathname;
  seen.derivatives = await page.locator('figure[data-derivative]').count();
  const video = page.locator('figure[data-derivative] video').first();
  await video.evaluate((v) => new Promise((resolve) => {
    if (v.readyState >= 1) { resolve(); return; }
    v.addEventListener('loadedmetadata', () => resolve(), { once: true });
    v.addEventListener('error', () => resolve(), { once: true });
    v.load();
  }));
  seen.duration = await video.evaluate((v) => v.duration);
  await page.screenshot({ path: `${env.SHOTS}/derivative-nl.png`, fullPage: true });
  console.log(JSON.stringify({ ok: true, ...seen }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e), ...seen }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
