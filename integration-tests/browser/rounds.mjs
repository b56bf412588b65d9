// The 3X10D meter's pages in Debian's headless Chromium (playwright-core, axe-core): the guide
// finds the meter from the workspace page and asks the customer for a round on the page; the
// customer, with the keyboard only and JavaScript off, answers the round that waits (two items
// left as "No answer"), saves, comes back and submits; then she and the guide open the change
// between the two rounds (an SVG chart with a title and a description, and the same data as a
// table). axe-core (WCAG 2.1 A/AA) finds nothing on the rounds list, the answering page, a
// submitted round and the change view in Finnish, Swedish and English; no page loads anything
// from another origin.
// Input (environment): OHJAUS_BASE, OHJAUS_WORKSPACE (its id), OHJAUS_CUSTOMER (her test identity
// code), OHJAUS_GUIDE (the guide's local id), OHJAUS_ROUND (the round she answers here),
// OHJAUS_FIRST (her submitted earlier round); CHROMIUM (default /usr/bin/chromium).
// Output: one JSON line with what was checked and the values given; exit status 1 and the
// reasons on failure.

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
const workspace = env('OHJAUS_WORKSPACE');
const customer = env('OHJAUS_CUSTOMER');
const guide = env('OHJAUS_GUIDE');
const round = env('OHJAUS_ROUND');
const first = env('OHJAUS_FIRST');
const ours = new URL(base).origin;
const rounds = `${base}/app/workspaces/${workspace}/rounds`;
// What the customer gives with the keyboard: items 4 and 7 stay "No answer".
const GIVEN = { 1: 6, 2: 6, 3: 9, 5: 2, 6: 8, 8: 8, 9: 6, 10: 0 };

const failures = [];
const checked = { axe: [], origins: [], given: GIVEN };
const fail = (what) => failures.push(what);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

async function context(javaScriptEnabled) {
  const ctx = await browser.newContext({ javaScriptEnabled });
  ctx.on('request', (request) => {
    const target = new URL(request.url()).origin;
    if (!request.isNavigationRequest() && !checked.origins.includes(target)) checked.origins.push(target);
    if (target !== ours && !request.isNavigationRequest()) fail(`request to ${target}: ${request.url()}`);
  });
  ctx.on('console', (message) => {
    if (/Content.Security.Policy/i.test(message.text())) fail(`CSP violation on ${message.location().url}: ${message.text()}`);
  });
  return ctx;
}

async function loggedIn(ctx, intent, hint) {
  const page = await ctx.newPage();
  await page.goto(`${base}/auth/login/dev?intent=${intent}&return_to=/app&login_hint=${hint}`);
  await page.waitForURL(`${base}/app`);
  return page;
}

/// axe-core (evaluated through DevTools, not as a script tag: the CSP allows none inline).
async function axe(page, label) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }),
  );
  checked.axe.push(label);
  for (const v of result.violations) {
    fail(`axe ${label}: ${v.id} (${v.impact}) on ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  }
}

async function everyLanguage(page, label) {
  const url = new URL(page.url());
  for (const lang of ['fi', 'sv', 'en']) {
    url.searchParams.set('lang', lang);
    const response = await page.goto(url.toString());
    if (response.status() !== 200) fail(`${label} (${lang}): status ${response.status()}`);
    if ((await page.getAttribute('html', 'lang')) !== lang) fail(`${label}: not in ${lang}`);
    await axe(page, `${label} (${lang})`);
  }
}

async function tabTo(page, selector) {
  for (let i = 0; i < 200; i += 1) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement && document.activeElement.matches(s), selector)) return;
  }
  throw new Error(`Tab never reached ${selector} on ${page.url()}`);
}

try {
  // The guide: the workspace page leads to the meter; the list and its ask form pass axe.
  const guideCtx = await context(true);
  const guidePage = await loggedIn(guideCtx, 'expert', guide);
  await guidePage.goto(`${base}/app/workspaces/${workspace}`);
  const link = await guidePage.$(`a[href="/app/workspaces/${workspace}/rounds"]`);
  if (!link) fail('no link to the meter on the workspace page');
  await guidePage.goto(rounds);
  if (!(await guidePage.$('form[action$="/rounds"] select#customer'))) fail('the guide has no form to ask a round');
  await everyLanguage(guidePage, 'rounds, guide');

  // The customer's answering page passes axe in each language (scripts on, for axe only).
  const lookCtx = await context(true);
  const look = await loggedIn(lookCtx, 'customer', customer);
  await look.goto(`${rounds}/${round}`);
  const groups = await look.$$('fieldset input[type=radio][value=""]');
  if (groups.length !== 10) fail(`the answering page has ${groups.length} items with "No answer"`);
  await everyLanguage(look, 'answering page');
  await look.goto(`${rounds}/${first}`);
  await everyLanguage(look, 'submitted round');

  // She answers with the keyboard alone and JavaScript off: in each group the checked radio
  // ("No answer") takes the focus, the arrow keys choose (→ wraps to 0).
  const ctx = await context(false);
  const page = await loggedIn(ctx, 'customer', customer);
  await page.goto(rounds);
  await tabTo(page, `a[href$="/rounds/${round}"]`);
  await Promise.all([page.waitForURL(`${rounds}/${round}`), page.keyboard.press('Enter')]);
  for (const [item, value] of Object.entries(GIVEN)) {
    await tabTo(page, `input[name="item-${item}"]:checked`);
    for (let i = 0; i <= value; i += 1) await page.keyboard.press('ArrowRight');
    const now = await page.evaluate(() => document.activeElement.value);
    if (now !== String(value)) fail(`item ${item}: the keyboard chose ${now}, wanted ${value}`);
  }
  // Save and return: what she chose is there again.
  await tabTo(page, 'button[value=save]');
  await Promise.all([page.waitForURL(/saved=1/), page.keyboard.press('Enter')]);
  for (const [item, value] of Object.entries({ ...GIVEN, 4: '', 7: '' })) {
    const kept = await page.$eval(`input[name="item-${item}"]:checked`, (e) => e.value);
    if (kept !== String(value)) fail(`after saving item ${item} is ${kept}, wanted ${value}`);
  }
  await tabTo(page, 'button[value=submit]');
  await Promise.all([page.waitForURL(/rounds\?done=1/), page.keyboard.press('Enter')]);

  // The change view: chosen on the list (earliest and latest preselected), keyboard only.
  await tabTo(page, 'form[action$="/rounds/change"] button');
  await Promise.all([page.waitForURL(/rounds\/change\?/), page.keyboard.press('Enter')]);
  const svg = await page.$('svg[role=img][aria-labelledby="chart-title chart-desc"]');
  if (!svg) fail('the change view has no labelled chart');
  const description = await page.$eval('svg desc', (d) => d.textContent);
  if (!description.includes('→')) fail(`the chart's description carries no values: ${description}`);
  const rows = await page.$$('table tbody tr');
  if (rows.length !== 10) fail(`the change table has ${rows.length} rows`);
  const changeUrl = page.url();
  const seeChange = await lookCtx.newPage();
  await seeChange.goto(changeUrl);
  await everyLanguage(seeChange, 'change view, customer');
  await guidePage.goto(changeUrl);
  await everyLanguage(guidePage, 'change view, guide');
  if (await guidePage.$('text=/total|yhteens|totalt/i')) fail('a total is shown');
} catch (error) {
  fail(`${error.stack || error}`);
} finally {
  await browser.close();
}

console.log(JSON.stringify({ ...checked, failures }));
if (failures.length > 0) {
  console.error(failures.join('\n'));
  process.exit(1);
}
