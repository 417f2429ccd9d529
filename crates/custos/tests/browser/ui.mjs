// The web UI in Debian's Chromium, as a reviewer and an administrator use it:
// sign in with a TOTP code, list, open a recording, answer the purpose prompt,
// play and seek, switch language; the administrator finds no footage.
// Env: BASE, REVIEWER, REVIEWER_PASSWORD, REVIEWER_CODE, ADMIN, ADMIN_PASSWORD,
// ADMIN_CODE, RECORDING, CASE, SHOTS (a directory for screenshots).
// Prints one JSON line with what it saw.
import { chromium } from 'playwright-core';

const env = process.env;
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--autoplay-policy=no-user-gesture-required'],
});
const seen = {};
const shot = async (page, name) => page.screenshot({ path: `${env.SHOTS}/${name}.png`, fullPage: true });

async function signIn(context, name, password, code) {
  const page = await context.newPage();
  await page.goto(`${env.BASE}/recordings`);
  seen[`${name}_redirected_to`] = new URL(page.url()).pathname;
  await page.fill('#name', name);
  await page.fill('#password', password);
  await page.fill('#code', code);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  return page;
}

try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-GB', viewport: { width: 1280, height: 800 } });
  // The sign-in page, as the first thing anyone sees.
  {
    const p = await context.newPage();
    await p.goto(`${env.BASE}/login`);
    await shot(p, 'login-en');
    await p.close();
  }
  const page = await signIn(context, env.REVIEWER, env.REVIEWER_PASSWORD, env.REVIEWER_CODE);
  seen.after_sign_in = new URL(page.url()).pathname;
  seen.rows = await page.locator('tr[data-recording]').count();
  seen.nav_en = (await page.locator('[data-nav=recordings]').textContent()).trim();
  await shot(page, 'recordings-en');

  // The recording's page.
  await page.click(`tr[data-recording="${env.RECORDING}"] a >> nth=0`);
  seen.detail_path = new URL(page.url()).pathname;
  seen.detail_has_trail = await page.locator('#trail').count() === 1;
  await shot(page, 'recording-en');

  // The player asks first; an unanswered form does not go anywhere.
  await page.goto(`${env.BASE}/recordings/${env.RECORDING}/play`);
  seen.video_before_purpose = await page.locator('video').count();
  await page.click('#purpose-form button[type=submit]');
  seen.still_asking = new URL(page.url()).search === '' && await page.locator('video').count() === 0;
  await shot(page, 'purpose-en');
  await page.check('input[name=purpose][value=complaint]');
  await page.selectOption('#case', env.CASE);
  await Promise.all([page.waitForNavigation(), page.click('#purpose-form button[type=submit]')]);
  seen.player_query = new URL(page.url()).search;
  const played = await page.evaluate(async () => {
    const v = document.querySelector('video');
    v.muted = true;
    const once = (name, ms) => new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no ${name} within ${ms} ms; error ${v.error && v.error.code}`)), ms);
      v.addEventListener(name, () => { clearTimeout(t); resolve(); }, { once: true });
    });
    if (v.readyState < 1) await once('loadedmetadata', 20000);
    const duration = v.duration;
    await v.play();
    const start = v.currentTime;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const advanced = v.currentTime - start;
    v.pause();
    v.currentTime = duration / 2;
    await once('seeked', 20000);
    return { duration, advanced, seekedTo: v.currentTime, target: duration / 2 };
  });
  Object.assign(seen, { played });
  await shot(page, 'player-en');

  // Language: the switch changes every label and is remembered.
  await page.goto(`${env.BASE}/recordings`);
  await Promise.all([page.waitForNavigation(), page.click('a[hreflang=nl]')]);
  seen.lang_nl = await page.evaluate(() => document.documentElement.lang);
  seen.nav_nl = (await page.locator('[data-nav=recordings]').textContent()).trim();
  await shot(page, 'recordings-nl');
  await Promise.all([page.waitForNavigation(), page.click('a[hreflang=de]')]);
  seen.nav_de = (await page.locator('[data-nav=recordings]').textContent()).trim();
  await page.goto(`${env.BASE}/recordings/${env.RECORDING}`);
  await shot(page, 'recording-de');

  // Keyboard: the first Tab reaches the skip link, which is then visible.
  await page.keyboard.press('Tab');
  seen.first_tab = await page.evaluate(() => document.activeElement.className);

  // An administrator: no footage, no play button, 403 on the video itself.
  const adminContext = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-GB' });
  const admin = await signIn(adminContext, env.ADMIN, env.ADMIN_PASSWORD, env.ADMIN_CODE);
  seen.admin_status_text = (await admin.locator('[data-error]').getAttribute('data-error'));
  seen.admin_play_buttons = await admin.locator('a.play').count();
  seen.admin_video_status = await admin.evaluate(async (url) => (await fetch(url)).status,
    `/api/v1/recordings/${env.RECORDING}/video?purpose=complaint&case=${env.CASE}`);
  await shot(admin, 'admin-refused-en');

  console.log(JSON.stringify({ ok: true, ...seen }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e), ...seen }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
