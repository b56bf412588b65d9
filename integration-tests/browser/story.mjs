// The web pages' story in Debian's headless Chromium, driven by playwright-core (no browser
// download): the invited customer follows the mailed link, logs in with a test Suomi.fi
// identity and accepts — keyboard only —, writes (an empty message first: the error state);
// the guide, with JavaScript off, reads it and answers with a plain form; the customer reads
// the answer. axe-core checks every page of it in Finnish, Swedish and English (WCAG 2.1 A/AA
// tags), and every request the pages make is recorded: none may leave our own origin except the
// navigations to the identity provider.
//
// Two phases, as OHJAUS_PHASE says: `guide` — the guide logs in, opens a workspace and invites
// the customer through the pages (the invitation mail is read by the caller, which holds the
// mailbox); `customer` — the rest of the story, from the mailed link.
// A third phase, `consent`, follows a proposal the caller made: the customer accepts another
// organisation's expert, the expert reads, the customer downloads and withdraws.
// Input (environment): OHJAUS_BASE (the gateway), OHJAUS_CUSTOMER (the customer's test identity
// code), OHJAUS_GUIDE (the guide's Virtu local id), OHJAUS_MARKER (a text to write), in the
// customer phase OHJAUS_TOKEN (the invitation's secret), in the consent phase OHJAUS_EXPERT,
// OHJAUS_WORKSPACE (its path) and OHJAUS_PURPOSE; CHROMIUM (default /usr/bin/chromium).
// Output: one JSON line with what was checked (the guide phase: the workspace's path too);
// exit status 1 and the reasons on failure.

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
const phase = env('OHJAUS_PHASE');
const token = phase === 'customer' ? env('OHJAUS_TOKEN') : '';
const customer = env('OHJAUS_CUSTOMER');
const guide = env('OHJAUS_GUIDE');
const marker = env('OHJAUS_MARKER');
const ours = new URL(base).origin;

const failures = [];
const checked = { axe: [], pages: 0, requests: 0 };
const fail = (what) => failures.push(what);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

/// A browser context whose every request is recorded: a page of ours may load only from us.
async function context(options) {
  const ctx = await browser.newContext({ ...options });
  ctx.on('request', (request) => {
    checked.requests += 1;
    const target = new URL(request.url()).origin;
    const frame = request.frame();
    const from = frame ? new URL(frame.url() || base).origin : ours;
    if (target !== ours && !request.isNavigationRequest()) fail(`request to ${target} from a page of ${from}: ${request.url()}`);
  });
  return ctx;
}

/// axe-core on the page as it is now, with the WCAG 2.1 A and AA rules.
async function axe(page, label) {
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }),
  );
  checked.axe.push(label);
  for (const v of result.violations) {
    fail(`axe ${label}: ${v.id} (${v.impact}) on ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  }
}

/// Checks the page in each language (switched by the page's own links) with axe.
async function everyLanguage(page, label) {
  const url = new URL(page.url());
  for (const lang of ['fi', 'sv', 'en']) {
    url.searchParams.set('lang', lang);
    const response = await page.goto(url.toString());
    const htmlLang = await page.getAttribute('html', 'lang');
    if (htmlLang !== lang) fail(`${label}: html lang ${htmlLang}, wanted ${lang}`);
    const csp = response.headers()['content-security-policy'] || '';
    if (/unsafe-inline/.test(csp) || !/frame-ancestors 'none'/.test(csp)) fail(`${label}: CSP ${csp}`);
    await axe(page, `${label} (${lang})`);
    checked.pages += 1;
  }
}

/// Moves the focus with Tab until it is on `selector`; fails after 60 presses.
async function tabTo(page, selector) {
  for (let i = 0; i < 60; i += 1) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement && document.activeElement.matches(s), selector)) return;
  }
  throw new Error(`Tab never reached ${selector} on ${page.url()}`);
}

/// The guide opens a workspace and invites the customer, all through the pages (keyboard and
/// mouse alike; the error states of both forms on the way).
async function guidePhase() {
  const ctx = await context({ bypassCSP: true, locale: 'fi-FI' });
  const page = await ctx.newPage();
  await page.goto(`${base}/`);
  await tabTo(page, 'a[href*="intent=expert"]');
  await Promise.all([page.waitForURL(/\/auth\/|dev/), page.keyboard.press('Enter')]);
  await tabTo(page, `a[href*="login_hint=${guide}"]`);
  await Promise.all([page.waitForURL(`${base}/app`), page.keyboard.press('Enter')]);
  await axe(page, 'my workspaces, guide (fi)');
  await tabTo(page, 'a[href="/app/workspaces/new"]');
  await Promise.all([page.waitForURL(`${base}/app/workspaces/new`), page.keyboard.press('Enter')]);
  await everyLanguage(page, 'new workspace');
  // No name: refused, the summary leads to the field.
  await tabTo(page, 'main button[type=submit]');
  await Promise.all([page.waitForSelector('.govuk-error-summary'), page.keyboard.press('Enter')]);
  await axe(page, 'new workspace, no name (fi)');
  await page.fill('#title', `Talous ${marker}`);
  await Promise.all([page.waitForURL(/\/app\/workspaces\/[0-9a-f-]{36}$/), page.click('main form button[type=submit]')]);
  const workspacePath = new URL(page.url()).pathname;
  await axe(page, 'new workspace opened (fi)');
  // An invitation without an address: refused; then sent.
  await page.click('form[action$="/invitations"] button[type=submit]');
  await page.waitForSelector('#email-error');
  await axe(page, 'invitation form, no address (fi)');
  await page.fill('#email', 'tessa@example.fi');
  await page.fill('#personal_identity_code', customer);
  await Promise.all([page.waitForURL(/invited=1/), page.click('form[action$="/invitations"] button[type=submit]')]);
  await page.waitForSelector('.govuk-notification-banner--success');
  await axe(page, 'invitation sent (fi)');
  await ctx.close();
  return workspacePath;
}

let workspacePath = null;
try {
  if (phase === 'guide') {
    workspacePath = await guidePhase();
  } else if (phase === 'consent') {
    await consentPhase();
  } else {
    await customerPhase();
  }
} catch (error) {
  fail(`story stopped: ${error.stack || error}`);
} finally {
  await browser.close();
}

console.log(JSON.stringify({ failures, workspace: workspacePath, ...checked }));
process.exit(failures.length ? 1 : 0);

/// The guide has proposed an expert of another organisation: the customer reads who, from
/// where and why, and accepts from the keyboard; the expert, with JavaScript off, reads the
/// conversation; the customer withdraws and the expert's next page is "not found"; the
/// customer downloads everything as a zip.
async function consentPhase() {
  const expert = env('OHJAUS_EXPERT');
  const purpose = env('OHJAUS_PURPOSE');
  const workspace = `${base}${env('OHJAUS_WORKSPACE')}`;
  const ctx = await context({ bypassCSP: true, locale: 'fi-FI', acceptDownloads: true });
  const page = await ctx.newPage();
  await page.goto(`${base}/auth/login/dev?intent=customer&return_to=/app&login_hint=${customer}`);
  await page.waitForURL(`${base}/app`);
  await page.goto(workspace);
  const main = await page.textContent('main');
  for (const shown of [purpose, 'Ville Valvoja']) if (!main.includes(shown)) fail(`the consent request does not show ${shown}`);
  await everyLanguage(page, 'workspace with a consent request');
  await page.goto(`${workspace}?lang=fi`);
  await tabTo(page, 'form[action$="/accept"] button[type=submit]');
  await Promise.all([page.waitForEvent('load'), page.keyboard.press('Enter')]);
  if (!(await page.textContent('#consents ~ div')).includes('Hyväksytty')) fail('the accepted request does not say so');
  await axe(page, 'consent accepted (fi)');

  // The expert is in as soon as the effect arrives.
  const expertCtx = await context({ javaScriptEnabled: false, locale: 'fi-FI' });
  const expertPage = await expertCtx.newPage();
  await expertPage.goto(`${base}/auth/login/dev?intent=expert&return_to=/app&login_hint=${expert}`);
  await expertPage.waitForURL(`${base}/app`);
  let seen = false;
  for (let i = 0; i < 50 && !seen; i += 1) {
    const answer = await expertPage.goto(workspace);
    seen = answer.status() === 200 && (await expertPage.textContent('main')).includes(marker);
    if (!seen) await new Promise((r) => setTimeout(r, 200));
  }
  if (!seen) fail('the consented expert never saw the conversation');

  // The access log names the expert who read.
  await page.goto(`${workspace}/access-log`);
  await everyLanguage(page, 'access log');
  if (!(await page.textContent('main')).includes('Ville Valvoja')) fail('the access log does not name the expert');
  await page.goto(`${workspace}?lang=fi`);

  // The customer downloads everything about her, then withdraws.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('a[href$="/export"]')]);
  const zipped = await download.path();
  const magic = readFileSync(zipped).subarray(0, 2).toString('latin1');
  if (magic !== 'PK') fail(`the download is not a zip (${magic})`);
  await Promise.all([page.waitForEvent('load'), page.click('form[action$="/withdraw"] button[type=submit]')]);
  if (!(await page.textContent('#consents ~ div')).includes('Peruttu')) fail('the withdrawn request does not say so');
  let out = false;
  for (let i = 0; i < 50 && !out; i += 1) {
    out = (await expertPage.goto(workspace)).status() === 404;
    if (!out) await new Promise((r) => setTimeout(r, 100));
  }
  if (!out) fail('the expert still reads the workspace after the withdrawal');
}

/// The rest of the story, from the mailed link.
async function customerPhase() {
  // Before logging in: the front page.
  const visitor = await context({ bypassCSP: true, locale: 'fi-FI' });
  const front = await visitor.newPage();
  await front.goto(`${base}/`);
  await everyLanguage(front, 'front page');
  await visitor.close();

  // The API reference: its viewer is ours, so the page asks nothing of anyone else.
  const docs = await (await context({ locale: 'en-GB' })).newPage();
  const blocked = [];
  docs.on('console', (m) => { if (m.type() === 'error') blocked.push(m.text()); });
  await docs.goto(`${base}/docs`);
  await docs.waitForFunction(() => document.body.innerText.includes('Ohjaus API'), null, { timeout: 30000 });
  if (blocked.length) fail(`/docs console errors: ${blocked.join(' | ')}`);
  checked.pages += 1;

  // The customer, keyboard only: the mailed link, the test Suomi.fi login, accepting.
  const customerCtx = await context({ bypassCSP: true, locale: 'fi-FI' });
  const page = await customerCtx.newPage();
  await page.goto(`${base}/invitations/${token}`);
  // The development provider lists its test identities; the customer picks hers.
  await tabTo(page, `a[href*="login_hint=${customer}"]`);
  await Promise.all([page.waitForURL(`${base}/app/invitations/${token}`), page.keyboard.press('Enter')]);
  await axe(page, 'invitation (fi)');
  await tabTo(page, 'main button[type=submit]');
  await Promise.all([page.waitForURL(/\/app\/workspaces\/[0-9a-f-]+$/), page.keyboard.press('Enter')]);
  const workspaceUrl = page.url();
  await axe(page, 'workspace (fi)');

  // An empty message is refused with an error summary that leads to the field.
  await tabTo(page, 'main button[type=submit]');
  await Promise.all([page.waitForURL(`${workspaceUrl}/messages`), page.keyboard.press('Enter')]);
  await page.waitForSelector('.govuk-error-summary');
  await axe(page, 'workspace, empty message refused (fi)');

  // A message, typed and sent from the keyboard.
  await tabTo(page, '#body');
  await page.keyboard.type(`Hei! ${marker}`);
  await tabTo(page, 'main button[type=submit]');
  await Promise.all([page.waitForURL(workspaceUrl), page.keyboard.press('Enter')]);
  if (!(await page.textContent('main')).includes(marker)) fail('the customer does not see her own message');
  await everyLanguage(page, 'workspace');
  await page.goto(`${base}/app`);
  await everyLanguage(page, 'my workspaces');

  // The guide, with JavaScript off: reads the message and answers with the plain form.
  const guideCtx = await context({ javaScriptEnabled: false, locale: 'fi-FI' });
  const guidePage = await guideCtx.newPage();
  await guidePage.goto(`${base}/auth/login/dev?intent=expert&return_to=/app&login_hint=${guide}`);
  await guidePage.waitForURL(`${base}/app`);
  await guidePage.click(`a[href="${new URL(workspaceUrl).pathname}"]`);
  if (!(await guidePage.textContent('main')).includes(marker)) fail('the guide does not see the customer\'s message');
  await guidePage.fill('#body', `Vastaus: ${marker}`);
  await Promise.all([guidePage.waitForURL(workspaceUrl), guidePage.click('main button[type=submit]')]);
  if (!(await guidePage.textContent('main')).includes(`Vastaus: ${marker}`)) fail('the guide does not see his answer');

  // Another workspace id is "not found" to him, as a page.
  const foreign = await guidePage.goto(`${base}/app/workspaces/00000000-0000-7000-8000-000000000000`);
  if (foreign.status() !== 404) fail(`a foreign workspace answered ${foreign.status()} to the guide`);

  // The customer reads the answer.
  await page.goto(workspaceUrl);
  if (!(await page.textContent('main')).includes(`Vastaus: ${marker}`)) fail('the customer does not see the answer');

  // Logging out from the page ends the session.
  await tabTo(page, 'header button[type=submit]');
  await Promise.all([page.waitForURL(`${base}/app/logout`), page.keyboard.press('Enter')]);
  await axe(page, 'logged out (fi)');
  await page.goto(`${base}/app`);
  if (new URL(page.url()).pathname !== '/') fail(`after logout /app went to ${page.url()}`);

  // A workspace that is not hers: not found, as a page.
  const stranger = await page.goto(`${base}/app/workspaces/00000000-0000-7000-8000-000000000000`);
  if (stranger.status() !== 200 || new URL(page.url()).pathname !== '/') fail(`a logged-out visitor saw ${page.url()} ${stranger.status()}`);
}
