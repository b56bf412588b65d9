// The web pages' story in Debian's headless Chromium, driven by playwright-core (no browser
// download): the invited customer follows the mailed link, logs in with a test Suomi.fi
// identity and accepts — keyboard only —, writes (an empty message first: the error state);
// the guide, with JavaScript off, reads it and answers with a plain form; the customer reads
// the answer. axe-core checks every page of it in Finnish, Swedish and English (WCAG 2.1 A/AA
// tags), and every request the pages make is recorded: none may leave our own origin except the
// navigations to the identity provider.
//
// Three phases, as OHJAUS_PHASE says: `guide` — the guide logs in, opens a workspace and invites
// the customer through the pages (the invitation mail is read by the caller, which holds the
// mailbox); `customer` — from the mailed link: the customer accepts and writes with a PDF, the
// guide's open page shows it without a reload, the guide answers; `consent` — the guide proposes
// an expert of another organisation from the directory, the customer reads who, from where and
// why and accepts, the expert reads, the customer downloads and withdraws, and the expert's open
// page loses access.
// OHJAUS_JS=off runs the whole story with JavaScript disabled in every browser context: plain
// forms and links only (no live updates; the checks that need them are left out).
// No context bypasses the pages' Content-Security-Policy: axe-core is evaluated through the
// DevTools protocol, which the policy does not govern, and any policy violation is a failure.
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
const js = process.env.OHJAUS_JS !== 'off';
// A small, well-formed PDF.
const PDF = Buffer.from('%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n', 'latin1');

const failures = [];
const checked = { js, axe: [], pages: 0, requests: 0, origins: [] };
const fail = (what) => failures.push(what);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

/// A browser context whose every request is recorded: a page of ours may load only from us.
const withoutScripts = new WeakSet();
async function context(options) {
  const ctx = await browser.newContext({ javaScriptEnabled: js, ...options });
  if ((options.javaScriptEnabled ?? js) === false) withoutScripts.add(ctx);
  ctx.on('request', (request) => {
    checked.requests += 1;
    const target = new URL(request.url()).origin;
    // What pages load (not where links lead, e.g. to the identity provider).
    if (!request.isNavigationRequest() && !checked.origins.includes(target)) checked.origins.push(target);
    const frame = request.frame();
    const from = frame ? new URL(frame.url() || base).origin : ours;
    if (target !== ours && !request.isNavigationRequest()) fail(`request to ${target} from a page of ${from}: ${request.url()}`);
  });
  ctx.on('console', (message) => {
    if (/Content.Security.Policy/i.test(message.text())) fail(`CSP violation on ${message.location().url}: ${message.text()}`);
  });
  return ctx;
}

/// axe-core on the page as it is now, with the WCAG 2.1 A and AA rules.
async function axe(page, label) {
  // axe-core runs in the page: where scripts are off it cannot (the run with them checks the
  // same pages).
  if (withoutScripts.has(page.context())) return;
  // Evaluated, not added as a script tag: the page's CSP allows no inline script.
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

/// Checks the page in each language (switched by the page's own links) with axe.
async function everyLanguage(page, label) {
  const url = new URL(page.url());
  for (const lang of ['fi', 'sv', 'en']) {
    url.searchParams.set('lang', lang);
    const response = await page.goto(url.toString());
    const htmlLang = await page.getAttribute('html', 'lang');
    if (htmlLang !== lang) fail(`${label}: html lang ${htmlLang}, wanted ${lang}`);
    securityHeaders(response, label);
    await axe(page, `${label} (${lang})`);
    checked.pages += 1;
  }
}

/// The page's answer forbids inline and foreign scripts and framing by anyone.
function securityHeaders(response, label) {
  const csp = response.headers()['content-security-policy'] || '';
  const directives = Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v]));
  const scripts = directives['script-src'] || directives['default-src'] || [];
  if (csp.includes('unsafe-inline') || csp.includes('unsafe-eval')) fail(`${label}: CSP allows unsafe sources: ${csp}`);
  if (scripts.some((s) => s !== "'self'" && s !== "'none'")) fail(`${label}: script-src ${scripts.join(' ')}`);
  if ((directives['frame-ancestors'] || []).join(' ') !== "'none'") fail(`${label}: frame-ancestors in ${csp}`);
}

/// With OHJAUS_SCREENSHOTS (a folder), the story also photographs its main pages at 320 px and
/// 1280 px width (as `docs/screenshots/` holds them: see integration-tests/browser/screenshots.sh).
const shots = process.env.OHJAUS_SCREENSHOTS || '';
async function shot(page, name) {
  if (!shots || !js) return;
  const size = page.viewportSize();
  for (const width of [320, 1280]) {
    await page.setViewportSize({ width, height: 900 });
    await page.screenshot({ path: `${shots}/${name}-${width}.png`, fullPage: true });
  }
  await page.setViewportSize(size);
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
  await operatorPages();
  await mainUser();
  const ctx = await context({ locale: 'fi-FI' });
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

/// The operator's page: the organisations; a new one from its registry data (the empty form's
/// errors first), suspended and made active again.
async function operatorPages() {
  const ctx = await context({ locale: 'fi-FI' });
  const page = await ctx.newPage();
  await page.goto(`${base}/auth/login/dev?intent=expert&return_to=/app&login_hint=operaattori`);
  await page.waitForURL(`${base}/app/operator`);
  await everyLanguage(page, 'operator');
  await page.goto(`${base}/app/operator?lang=fi`);
  await Promise.all([page.waitForSelector('.govuk-error-summary'), page.click('form[action$="/organisations"] button[type=submit]')]);
  await axe(page, 'operator, empty organisation (fi)');
  const business = env('OHJAUS_NEW_BUSINESS_ID');
  const values = {
    official_name: 'Testikunta', business_id: business, display_name_fi: 'Testikunnan ohjaamo',
    website: 'https://testikunta.example', contact_name: 'Kari Kontakti', contact_email: 'kari@testikunta.example',
    dpo_name: 'Tuula Tietosuoja', dpo_email: 'dpo@testikunta.example', privacy_fi: 'https://testikunta.example/tietosuoja',
    data_request_url: 'https://testikunta.example/tietopyynto',
  };
  for (const [field, value] of Object.entries(values)) await page.fill(`#${field}`, value);
  await Promise.all([page.waitForURL(/created=1/), page.click('form[action$="/organisations"] button[type=submit]')]);
  const row = page.locator('tr', { hasText: business });
  if ((await row.count()) !== 1) fail('the new organisation is not listed');
  await Promise.all([page.waitForEvent('load'), row.locator('form[action$="/suspend"] button').click()]);
  if (!(await page.locator('tr', { hasText: business }).textContent()).includes('Keskeytetty')) fail('the suspended organisation does not say so');
  await axe(page, 'operator, an organisation suspended (fi)');
  await shot(page, 'operator');
  await Promise.all([page.waitForEvent('load'), page.locator('tr', { hasText: business }).locator('form[action$="/activate"] button').click()]);
  if ((await page.locator('tr', { hasText: business }).textContent()).includes('Keskeytetty')) fail('the organisation was not made active again');
  // Its registry data changed (an empty official name refused first).
  await Promise.all([page.waitForURL(/\/operator\/organisations\/[0-9a-f-]{36}$/), page.locator('tr', { hasText: business }).locator('a').click()]);
  await everyLanguage(page, 'registry data');
  const edit = page.url().split('?')[0];
  await page.goto(`${edit}?lang=fi`);
  await page.fill('#official_name', '');
  await Promise.all([page.waitForSelector('#official_name-error'), page.click('main form button[type=submit]')]);
  await axe(page, 'registry data, no official name (fi)');
  await page.fill('#official_name', 'Testikunta ja Naapuri');
  await page.fill('#website', 'https://naapuri.example');
  await Promise.all([page.waitForURL(/updated=1/), page.click('main form button[type=submit]')]);
  await page.goto(edit);
  const saved = [await page.inputValue('#official_name'), await page.inputValue('#website')];
  if (saved[0] !== 'Testikunta ja Naapuri' || !saved[1].startsWith('https://naapuri.example')) fail(`the changed registry data was not saved: ${saved}`);
  await ctx.close();
}

/// The main user's organisation page: registry data, offices (one added, after the empty
/// name's error), experts, and an integration client made (its secret shown once) and revoked.
async function mainUser() {
  const ctx = await context({ locale: 'fi-FI' });
  const page = await loggedIn(ctx, 'expert', env('OHJAUS_MAIN_USER'));
  await Promise.all([page.waitForURL(/\/app\/organisations\//), page.click('header a[href^="/app/organisations/"]')]);
  const organisation = page.url().split('?')[0];
  await everyLanguage(page, 'organisation');
  await page.goto(`${organisation}?lang=fi`);
  await Promise.all([page.waitForSelector('.govuk-error-summary'), page.click('form[action$="/offices"] button[type=submit]')]);
  await axe(page, 'organisation, office without a name (fi)');
  await page.fill('#office_name', 'Itäinen toimipiste');
  await Promise.all([page.waitForEvent('load'), page.click('form[action$="/offices"] button[type=submit]')]);
  if (!(await page.textContent('#offices + ul')).includes('Itäinen toimipiste')) fail('the new office is not listed');
  // The office renamed in its own form (an empty name refused first, by that form's field).
  const office = () => page.locator('#offices + ul > li', { hasText: 'Itäinen toimipiste' });
  await office().locator('summary').click();
  await office().locator('input[name=office_name]').fill('');
  await Promise.all([page.waitForSelector('.govuk-error-summary'), office().locator('button[type=submit]').click()]);
  if (!(await office().locator('.govuk-error-message').count())) fail('the refused office name is not shown by its field');
  await axe(page, 'organisation, office renamed to nothing (fi)');
  await office().locator('input[name=office_name]').fill('Itäinen palvelupiste');
  await Promise.all([page.waitForEvent('load'), office().locator('button[type=submit]').click()]);
  if (!(await page.textContent('#offices + ul')).includes('Itäinen palvelupiste')) fail('the renamed office is not listed');
  // An expert's roles (none refused first) and directory listing on the expert's page.
  const noora = () => page.locator('#experts + table tr', { hasText: 'Noora Neuvoja' });
  await Promise.all([page.waitForURL(/\/experts\/[0-9a-f-]{36}$/), noora().locator('a').click()]);
  const expertUrl = page.url();
  await everyLanguage(page, 'expert');
  await page.goto(`${expertUrl}?lang=fi`);
  for (const role of await page.$$('form[action$="/roles"] input[type=checkbox]')) await role.uncheck();
  await Promise.all([page.waitForSelector('#roles-error'), page.click('form[action$="/roles"] button[type=submit]')]);
  await axe(page, 'expert, no roles (fi)');
  await page.check('#roles');
  await page.check('#role-advisor');
  await Promise.all([page.waitForURL(/\/organisations\/[0-9a-f-]{36}(\?.*)?(#experts)?$/), page.click('form[action$="/roles"] button[type=submit]')]);
  const roles = await noora().locator('td').nth(1).textContent();
  if (!roles.includes('Ohjaaja') || !roles.includes('Neuvoja')) fail(`the granted roles are not shown: ${roles}`);
  await page.goto(expertUrl);
  await page.check('#listed');
  await page.fill('#description', 'Asumisen ja talouden neuvonta');
  await Promise.all([page.waitForURL(/#experts$/), page.click('form[action$="/listing"] button[type=submit]')]);
  if (!(await noora().locator('td').nth(2).textContent()).includes('Kyllä')) fail('the listed expert is not shown as listed');
  await page.fill('#client_name', 'Kalenteri');
  await page.check('#read');
  await Promise.all([page.waitForEvent('load'), page.click('form[action$="/clients"] button[type=submit]')]);
  const secret = (await page.textContent('#client-secret')) || '';
  if (secret.trim().length < 20) fail(`the new client's secret is not shown (${secret.length} characters)`);
  await axe(page, 'organisation, client secret shown (fi)');
  await page.goto(organisation);
  if (await page.$('#client-secret')) fail('the secret is shown again');
  await Promise.all([page.waitForEvent('load'), page.click('form[action$="/revoke"] button[type=submit]')]);
  if (!(await page.$('#clients ~ table .govuk-tag--grey'))) fail('the revoked client does not say so');
  await shot(page, 'organisation-main-user');
  await ctx.close();
}

let workspacePath = null;
try {
  if (phase === 'guide') {
    workspacePath = await guidePhase();
  } else if (phase === 'consent') {
    await consentPhase();
  } else if (phase === 'group') {
    await groupPhase();
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

/// Logs in with the development provider's test identity `hint` in a new page of `ctx`.
async function loggedIn(ctx, intent, hint) {
  const page = await ctx.newPage();
  await page.goto(`${base}/auth/login/dev?intent=${intent}&return_to=/app&login_hint=${hint}`);
  await page.waitForURL(`${base}/app`);
  return page;
}

/// Marks the page, so a later check tells whether it was loaded again since.
async function markNotReloaded(page) {
  await page.evaluate(() => { window.ohjausNotReloaded = true; });
}

async function stillNotReloaded(page) {
  return page.evaluate(() => window.ohjausNotReloaded === true);
}

/// The guide proposes an expert of another organisation from the directory on the pages; the
/// customer reads who, from where (its controller data and privacy notice) and why, and accepts
/// from the keyboard; the expert reads the conversation; the customer downloads everything as a
/// zip and withdraws; the expert's open page loses access.
async function consentPhase() {
  const expert = env('OHJAUS_EXPERT');
  const expertName = env('OHJAUS_EXPERT_NAME');
  const controller = env('OHJAUS_EXPERT_BUSINESS_ID');
  const privacy = env('OHJAUS_EXPERT_PRIVACY');
  const purpose = env('OHJAUS_PURPOSE');
  const workspace = `${base}${env('OHJAUS_WORKSPACE')}`;

  // The guide: the directory's experts on the proposal page; nothing chosen first (the error
  // state), then the expert, the reason and the language.
  const guideCtx = await context({ locale: 'fi-FI' });
  const guidePage = await loggedIn(guideCtx, 'expert', guide);
  await guidePage.goto(`${workspace}?lang=fi`);
  await Promise.all([guidePage.waitForURL(/\/consents\/new/), guidePage.click('a[href$="/consents/new"]')]);
  await everyLanguage(guidePage, 'proposal form');
  await guidePage.goto(`${workspace}/consents/new?lang=fi`);
  await shot(guidePage, 'proposal-guide');
  if (!(await guidePage.textContent('main')).includes(expertName)) fail('the directory does not list the expert');
  await Promise.all([guidePage.waitForSelector('.govuk-error-summary'), guidePage.click('main form button[type=submit]')]);
  await axe(guidePage, 'proposal form, nothing chosen (fi)');
  await guidePage.getByLabel(expertName).check();
  await guidePage.fill('#purpose', purpose);
  await guidePage.selectOption('#language', 'fi');
  await Promise.all([guidePage.waitForURL(/proposed=1/), guidePage.click('main form button[type=submit]')]);
  await guidePage.waitForSelector('.govuk-notification-banner--success');
  await axe(guidePage, 'proposal sent (fi)');
  await guideCtx.close();

  // The customer reads who, from where and why.
  const ctx = await context({ locale: 'fi-FI', acceptDownloads: true });
  const page = await loggedIn(ctx, 'customer', customer);
  await page.goto(`${workspace}?lang=fi`);
  const main = await page.textContent('#consents ~ div');
  for (const shown of [purpose, expertName, controller]) if (!main.includes(shown)) fail(`the consent request does not show ${shown}`);
  if (!(await page.$(`#consents ~ div a[href="${privacy}"]`))) fail('the consent request does not link the privacy notice');
  await everyLanguage(page, 'workspace with a consent request');
  await page.goto(`${workspace}?lang=fi`);
  await shot(page, 'consent-request-customer');
  await tabTo(page, 'form[action$="/accept"] button[type=submit]');
  await Promise.all([page.waitForEvent('load'), page.keyboard.press('Enter')]);
  if (!(await page.textContent('#consents ~ div')).includes('Hyväksytty')) fail('the accepted request does not say so');
  await axe(page, 'consent accepted (fi)');

  // The expert is in as soon as the effect arrives.
  const expertCtx = await context({ locale: 'fi-FI' });
  const expertPage = await loggedIn(expertCtx, 'expert', expert);
  let seen = false;
  for (let i = 0; i < 50 && !seen; i += 1) {
    const answer = await expertPage.goto(workspace);
    seen = answer.status() === 200 && (await expertPage.textContent('main')).includes(marker);
    if (!seen) await new Promise((r) => setTimeout(r, 200));
  }
  if (!seen) fail('the consented expert never saw the conversation');
  if (js) await expertPage.waitForSelector('ol[data-connected]', { state: 'attached' });

  // The access log names the expert who read.
  await page.goto(`${workspace}/access-log`);
  await everyLanguage(page, 'access log');
  if (!(await page.textContent('main')).includes(expertName)) fail('the access log does not name the expert');
  await page.goto(`${workspace}?lang=fi`);

  // The customer downloads everything about her, then withdraws.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('a[href$="/export"]')]);
  const magic = readFileSync(await download.path()).subarray(0, 2).toString('latin1');
  if (magic !== 'PK') fail(`the download is not a zip (${magic})`);
  // And the readable document alone.
  const [document] = await Promise.all([page.waitForEvent('download'), page.click('a[href$="/export?format=html"]')]);
  const readable = readFileSync(await document.path(), 'utf8');
  if (!readable.startsWith('<!doctype html>') || !readable.includes(`Hei! ${marker}`) || readable.includes('PK\u0003\u0004')) fail('the readable document is not the workspace\'s HTML page');
  const lost = js
    ? expertPage.waitForResponse((r) => r.url() === workspace && r.status() === 404, { timeout: 20000 }).then(() => true, () => false)
    : null;
  await Promise.all([page.waitForEvent('load'), page.click('form[action$="/withdraw"] button[type=submit]')]);
  if (!(await page.textContent('#consents ~ div')).includes('Peruttu')) fail('the withdrawn request does not say so');
  if (js) {
    // The open page hears that access ended and loads again: "not found".
    if (!(await lost)) fail('the expert\'s open page did not lose access after the withdrawal');
  } else {
    let out = false;
    for (let i = 0; i < 50 && !out; i += 1) {
      out = (await expertPage.goto(workspace)).status() === 404;
      if (!out) await new Promise((r) => setTimeout(r, 100));
    }
    if (!out) fail('the expert still reads the workspace after the withdrawal');
  }

  // The owner guide closes the workspace (no more writing) and reopens it.
  const ownerCtx = await context({ locale: 'fi-FI' });
  const owner = await loggedIn(ownerCtx, 'expert', guide);
  await owner.goto(`${workspace}?lang=fi`);
  await Promise.all([owner.waitForEvent('load'), owner.click('form[action$="/close"] button[type=submit]')]);
  if (await owner.$('form[action$="/messages"]')) fail('a closed workspace still offers the message form');
  await axe(owner, 'closed workspace, owner (fi)');
  await Promise.all([owner.waitForEvent('load'), owner.click('form[action$="/reopen"] button[type=submit]')]);
  if (!(await owner.$('form[action$="/messages"]'))) fail('the reopened workspace offers no message form');
  await ownerCtx.close();

  // The main user hands the workspace to another guide (an id that is no workspace first).
  const mainCtx = await context({ locale: 'fi-FI' });
  const mainUserPage = await loggedIn(mainCtx, 'expert', env('OHJAUS_MAIN_USER'));
  await Promise.all([mainUserPage.waitForURL(/\/app\/organisations\//), mainUserPage.click('header a[href^="/app/organisations/"]')]);
  await mainUserPage.fill('#workspace', '00000000-0000-7000-8000-000000000000');
  await Promise.all([mainUserPage.waitForSelector('#workspace-error'), mainUserPage.click('form[action$="/handover"] button[type=submit]')]);
  await axe(mainUserPage, 'hand-over, no such workspace (fi)');
  await mainUserPage.fill('#workspace', env('OHJAUS_WORKSPACE').split('/').pop());
  await mainUserPage.selectOption('#new_owner', { label: env('OHJAUS_NEW_OWNER') });
  await Promise.all([mainUserPage.waitForURL(/handed_over=1/), mainUserPage.click('form[action$="/handover"] button[type=submit]')]);
  if ((await mainUserPage.textContent('main')).includes(marker)) fail('the main user sees the workspace\'s content');
  await mainCtx.close();
}


/// The rest of the story, from the mailed link.
async function customerPhase() {
  // Before logging in: the front page.
  const visitor = await context({ locale: 'fi-FI' });
  const front = await visitor.newPage();
  await front.goto(`${base}/`);
  await everyLanguage(front, 'front page');
  if (shots) {
    await front.goto(`${base}/?lang=fi`);
    await shot(front, 'front-page');
  }
  await visitor.close();

  // The API reference: its viewer is ours, so the page asks nothing of anyone else.
  if (js) {
    const docs = await (await context({ locale: 'en-GB' })).newPage();
    const blocked = [];
    docs.on('console', (m) => { if (m.type() === 'error') blocked.push(m.text()); });
    await docs.goto(`${base}/docs`);
    await docs.waitForFunction(() => document.body.innerText.includes('Ohjaus API'), null, { timeout: 30000 });
    if (blocked.length) fail(`/docs console errors: ${blocked.join(' | ')}`);
    checked.pages += 1;
  }

  // The customer, keyboard only: the mailed link, the test Suomi.fi login, accepting.
  const customerCtx = await context({ locale: 'fi-FI', acceptDownloads: true });
  const page = await customerCtx.newPage();
  await page.goto(`${base}/invitations/${token}`);
  // The development provider lists its test identities; the customer picks hers.
  await tabTo(page, `a[href*="login_hint=${customer}"]`);
  await Promise.all([page.waitForURL(`${base}/app/invitations/${token}`), page.keyboard.press('Enter')]);
  await axe(page, 'invitation (fi)');
  await tabTo(page, 'main button[type=submit]');
  await Promise.all([page.waitForURL(/\/app\/workspaces\/[0-9a-f-]+$/), page.keyboard.press('Enter')]);
  const workspaceUrl = page.url();
  const workspacePath = new URL(workspaceUrl).pathname;
  await axe(page, 'workspace (fi)');

  // The guide has the workspace open (with JavaScript: it follows the live stream).
  const guideLiveCtx = await context({ locale: 'fi-FI' });
  const guideLive = await loggedIn(guideLiveCtx, 'expert', guide);
  await guideLive.goto(workspaceUrl);
  if (js) {
    await guideLive.waitForSelector('ol[data-connected]', { state: 'attached' });
    await markNotReloaded(guideLive);
  }

  // An empty message is refused with an error summary that leads to the field.
  await tabTo(page, 'form[action$="/messages"] button[type=submit]');
  await Promise.all([page.waitForURL(`${workspaceUrl}/messages`), page.keyboard.press('Enter')]);
  await page.waitForSelector('.govuk-error-summary');
  await axe(page, 'workspace, empty message refused (fi)');

  // A file that may not be shared is refused by the file's field, the text kept.
  await page.fill('#body', `Ohjelma ${marker}`);
  await page.setInputFiles('#file', { name: 'ohjelma.exe', mimeType: 'application/octet-stream', buffer: Buffer.from('MZ\x90\x00\x03\x00\x00\x00', 'latin1') });
  await Promise.all([page.waitForSelector('#file-error'), page.click('form[action$="/messages"] button[type=submit]')]);
  if ((await page.inputValue('#body')) !== `Ohjelma ${marker}`) fail('the refused message\'s text was not kept');
  await axe(page, 'workspace, file refused (fi)');
  await page.goto(workspaceUrl);

  // A message with a PDF, typed and sent from the keyboard (the file is chosen in the
  // browser's own dialog, which the test fills in).
  await tabTo(page, '#body');
  await page.keyboard.type(`Hei! ${marker}`);
  await page.setInputFiles('#file', { name: 'liite.pdf', mimeType: 'application/pdf', buffer: PDF });
  await tabTo(page, 'form[action$="/messages"] button[type=submit]');
  if (js) {
    // Sent without leaving the page; the message comes back by the live stream.
    await markNotReloaded(page);
    await page.keyboard.press('Enter');
    await page.waitForSelector(`li.ohjaus-message:has-text("Hei! ${marker}") a:has-text("liite.pdf")`);
    if (!(await stillNotReloaded(page))) fail('sending reloaded the customer\'s page');
    await page.waitForFunction(() => document.querySelector('#body').value === '', null, { timeout: 5000 })
      .catch(() => fail('the sent text stayed in the form'));
  } else {
    // Already at the workspace's address: wait for the page the form's answer leads to.
    await Promise.all([page.waitForEvent('load'), page.keyboard.press('Enter')]);
  }
  if (!(await page.textContent('main')).includes(marker)) fail('the customer does not see her own message');
  await shot(page, 'workspace-customer');

  // The guide's open page shows it without a reload, with its attachment; he downloads it.
  if (js) {
    await guideLive.waitForSelector(`li.ohjaus-message:has-text("Hei! ${marker}")`, { timeout: 15000 });
    if (!(await stillNotReloaded(guideLive))) fail('the guide\'s page was reloaded to show the message');
    const announced = await guideLive.textContent('#live-announcement');
    if (!announced.trim()) fail('the new message was not announced');
  } else {
    await guideLive.goto(workspaceUrl);
  }
  const [pdf] = await Promise.all([guideLive.waitForEvent('download'), guideLive.click('a:has-text("liite.pdf")')]);
  const bytes = readFileSync(await pdf.path());
  if (!bytes.equals(PDF)) fail('the downloaded PDF is not the uploaded one');
  await guideLiveCtx.close();

  await page.goto(workspaceUrl);
  await everyLanguage(page, 'workspace');
  await page.goto(`${base}/app`);
  await everyLanguage(page, 'my workspaces');
  if (shots) {
    await page.goto(`${base}/app?lang=fi`);
    await shot(page, 'my-workspaces-customer');
  }

  // The guide, with JavaScript off: reads the message and answers with the plain form.
  const guideCtx = await context({ javaScriptEnabled: false, locale: 'fi-FI' });
  const guidePage = await loggedIn(guideCtx, 'expert', guide);
  await guidePage.click(`a[href="${workspacePath}"]`);
  if (!(await guidePage.textContent('main')).includes(marker)) fail('the guide does not see the customer\'s message');
  await guidePage.fill('#body', `Vastaus: ${marker}`);
  await Promise.all([guidePage.waitForEvent('load'), guidePage.click('form[action$="/messages"] button[type=submit]')]);
  if (guidePage.url() !== workspaceUrl) fail(`the guide's answer led to ${guidePage.url()}`);
  if (!(await guidePage.textContent('main')).includes(`Vastaus: ${marker}`)) fail('the guide does not see his answer');

  // Another workspace id is "not found" to him, as a page.
  const foreign = await guidePage.goto(`${base}/app/workspaces/00000000-0000-7000-8000-000000000000`);
  if (foreign.status() !== 404) fail(`a foreign workspace answered ${foreign.status()} to the guide`);
  securityHeaders(foreign, 'not found');

  // The customer reads the answer.
  await page.goto(workspaceUrl);
  if (!(await page.textContent('main')).includes(`Vastaus: ${marker}`)) fail('the customer does not see the answer');

  await guideCtx.close();

  // The guidance plan: the guide adds a task for the customer (one without a title is refused
  // by its field first), a private note and the summary; his notifications and sessions.
  const planCtx = await context({ locale: 'fi-FI' });
  const plan = await loggedIn(planCtx, 'expert', guide);
  await plan.goto(`${workspaceUrl}/guidance`);
  await everyLanguage(plan, 'guidance, guide');
  await plan.goto(`${workspaceUrl}/guidance?lang=fi`);
  await plan.check('#kind-task');
  await Promise.all([plan.waitForSelector('.govuk-error-summary'), plan.click('form[action$="/items"] button[type=submit]')]);
  await axe(plan, 'guidance, a task without a title (fi)');
  await plan.check('#kind-task');
  await plan.fill('#title', `Hae asumistukea ${marker}`);
  await plan.fill('#due_on', '2027-03-15');
  await plan.selectOption('#assignee', 'customer');
  await Promise.all([plan.waitForEvent('load'), plan.click('form[action$="/items"] button[type=submit]')]);
  await plan.check('#kind-note');
  await plan.fill('#body', `Oma muistiinpano ${marker}`);
  await plan.check('#private');
  await Promise.all([plan.waitForEvent('load'), plan.click('form[action$="/items"] button[type=submit]')]);
  await plan.fill('#summary', `Yhteenveto ${marker}`);
  await Promise.all([plan.waitForEvent('load'), plan.click('form[action$="/summary"] button[type=submit]')]);
  const planned = await plan.textContent('main');
  for (const shown of [`Hae asumistukea ${marker}`, `Oma muistiinpano ${marker}`, `Yhteenveto ${marker}`]) {
    if (!planned.includes(shown)) fail(`the guide's plan does not show ${shown}`);
  }
  await axe(plan, 'guidance with items, guide (fi)');
  await shot(plan, 'guidance-plan-guide');
  // An event with its end; the task changed on its own page (an empty title refused first);
  // the event removed.
  await plan.check('#kind-event');
  await plan.fill('#title', `Tapaaminen ${marker}`);
  await plan.fill('#starts_at', '2027-03-20T10:00');
  await plan.fill('#ends_at', '2027-03-20T11:30');
  await plan.fill('#location', 'Keskusta');
  await Promise.all([plan.waitForEvent('load'), plan.click('form[action$="/items"] button[type=submit]')]);
  const meeting = () => plan.locator('#events + ul > li', { hasText: `Tapaaminen ${marker}` });
  if (!(await meeting().textContent()).includes('20.3.2027 10:00 UTC – 20.3.2027 11:30 UTC')) fail('the event does not show its end');
  const task = plan.locator('#tasks + ul > li', { hasText: `Hae asumistukea ${marker}` });
  await Promise.all([plan.waitForURL(/\/items\/[0-9a-f-]{36}\/edit$/), task.locator('a[href$="/edit"]').click()]);
  const itemUrl = plan.url();
  await everyLanguage(plan, 'guidance item, change');
  await plan.goto(`${itemUrl}?lang=fi`);
  if ((await plan.inputValue('#due_on')) !== '2027-03-15') fail('the change form does not show the task as it is');
  await plan.fill('#title', '');
  await Promise.all([plan.waitForSelector('#title-error'), plan.click('main > form:first-of-type button[type=submit]')]);
  await axe(plan, 'guidance item, no title (fi)');
  await plan.fill('#title', `Hae asumistukea heti ${marker}`);
  await Promise.all([plan.waitForURL(/\/guidance#i-/), plan.click('main > form:first-of-type button[type=submit]')]);
  if (!(await plan.textContent('#tasks + ul')).includes(`Hae asumistukea heti ${marker}`)) fail('the changed task is not shown');
  await Promise.all([plan.waitForURL(/\/edit$/), meeting().locator('a[href$="/edit"]').click()]);
  if ((await plan.inputValue('#ends_at')) !== '2027-03-20T11:30') fail('the change form does not show the event\'s end');
  await Promise.all([plan.waitForURL(/removed=1/), plan.click('form[action$="/delete"] button[type=submit]')]);
  if ((await plan.textContent('main')).includes(`Tapaaminen ${marker}`)) fail('the removed event is still shown');
  await axe(plan, 'guidance, an item removed (fi)');
  await plan.goto(`${base}/app/notifications`);
  await everyLanguage(plan, 'notifications');
  await plan.goto(`${base}/app/sessions`);
  await everyLanguage(plan, 'sessions');
  await planCtx.close();

  // The customer's plan: her task, marked done from the keyboard, and the summary; not the
  // guide's private note.
  await page.goto(`${workspaceUrl}/guidance?lang=fi`);
  const hers = await page.textContent('main');
  if (!hers.includes(`Hae asumistukea heti ${marker}`) || !hers.includes(`Yhteenveto ${marker}`)) fail('the customer does not see her task or the summary');
  if (await page.$('a[href$="/edit"]')) fail('the customer is offered to change the guides\' items');
  if (hers.includes(`Oma muistiinpano ${marker}`)) fail('the customer sees the guide\'s private note');
  await tabTo(page, 'form[action$="/done"] button[type=submit]');
  await Promise.all([page.waitForEvent('load'), page.keyboard.press('Enter')]);
  if (!(await page.$('#tasks + ul .govuk-tag--green'))) fail('the task marked done does not say so');
  await everyLanguage(page, 'guidance, customer');
  await page.goto(`${base}/app/notifications`);
  await everyLanguage(page, 'notifications, customer');

  // Before the idle end the page warns, in an assertive live region, and "continue" uses the
  // session (the browser's clock is moved on; the server's is not).
  if (js) {
    await page.clock.install();
    await page.goto(workspaceUrl);
    await page.clock.fastForward('25:30');
    await page.waitForSelector('#session-warning[aria-live=assertive] button');
    await axe(page, 'session-expiry warning (fi)');
    await tabTo(page, '#session-warning button');
    const [kept] = await Promise.all([page.waitForResponse((r) => r.url() === `${base}/app/session`), page.keyboard.press('Enter')]);
    const until = (await kept.json()).expires_at;
    if (kept.status() !== 200 || !(Date.parse(until) > Date.now())) fail(`continuing answered ${kept.status()} ${until}`);
  }

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


/// A group workspace: the guide picks the first customer's own thread (keyboard), writes there
/// (an empty message first: the error state keeps the thread); the first customer's open page
/// shows it without a reload and she answers; the guide's open thread shows the answer live;
/// the second customer and the second customer's thread show neither.
async function groupPhase() {
  const group = `${base}${env('OHJAUS_GROUP')}`;
  const firstName = env('OHJAUS_GROUP_FIRST_NAME');

  const guideCtx = await context({ locale: 'fi-FI' });
  const guidePage = await loggedIn(guideCtx, 'expert', guide);
  await guidePage.goto(group);
  await everyLanguage(guidePage, 'group workspace, guide');
  await guidePage.goto(`${group}?lang=fi`);
  if (!(await guidePage.$('a[data-thread-id=""][aria-current="page"]'))) fail('the group opens without the thread to everyone chosen');
  const firstThread = await guidePage.getAttribute(`a[data-thread-id]:has-text("${firstName}")`, 'data-thread-id');
  await tabTo(guidePage, `a[data-thread-id="${firstThread}"]`);
  await Promise.all([guidePage.waitForURL(/\?thread=/), guidePage.keyboard.press('Enter')]);
  const threadUrl = guidePage.url().split('#')[0];
  if (!(await guidePage.textContent('#conversation')).includes(firstName)) fail('the thread\'s heading does not name the customer');
  await everyLanguage(guidePage, 'group thread, guide');
  await guidePage.goto(`${threadUrl}&lang=fi`);
  // An empty message: refused by its field, on the same thread.
  await Promise.all([guidePage.waitForSelector('.govuk-error-summary'), guidePage.click('form[action$="/messages"] button[type=submit]')]);
  if ((await guidePage.inputValue('input[name=thread]')) !== new URL(threadUrl).searchParams.get('thread')) fail('the refused message lost its thread');
  await axe(guidePage, 'group thread, empty message (fi)');
  await guidePage.goto(threadUrl);

  // The first customer has the group open.
  const firstCtx = await context({ locale: 'fi-FI' });
  const first = await loggedIn(firstCtx, 'customer', env('OHJAUS_GROUP_FIRST'));
  await first.goto(group);
  if (await first.$('a[data-thread-id]')) fail('a customer is offered the group\'s threads');
  if (js) {
    await first.waitForSelector('ol[data-connected]', { state: 'attached' });
    await guidePage.waitForSelector('ol[data-connected]', { state: 'attached' });
    await markNotReloaded(first);
  }
  await guidePage.fill('#body', `Vain sinulle ${marker}`);
  if (js) {
    await markNotReloaded(guidePage);
    await guidePage.click('form[action$="/messages"] button[type=submit]');
    await guidePage.waitForSelector(`li.ohjaus-message:has-text("Vain sinulle ${marker}")`);
    if (!(await stillNotReloaded(guidePage))) fail('sending to a thread reloaded the guide\'s page');
    await first.waitForSelector(`li.ohjaus-message:has-text("Vain sinulle ${marker}")`, { timeout: 15000 });
    if (!(await stillNotReloaded(first))) fail('the customer\'s page was reloaded to show the thread\'s message');
  } else {
    await Promise.all([guidePage.waitForEvent('load'), guidePage.click('form[action$="/messages"] button[type=submit]')]);
    if (!guidePage.url().startsWith(threadUrl)) fail(`the thread's message led to ${guidePage.url()}`);
    await first.goto(group);
  }
  if (!(await first.textContent('main')).includes(`Vain sinulle ${marker}`)) fail('the customer does not see the message to her thread');
  await axe(first, 'group workspace, customer (fi)');

  // She answers; the guide's open thread shows it.
  await first.fill('#body', `Kiitos ${marker}`);
  await Promise.all([
    js ? first.waitForSelector(`li.ohjaus-message:has-text("Kiitos ${marker}")`) : first.waitForEvent('load'),
    first.click('form[action$="/messages"] button[type=submit]'),
  ]);
  if (js) {
    await guidePage.waitForSelector(`li.ohjaus-message:has-text("Kiitos ${marker}")`, { timeout: 15000 });
    if (!(await stillNotReloaded(guidePage))) fail('the guide\'s thread was reloaded to show the answer');
  } else {
    await guidePage.goto(threadUrl);
  }
  if (!(await guidePage.textContent('main')).includes(`Kiitos ${marker}`)) fail('the guide\'s thread does not show the answer');
  await firstCtx.close();

  // The thread to everyone and the second customer's thread do not show it.
  await guidePage.goto(group);
  if ((await guidePage.textContent('main')).includes(marker)) fail('the thread to everyone shows the first customer\'s conversation');
  const secondName = env('OHJAUS_GROUP_SECOND_NAME');
  await Promise.all([guidePage.waitForURL(/\?thread=/), guidePage.click(`a[data-thread-id]:has-text("${secondName}")`)]);
  if ((await guidePage.textContent('main')).includes(marker)) fail('the second customer\'s thread shows the first customer\'s conversation');
  await guideCtx.close();

  // The second customer sees nothing of it.
  const secondCtx = await context({ locale: 'fi-FI' });
  const second = await loggedIn(secondCtx, 'customer', env('OHJAUS_GROUP_SECOND'));
  await second.goto(group);
  if ((await second.textContent('main')).includes(marker)) fail('the second customer sees the first customer\'s thread');
  await secondCtx.close();
}
