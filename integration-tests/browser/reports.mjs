// The reports page (issue 15) in Debian's headless Chromium, driven by playwright-core: the
// operator logs in with the development provider, opens the platform's report and an
// organisation's report for a period in Finnish, Swedish and English; axe-core checks each
// (WCAG 2.1 A/AA tags); every chart is an SVG with a title and a description beside a table;
// the CSV download marks suppressed cells. Nothing is loaded from anyone but us.
// Input (environment): OHJAUS_BASE (the gateway), OHJAUS_PERIOD, OHJAUS_ORG (an organisation's
// id); CHROMIUM (default /usr/bin/chromium).
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
const period = env('OHJAUS_PERIOD');
const org = env('OHJAUS_ORG');
const ours = new URL(base).origin;

const failures = [];
const checked = { axe: [], charts: 0, csv: false };
const fail = (what) => failures.push(what);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

async function axe(page, label) {
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

try {
  const ctx = await browser.newContext({ locale: 'fi-FI' });
  const page = await ctx.newPage();
  // The login goes through the development provider (another local origin); after it, the
  // report pages ask nobody but us.
  await page.goto(`${base}/auth/login/dev?intent=expert&return_to=/app&login_hint=operaattori`);
  await page.waitForURL(`${base}/app/operator`);
  ctx.on('request', (request) => {
    const target = new URL(request.url()).origin;
    if (target !== ours && !request.url().startsWith('data:')) fail(`request to ${target}`);
  });
  for (const scope of ['', org]) {
    for (const lang of ['fi', 'sv', 'en']) {
      const query = `period=${encodeURIComponent(period)}${scope ? `&organization=${scope}` : ''}&lang=${lang}`;
      const response = await page.goto(`${base}/app/reports?${query}`);
      if (response.status() !== 200) fail(`${query}: ${response.status()}`);
      await axe(page, `report ${scope ? 'organisation' : 'platform'} (${lang})`);
      const charts = await page.locator('svg[role=img]').count();
      const described = await page.locator('svg[role=img] > title + desc').count();
      const tables = await page.locator('table.govuk-table').count();
      if (charts === 0 || charts !== described || charts !== tables) {
        fail(`${query}: ${charts} charts, ${described} with title and description, ${tables} tables`);
      }
      checked.charts += charts;
    }
  }
  const csv = await page.request.get(`${base}/api/v1/reports/csv?period=${encodeURIComponent(period)}`);
  const text = await csv.text();
  if (csv.status() !== 200 || !text.includes('suppressed') || !text.startsWith('period,place,kind')) {
    fail(`csv ${csv.status()}: ${text.slice(0, 200)}`);
  } else {
    checked.csv = true;
  }
} catch (error) {
  fail(String(error && error.stack ? error.stack : error));
} finally {
  await browser.close();
}

console.log(JSON.stringify({ failures, ...checked }));
process.exit(failures.length ? 1 : 0);
