// The contact form in Debian's headless Chromium, driven by playwright-core: a page of another
// local origin (an organisation's website) embeds the form with the one-line snippet; the form
// grows its iframe by message; sent empty it shows its error state; filled in the iframe, the
// page's own script solves the proof of work and the receipt appears in the frame. The same
// form on its own page is filled and sent with the keyboard only. axe-core checks the form in
// Finnish, Swedish and English, its error state and the receipt (WCAG 2.1 A/AA tags), and every
// request is recorded: the form's frame loads nothing but from us.
// Input (environment): OHJAUS_BASE (the gateway), OHJAUS_HOST (the embedding page), OHJAUS_FORM
// (the form's id), OHJAUS_MARKER (a text to ask); CHROMIUM (default /usr/bin/chromium).
// Output: one JSON line with what was checked; exit status 1 and the reasons on failure.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const base = env('OHJAUS_BASE');
const host = env('OHJAUS_HOST');
// The same page on an origin the form does not allow.
const stranger = env('OHJAUS_STRANGER');
const form = env('OHJAUS_FORM');
const marker = env('OHJAUS_MARKER');
const ours = new URL(base).origin;
const theirs = new URL(host).origin;

const failures = [];
const checked = { axe: [], requests: 0, sent: 0, resized: false, framing: false };
const fail = (what) => failures.push(what);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

async function context(options) {
  const ctx = await browser.newContext({ ...options });
  ctx.on('request', (request) => {
    checked.requests += 1;
    const target = new URL(request.url()).origin;
    // The embedding page loads the snippet from us; anything else goes to us or to that page.
    if (target !== ours && target !== theirs && target !== new URL(stranger).origin) {
      fail(`request to ${target}: ${request.url()}`);
    }
    const frame = request.frame();
    if (frame && frame.url().startsWith(`${ours}/forms/`) && target !== ours) fail(`the form's frame asked ${target}`);
  });
  ctx.on('response', async (response) => {
    const cookie = (await response.allHeaders())['set-cookie'];
    if (cookie && response.url().startsWith(`${ours}/forms`)) fail(`a cookie from ${response.url()}`);
  });
  return ctx;
}

/// axe-core on a page or a frame as it is now, with the WCAG 2.1 A and AA rules.
async function axe(target, label) {
  await target.addScriptTag({ content: axeSource });
  const result = await target.evaluate(async () =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }),
  );
  checked.axe.push(label);
  for (const v of result.violations) {
    fail(`axe ${label}: ${v.id} (${v.impact}) on ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  }
}

async function tabTo(page, selector) {
  for (let i = 0; i < 60; i += 1) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement && document.activeElement.matches(s), selector)) return;
  }
  throw new Error(`Tab never reached ${selector} on ${page.url()}`);
}

async function embedded() {
  // axe is injected as an inline script, so the context lets it past the pages' policy (the
  // policy itself is checked from the headers below).
  const ctx = await context({ bypassCSP: true, locale: 'fi-FI' });
  const page = await ctx.newPage();
  await page.goto(host);
  const element = await page.waitForSelector(`iframe[src^="${ours}/forms/${form}"]`);
  const frame = await element.contentFrame();
  await frame.waitForSelector('#ohjaus-form');
  // The frame tells its height; the snippet follows it.
  await page.waitForFunction(() => document.querySelector('iframe').style.height !== '600px', null, { timeout: 10000 });
  checked.resized = true;
  // Sent empty: the script waits for its proof, then the server names every missing answer.
  await Promise.all([frame.waitForSelector('.govuk-error-summary', { timeout: 60000 }), frame.click('#send')]);
  if (!(await frame.$('#answer-kysymys-error'))) fail('the empty form did not name the question');
  await axe(frame, 'form, error state (fi)');
  await frame.fill('#answer-kysymys', `Upotettu kysymys ${marker}`);
  await frame.check('#answer-aihe-0');
  await frame.check('#answer-suostumus');
  // A person takes longer than the minimum fill time (the caller's clock moves meanwhile).
  await page.waitForTimeout(2000);
  await Promise.all([frame.waitForSelector('.govuk-panel--confirmation', { timeout: 60000 }), frame.click('#send')]);
  checked.sent += 1;
  await axe(frame, 'receipt (fi)');
  await ctx.close();
}

/// With the pages' own policies in force: the allowed website shows the form in its frame, a
/// website the form does not name gets nothing.
async function framing() {
  const ctx = await context({ locale: 'fi-FI' });
  const page = await ctx.newPage();
  await page.goto(host);
  const allowed = await (await page.waitForSelector('iframe')).contentFrame();
  await allowed.waitForSelector('#ohjaus-form', { timeout: 20000 });
  const other = await ctx.newPage();
  await other.goto(stranger);
  const refused = await (await other.waitForSelector('iframe')).contentFrame();
  await other.waitForTimeout(1500);
  if (refused && (await refused.$('#ohjaus-form'))) fail('a website the form does not allow could frame it');
  checked.framing = true;
  await ctx.close();
}

async function keyboardOnly() {
  const ctx = await context({ bypassCSP: true, locale: 'sv-SE' });
  const page = await ctx.newPage();
  for (const lang of ['fi', 'sv', 'en']) {
    const response = await page.goto(`${base}/forms/${form}?lang=${lang}`);
    const csp = response.headers()['content-security-policy'] || '';
    const ancestors = (csp.match(/frame-ancestors ([^;]*)/) || ['', ''])[1].split(' ');
    if (!ancestors.includes(theirs) || /unsafe-inline/.test(csp)) fail(`form (${lang}): CSP ${csp}`);
    if ((await page.getAttribute('html', 'lang')) !== lang) fail(`form (${lang}): wrong html lang`);
    await axe(page, `form (${lang})`);
  }
  // Swedish, by the keyboard alone.
  await page.goto(`${base}/forms/${form}?lang=sv`);
  await page.waitForFunction(() => document.getElementById('proof').value !== '', null, { timeout: 60000 });
  await tabTo(page, '#answer-kysymys');
  await page.keyboard.type(`Tangentbordet ${marker}`);
  await tabTo(page, '#answer-sahkoposti');
  await page.keyboard.type('besokare@example.fi');
  await tabTo(page, 'input[name="answer.aihe"]');
  await page.keyboard.press('Space');
  await tabTo(page, '#answer-suostumus');
  await page.keyboard.press('Space');
  await page.waitForTimeout(2000);
  await tabTo(page, '#send');
  await Promise.all([
    page.waitForSelector('.govuk-panel--confirmation, .govuk-error-summary', { timeout: 60000 }),
    page.keyboard.press('Enter'),
  ]);
  const refused = await page.$('.govuk-error-summary');
  if (refused) throw new Error(`the keyboard's form was refused: ${await refused.innerText()}`);
  checked.sent += 1;
  await axe(page, 'receipt (sv)');
  await ctx.close();
}

try {
  await framing();
  await embedded();
  await keyboardOnly();
} catch (error) {
  fail(`${error.stack || error}`);
}
await browser.close();
console.log(JSON.stringify({ ...checked, failures }));
process.exit(failures.length ? 1 : 0);
