// The contact form in Debian's headless Chromium, driven by playwright-core: a page of another
// local origin (an organisation's website) embeds the form with the one-line snippet; the form
// grows its iframe by message; sent empty it shows its error state; filled in the iframe, the
// page's own script solves the proof of work and the receipt appears in the frame. The same
// form on its own page is filled and sent with the keyboard only. axe-core checks the form in
// Finnish, Swedish and English, its error state and the receipt (WCAG 2.1 A/AA tags), and every
// request is recorded: the form's frame loads nothing but from us.
// Then the people's pages: the main user (dev IdP login) reads the form editor and its embed
// snippet; the advisor finds the queue in the navigation, adds a canned answer, claims the
// keyboard's question and replies from the canned answer with the keyboard alone, and turns a
// second question (sent before, with another address) into a workspace owned by a guide she
// names. axe-core checks the queue, submission, canned-answer and editor pages in fi, sv and en.
// Input (environment): OHJAUS_BASE (the gateway), OHJAUS_HOST (the embedding page), OHJAUS_FORM
// (the form's id), OHJAUS_MARKER (a text to ask), OHJAUS_ORG (the organisation), OHJAUS_ADMIN and
// OHJAUS_ADVISOR (their dev IdP login hints), OHJAUS_GUIDE (the guide's person id), OHJAUS_SECOND
// (the address of the question sent before); CHROMIUM (default /usr/bin/chromium).
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
const org = env('OHJAUS_ORG');
const checked = { axe: [], requests: 0, sent: 0, resized: false, framing: false, replied: false, converted: false, keyboardReply: false };
const fail = (what) => failures.push(what);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

async function context({ login = false, ...options }) {
  const ctx = await browser.newContext(options);
  ctx.on('request', (request) => {
    checked.requests += 1;
    const target = new URL(request.url()).origin;
    // The embedding page loads the snippet from us; anything else goes to us or to that page
    // (a person's login goes through the development identity provider's own page).
    const viaLogin = login && new URL(request.url()).pathname === '/authorize' && request.isNavigationRequest();
    if (target !== ours && target !== theirs && target !== new URL(stranger).origin && !viaLogin) {
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

/// Logs in with the development provider's test identity `hint` in a new page of `ctx`.
async function loggedIn(ctx, hint) {
  const page = await ctx.newPage();
  await page.goto(`${base}/auth/login/dev?intent=expert&return_to=/app&login_hint=${hint}`);
  await page.waitForURL(`${base}/app`);
  return page;
}

/// Presses Tab until `selector` has the focus (checking first: a fragment may have put it there).
async function focusByTab(page, selector) {
  for (let i = 0; i < 120; i += 1) {
    if (await page.evaluate((s) => document.activeElement && document.activeElement.matches(s), selector)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached ${selector} on ${page.url()}`);
}

/// The page at `path` in each language, checked by axe.
async function axeLanguages(page, path, label) {
  for (const lang of ['fi', 'sv', 'en']) {
    const sep = path.includes('?') ? '&' : '?';
    const response = await page.goto(`${base}${path}${sep}lang=${lang}`);
    if (response.status() !== 200) fail(`${label} (${lang}): status ${response.status()}`);
    if ((await page.getAttribute('html', 'lang')) !== lang) fail(`${label} (${lang}): wrong html lang`);
    await axe(page, `${label} (${lang})`);
  }
  await page.goto(`${base}${path}${path.includes('?') ? '&' : '?'}lang=fi`);
}

/// The submission of the queue whose page shows `text` (the list itself holds no content).
async function submissionShowing(page, text) {
  await page.goto(`${base}/app/organisations/${org}/queue`);
  const links = await page.$$eval('a[href^="/app/submissions/"]', (as) => as.map((a) => a.getAttribute('href')));
  for (const href of links) {
    await page.goto(`${base}${href}`);
    if ((await page.innerText('main')).includes(text)) return href;
  }
  throw new Error(`no submission in the queue shows ${text}`);
}

async function editor() {
  const ctx = await context({ bypassCSP: true, locale: 'fi-FI', login: true });
  const page = await loggedIn(ctx, env('OHJAUS_ADMIN'));
  const forms = `/app/organisations/${org}/forms`;
  if (!(await page.$(`nav a[href="${forms}"]`))) fail('the main user has no navigation entry to the forms');
  await axeLanguages(page, forms, 'forms list');
  await axeLanguages(page, `${forms}/${form}`, 'form editor');
  const snippet = await page.innerText('#snippet');
  if (!snippet.includes(`data-form="${form}"`) || !snippet.includes('/forms/embed.js')) fail(`snippet: ${snippet}`);
  // A refused definition names the field at its input.
  await page.fill('#f0_key', 'ei kelpaa');
  await Promise.all([page.waitForSelector('#f0_key-error'), page.click('#save-form')]);
  await axe(page, 'form editor, refused (fi)');
  await ctx.close();
}

async function advisor() {
  const ctx = await context({ bypassCSP: true, locale: 'fi-FI', login: true });
  const page = await loggedIn(ctx, env('OHJAUS_ADVISOR'));
  const queuePath = `/app/organisations/${org}/queue`;
  if (!(await page.$(`nav a[href="${queuePath}"]`))) fail('the advisor has no navigation entry to the queue');
  await axeLanguages(page, queuePath, 'queue');
  await axeLanguages(page, `${queuePath}?status=new`, 'queue, filtered');

  // A canned answer for the library, with Swedish text (the keyboard's visitor wrote in Swedish).
  await page.goto(`${base}/app/organisations/${org}/canned-answers`);
  await Promise.all([page.waitForSelector('.govuk-error-summary'), page.click('#add-canned')]);
  await axe(page, 'canned answers, refused (fi)');
  await page.fill('#title', 'Ajanvaraus');
  await page.fill('#text_fi', 'Varaa aika velkaneuvontaan.');
  await page.fill('#text_sv', 'Boka en tid hos skuldrådgivningen.');
  await page.check('#topic-finances');
  await Promise.all([page.waitForURL(/canned-answers/), page.click('#add-canned')]);
  if (!(await page.innerText('main')).includes('Ajanvaraus')) fail('the canned answer is not listed');
  await axeLanguages(page, `/app/organisations/${org}/canned-answers`, 'canned answers');

  // The keyboard's question: claimed and answered from the canned answer, keyboard only.
  const keyboard = await submissionShowing(page, `Tangentbordet ${marker}`);
  await axeLanguages(page, keyboard, 'submission');
  await page.goto(`${base}${keyboard}`);
  await focusByTab(page, '#claim');
  await Promise.all([page.waitForURL(/done=claim/), page.keyboard.press('Enter')]);
  await focusByTab(page, '#use-canned');
  await Promise.all([page.waitForURL(/canned=/), page.keyboard.press('Enter')]);
  const drafted = await page.inputValue('#reply');
  if (!drafted.includes('Boka en tid')) fail(`the reply did not start from the Swedish canned answer: ${drafted}`);
  await focusByTab(page, '#reply');
  await page.keyboard.press('Control+End');
  await page.keyboard.type(` Välkommen! REPLY-${marker}`);
  await focusByTab(page, '#send-reply');
  await Promise.all([page.waitForURL(/done=reply/), page.keyboard.press('Enter')]);
  checked.keyboardReply = true;
  if ((await page.getAttribute('#submission-status', 'data-status')) !== 'answered') fail('the reply did not answer it');
  if (!(await page.innerText('#replies ~ .ohjaus-message')).includes(`REPLY-${marker}`)) fail('the reply is not kept');
  checked.replied = true;
  await axe(page, 'submission, answered (fi)');

  // The question sent before becomes a workspace owned by the guide the advisor names.
  const second = await submissionShowing(page, env('OHJAUS_SECOND'));
  await page.fill('#note', 'Ohjataan velkaneuvojalle.');
  await Promise.all([page.waitForURL(/done=note/), page.click('#add-note')]);
  await page.selectOption('#owner', env('OHJAUS_GUIDE'));
  await Promise.all([page.waitForURL(/done=convert/), page.click('#convert-send')]);
  if ((await page.getAttribute('#submission-status', 'data-status')) !== 'converted') fail('not converted');
  checked.converted = true;
  await axe(page, 'submission, converted (fi)');
  await page.goto(`${base}${queuePath}?status=converted`);
  const rows = await page.$$('a[href^="/app/submissions/"]');
  if (rows.length !== 1) fail(`the converted filter shows ${rows.length} rows`);
  await ctx.close();
}

try {
  await framing();
  await embedded();
  await keyboardOnly();
  await editor();
  await advisor();
} catch (error) {
  fail(`${error.stack || error}`);
}
await browser.close();
console.log(JSON.stringify({ ...checked, failures }));
process.exit(failures.length ? 1 : 0);
