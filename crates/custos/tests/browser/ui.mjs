// The web UI in Debian's Chromium, as a reviewer and an administrator use it:
// sign in with a TOTP code, list, open a recording, answer the purpose prompt,
// play and seek, switch language; the administrator finds no footage.
// Then the reviewer secures the recording for the case, the administrator
// visits people, cameras and settings and adds a person, and an auditor
// checks the audit log.
// Env: BASE, REVIEWER, REVIEWER_PASSWORD, REVIEWER_CODE, ADMIN, ADMIN_PASSWORD,
// ADMIN_CODE, AUDITOR, AUDITOR_PASSWORD, AUDITOR_CODE, EVALUATOR,
// EVALUATOR_PASSWORD, EVALUATOR_CODE, RECORDING, CASE, SHOTS
// (a directory for screenshots).
// Prints one JSON line with what it saw.
import { chromium } from 'playwright-core';
import { audit } from './a11y.mjs';

const env = process.env;
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--autoplay-policy=no-user-gesture-required'],
});
const seen = {};
const shot = async (page, name, fullPage = true) => page.screenshot({ path: `${env.SHOTS}/${name}.png`, fullPage });
// Every page screenshotted is also checked for WCAG 2.1 AA basics (a11y.mjs).
const a11y = {};
const check = async (page, name) => { a11y[name] = await audit(page); };

async function signIn(context, name, password, code, start = '/recordings') {
  const page = await context.newPage();
  await page.goto(`${env.BASE}${start}`);
  seen[`${name}_redirected_to`] = new URL(page.url()).pathname;
  await page.fill('#name', name);
  await page.fill('#password', password);
  await page.fill('#code', code);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  return page;
}

try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-GB', viewport: { width: 1280, height: 800 } });
  // The checker itself, on a page that breaks each rule once: it must say so.
  {
    const p = await context.newPage();
    await p.setContent('<html><body><h2>x</h2><input id="a"><span id="a"></span><img src="data:,">'
      + '<svg width="9" height="9"></svg><a href="#x"></a><p style="color:#aaa;background:#fff">faint</p>'
      + '<button style="outline:none;box-shadow:none">b</button></body></html>');
    seen.a11y_selftest = (await audit(p)).problems;
    await p.close();
  }
  // The sign-in page, as the first thing anyone sees.
  {
    const p = await context.newPage();
    await p.goto(`${env.BASE}/login`);
    await shot(p, 'login-en');
  await check(p, 'login-en');
    await p.close();
  }
  const page = await signIn(context, env.REVIEWER, env.REVIEWER_PASSWORD, env.REVIEWER_CODE);
  seen.after_sign_in = new URL(page.url()).pathname;
  seen.rows = await page.locator('tr[data-recording]').count();
  seen.nav_en = (await page.locator('[data-nav=recordings]').textContent()).trim();
  await shot(page, 'recordings-en');
  await check(page, 'recordings-en');

  // The recording's page.
  await page.click(`tr[data-recording="${env.RECORDING}"] a >> nth=0`);
  seen.detail_path = new URL(page.url()).pathname;
  seen.detail_has_trail = await page.locator('#trail').count() === 1;
  await shot(page, 'recording-en');
  await check(page, 'recording-en');

  // The player asks first; an unanswered form does not go anywhere.
  await page.goto(`${env.BASE}/recordings/${env.RECORDING}/play`);
  seen.video_before_purpose = await page.locator('video').count();
  await page.click('#purpose-form button[type=submit]');
  seen.still_asking = new URL(page.url()).search === '' && await page.locator('video').count() === 0;
  await shot(page, 'purpose-en');
  await check(page, 'purpose-en');
  await page.check('input[name=purpose][value=complaint]');
  await page.selectOption('#case', env.CASE);
  await Promise.all([page.waitForNavigation(), page.click('#purpose-form button[type=submit]')]);
  // The recording is not attached to the case yet: the page asks for the
  // link and its reason, and shows no footage until then.
  seen.asked_to_link = await page.locator('#link-form').count() === 1
    && await page.locator('video').count() === 0;
  await check(page, 'link-en');
  await page.fill('#link-reason', 'The complaint names this stop.');
  await Promise.all([page.waitForNavigation(), page.click('#link-form button[type=submit]')]);
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
  await check(page, 'player-en');

  // Language: the switch changes every label and is remembered.
  await page.goto(`${env.BASE}/recordings`);
  await Promise.all([page.waitForNavigation(), page.click('a[hreflang=nl]')]);
  seen.lang_nl = await page.evaluate(() => document.documentElement.lang);
  seen.nav_nl = (await page.locator('[data-nav=recordings]').textContent()).trim();
  await shot(page, 'recordings-nl');
  await check(page, 'recordings-nl');
  await Promise.all([page.waitForNavigation(), page.click('a[hreflang=de]')]);
  seen.nav_de = (await page.locator('[data-nav=recordings]').textContent()).trim();
  await page.goto(`${env.BASE}/recordings/${env.RECORDING}`);
  await shot(page, 'recording-de');

  // Keyboard: the first Tab reaches the skip link, which is then visible.
  await page.keyboard.press('Tab');
  seen.first_tab = await page.evaluate(() => document.activeElement.className);
  await check(page, 'recording-de');
  await page.goto(`${env.BASE}/cases`);
  await check(page, 'cases-de');

  // The case: secure the recording for it (the page is in German now).
  await page.goto(`${env.BASE}/cases/${env.CASE}`);
  await page.fill('#recording_id', env.RECORDING);
  await page.fill('#reason', 'Beschwerde über die Kontrolle');
  await Promise.all([page.waitForNavigation(), page.click('#add-recording button[type=submit]')]);
  seen.hold_states = await page.locator('td[data-state]').evaluateAll((cells) => cells.map((c) => c.dataset.state));
  await shot(page, 'case-de');
  await check(page, 'case-de');

  // An export for the police, kept for a download link (the form, then the
  // link page shown once).
  await page.fill('#export-recipient', 'Polizei Bocholt, Az. 2026-17');
  await page.check('#delivery-link');
  await page.fill('#link-hours', '48');
  await page.fill('#link-downloads', '2');
  await shot(page, 'export-form-de');
  // Sent from the keyboard, as the administrator's form below is.
  await page.focus('#export button[type=submit]');
  await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
  const linkUrl = (await page.locator('#link-url').textContent()).trim();
  seen.link_passphrase = (await page.locator('#link-passphrase').textContent()).trim();
  seen.link_path = new URL(linkUrl).pathname.replace(/[0-9a-f]{64}$/, 'TOKEN');
  await shot(page, 'export-link-de');
  await check(page, 'export-link-de');

  // The recipient, with no account, in Dutch: the page, then the button.
  const recipientContext = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'nl-NL', acceptDownloads: true, viewport: { width: 1280, height: 800 } });
  const recipient = await recipientContext.newPage();
  await recipient.goto(linkUrl);
  seen.landing_title = (await recipient.locator('h1').textContent()).trim();
  const shown = (await recipient.locator('#download-sha256').textContent()).trim();
  await shot(recipient, 'download-nl');
  await check(recipient, 'download-nl');
  const [download] = await Promise.all([recipient.waitForEvent('download'), recipient.click('#download button')]);
  const bytes = await (await import('node:fs/promises')).readFile(await download.path());
  const { createHash } = await import('node:crypto');
  seen.downloaded_sha256_matches = createHash('sha256').update(bytes).digest('hex') === shown;
  seen.downloaded_is_age = bytes.subarray(0, 21).toString() === 'age-encryption.org/v1';
  seen.downloaded_name = download.suggestedFilename().replace(/-[0-9a-f-]{36}\.tar\.age$/, '-ID.tar.age');
  await recipient.reload();
  seen.downloads_left = (await recipient.locator('#download-left').textContent()).trim();
  await recipientContext.close();

  // An administrator: no footage, no play button, 403 on the video itself.
  const adminContext = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-GB' });
  const admin = await signIn(adminContext, env.ADMIN, env.ADMIN_PASSWORD, env.ADMIN_CODE);
  seen.admin_status_text = (await admin.locator('[data-error]').getAttribute('data-error'));
  seen.admin_play_buttons = await admin.locator('a.play').count();
  seen.admin_video_status = await admin.evaluate(async (url) => (await fetch(url)).status,
    `/api/v1/recordings/${env.RECORDING}/video?purpose=complaint&case=${env.CASE}`);
  await shot(admin, 'admin-refused-en');
  await check(admin, 'admin-refused-en');

  // The administrator's own pages: people, cameras and docks, settings.
  await admin.goto(`${env.BASE}/admin/users`);
  seen.admin_users = await admin.locator('tr[data-user]').count();
  await shot(admin, 'users-en');
  await check(admin, 'users-en');
  // Adding a person, the form sent from the keyboard.
  await admin.fill('#name', 'kees');
  await admin.selectOption('#role', 'auditor');
  await admin.focus('#add-user button[type=submit]');
  await Promise.all([admin.waitForNavigation(), admin.keyboard.press('Enter')]);
  seen.enrollment_shown = await admin.locator('[data-secret=password]').count() === 1
    && await admin.locator('[data-secret=totp]').count() === 1;
  await admin.goto(`${env.BASE}/admin/devices`);
  seen.admin_cameras = await admin.locator('tr[data-camera]').count();
  await shot(admin, 'devices-en');
  await check(admin, 'devices-en');
  await admin.goto(`${env.BASE}/admin/settings`);
  seen.admin_retention = (await admin.locator('[data-setting=retention]').textContent()).trim();
  await shot(admin, 'settings-en');
  await check(admin, 'settings-en');

  // An auditor, in Dutch: the start page is the audit log; the whole log checks out.
  const auditorContext = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'nl-NL', viewport: { width: 1280, height: 800 } });
  const auditor = await signIn(auditorContext, env.AUDITOR, env.AUDITOR_PASSWORD, env.AUDITOR_CODE, '/');
  seen.auditor_landed = new URL(auditor.url()).pathname;
  seen.auditor_signature = await auditor.locator('[data-signature]').getAttribute('data-signature');
  await Promise.all([auditor.waitForNavigation(), auditor.click('#verify-log button')]);
  seen.auditor_verified = await auditor.locator('[data-verification=ok]').count();
  // The newest entries and the checkpoint: the first screen is what people see.
  await shot(auditor, 'audit-nl', false);
  await check(auditor, 'audit-nl');
  await auditor.goto(`${env.BASE}/incidents`);
  await check(auditor, 'incidents-nl');

  // An evaluator, in Dutch: the start page is the statistics, with charts,
  // the printable report and the CSV.
  const evaluatorContext = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'nl-NL', viewport: { width: 1280, height: 800 } });
  const evaluator = await signIn(evaluatorContext, env.EVALUATOR, env.EVALUATOR_PASSWORD, env.EVALUATOR_CODE, '/');
  seen.evaluator_landed = new URL(evaluator.url()).pathname;
  seen.evaluator_charts = await evaluator.locator('svg.chart[role=img]').count();
  seen.evaluator_k = await evaluator.locator('#stats-k').getAttribute('data-k');
  seen.evaluator_activations = (await evaluator.locator('[data-table=activations] tr[data-row=recordings] td[data-column=total]').textContent()).trim();
  await shot(evaluator, 'statistics-nl', false);
  await check(evaluator, 'statistics-nl');
  const csv = await evaluator.evaluate(async () => {
    const r = await fetch(document.querySelector('#stats-csv-link').href);
    return { status: r.status, type: r.headers.get('content-type'), first: (await r.text()).split('\n')[0] };
  });
  seen.evaluator_csv = csv;
  await Promise.all([evaluator.waitForNavigation(), evaluator.click('#stats-report-link')]);
  seen.report_title = (await evaluator.locator('h1').textContent()).trim();
  await evaluator.emulateMedia({ media: 'print' });
  seen.report_nav_printed = await evaluator.locator('header.top').isVisible();
  await shot(evaluator, 'report-nl', false);
  await evaluator.emulateMedia({ media: 'screen' });
  await check(evaluator, 'report-nl');

  console.log(JSON.stringify({ ok: true, ...seen, a11y }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e), ...seen, a11y }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
