// WCAG 2.1 AA basics, checked on a rendered page in Chromium: what a
// screen-reader or keyboard user meets first. Not a full audit (no axe in
// this offline build), but each check names the element it fails on:
// - the document has a language and a title, and exactly one h1 (2.4.2, 3.1.1);
// - every form control has a label, every image and chart a text
//   alternative, every link and button a name (1.1.1, 1.3.1, 4.1.2);
// - ids are unique, so labels point at one control (4.1.1);
// - text contrasts with its background: 4.5:1, or 3:1 for large text (1.4.3);
// - every element reached with Tab shows where the focus is (2.4.7).
// Returns the problems (empty when the page passes) and how much was looked
// at, so that a page checked by nothing does not pass unnoticed.

export async function audit(page, { tabStops = 120 } = {}) {
  const { problems, texts, controls } = await page.evaluate(() => {
    const out = [];
    let controls = 0;
    const describe = (el) => {
      const id = el.id ? `#${el.id}` : '';
      const name = el.getAttribute('name') ? `[name=${el.getAttribute('name')}]` : '';
      const text = (el.textContent || '').trim().slice(0, 30);
      return `<${el.tagName.toLowerCase()}${id}${name}>${text ? ` "${text}"` : ''}`;
    };
    const visible = (el) => {
      if (el.closest('[hidden], [aria-hidden=true]')) return false;
      const style = getComputedStyle(el);
      if (style.visibility === 'hidden' || style.display === 'none') return false;
      return el.getClientRects().length > 0;
    };
    if (!document.documentElement.lang) out.push('html has no lang');
    if (!document.title.trim()) out.push('no <title>');
    const h1 = document.querySelectorAll('h1').length;
    if (h1 !== 1) out.push(`${h1} h1 elements, not 1`);

    const ids = new Map();
    for (const el of document.querySelectorAll('[id]')) ids.set(el.id, (ids.get(el.id) || 0) + 1);
    for (const [id, n] of ids) if (n > 1) out.push(`id "${id}" used ${n} times`);

    const named = (el) => (el.getAttribute('aria-label') || '').trim()
      || (el.getAttribute('aria-labelledby') || '').split(/\s+/).filter(Boolean)
        .map((id) => (document.getElementById(id)?.textContent || '').trim()).join('')
      || (el.getAttribute('title') || '').trim();
    for (const el of document.querySelectorAll('input, select, textarea')) {
      const type = (el.getAttribute('type') || '').toLowerCase();
      if (type === 'hidden' || !visible(el)) continue;
      controls += 1;
      if (['submit', 'button', 'reset'].includes(type)) {
        if (!(el.value || '').trim() && !named(el)) out.push(`${describe(el)} has no name`);
        continue;
      }
      const labelled = [...(el.labels || [])].some((l) => l.textContent.trim()) || named(el);
      if (!labelled) out.push(`${describe(el)} has no label`);
    }
    for (const el of document.querySelectorAll('img')) {
      if (!el.hasAttribute('alt')) out.push(`${describe(el)} src=${el.getAttribute('src')} has no alt`);
    }
    for (const el of document.querySelectorAll('svg')) {
      if (el.closest('[aria-hidden=true]') || el.parentElement.closest('svg')) continue;
      const title = el.querySelector(':scope > title');
      const role = el.getAttribute('role');
      if (!(role === 'img' && (named(el) || (title && title.textContent.trim())))) {
        out.push(`<svg> without role=img and a name (title or aria-label)`);
      }
    }
    for (const el of document.querySelectorAll('a[href], button')) {
      if (!visible(el)) continue;
      const text = (el.textContent || '').trim() || named(el)
        || [...el.querySelectorAll('img[alt]')].map((i) => i.alt).join('').trim();
      if (!text) out.push(`${describe(el)} has no accessible name`);
    }

    // Contrast of every visible run of text against the background it is
    // drawn on (the first ancestor with a colour, blended over white).
    const rgba = (s) => {
      const m = s.match(/rgba?\(([^)]+)\)/);
      if (!m) return null;
      const [r, g, b, a = '1'] = m[1].split(/[ ,/]+/).filter(Boolean);
      return [Number(r), Number(g), Number(b), Number(a)];
    };
    const over = (top, under) => {
      const a = top[3];
      return [0, 1, 2].map((i) => top[i] * a + under[i] * (1 - a)).concat(1);
    };
    const luminance = (c) => {
      const lin = c.slice(0, 3).map((v) => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
    };
    const background = (el) => {
      const layers = [];
      for (let e = el; e; e = e.parentElement) {
        const style = getComputedStyle(e);
        if (style.backgroundImage !== 'none') return null;
        const c = rgba(style.backgroundColor);
        if (c && c[3] > 0) {
          layers.push(c);
          if (c[3] >= 1) break;
        }
      }
      return layers.reverse().reduce((under, top) => over(top, under), [255, 255, 255, 1]);
    };
    const checked = new Set();
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const el = node.parentElement;
      if (!node.textContent.trim() || checked.has(el) || !visible(el)) continue;
      if (el.closest('video, canvas, svg')) continue;
      checked.add(el);
      const style = getComputedStyle(el);
      const bg = background(el);
      const fg = rgba(style.color);
      if (!bg || !fg) continue;
      const color = over(fg, bg);
      const [l1, l2] = [luminance(color), luminance(bg)].sort((a, b) => b - a);
      const ratio = (l1 + 0.05) / (l2 + 0.05);
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
      const needed = large ? 3 : 4.5;
      if (ratio < needed) {
        out.push(`${describe(el)} contrast ${ratio.toFixed(2)}:1 < ${needed}:1 (${style.color} on rgb(${bg.slice(0, 3).map(Math.round)}))`);
      }
    }
    return { problems: out, texts: checked.size, controls };
  });

  // Focus: Tab through the page as a keyboard user does; each stop must
  // draw an outline or a shadow.
  // Start from the top of the document, not from where the page last had
  // focus (Chromium continues from there after a blur).
  await page.evaluate(() => {
    const root = document.documentElement;
    root.tabIndex = -1;
    root.focus();
    root.removeAttribute('tabindex');
  });
  const seenStops = new Set();
  let previous = null;
  for (let i = 0; i < tabStops; i += 1) {
    await page.keyboard.press('Tab');
    const stop = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return null;
      const style = getComputedStyle(el);
      const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
      const shadow = style.boxShadow && style.boxShadow !== 'none';
      const path = [];
      for (let e = el; e && e !== document.body; e = e.parentElement) {
        path.unshift(e.tagName.toLowerCase() + (e.id ? `#${e.id}` : `:nth-child(${[...e.parentElement.children].indexOf(e) + 1})`));
      }
      return { key: path.join('>'), shown: outline || shadow, tag: el.tagName.toLowerCase(), text: (el.textContent || el.value || '').trim().slice(0, 30) };
    });
    // A date field takes several Tabs (day, month, year, its picker): one stop.
    if (stop && stop.key === previous) continue;
    if (!stop || seenStops.has(stop.key)) break;
    previous = stop.key;
    seenStops.add(stop.key);
    if (!stop.shown) problems.push(`focus not visible on <${stop.tag}> "${stop.text}"`);
  }
  if (seenStops.size === 0) problems.push('Tab reaches nothing');
  return { problems, texts, controls, stops: seenStops.size };
}
