// dashboard/test/browser.mjs: the dashboard in headless Chromium (Debian's
// chromium, driven by puppeteer-core), against billy-mcp-bridge --http and the
// sandbox's books.  Run by test/t/87-dashboard.t, which starts the bridge and
// passes: BASE (http://127.0.0.1:port), TOKEN, ORG_ID and ORG2_ID (two organizations the
// bridge's role sees), MONTH (the month of the
// sandbox's books), SANDBOX_CONTROL, SHOTS (where the screenshots go), CHROMIUM
// and the PG* settings (the SQL answers the page is compared with).
import { execFileSync } from 'node:child_process';
import { readFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';
import { ok, finish } from '../../test/mcp/tap.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { BASE, TOKEN, ORG_ID, ORG2_ID, MONTH, SANDBOX_CONTROL, SHOTS, CHROMIUM } = process.env;
mkdirSync(SHOTS, { recursive: true });

const sql = (query, ...args) => execFileSync('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
    ...args.flatMap((a, i) => ['-v', `a${i + 1}=${a}`])], { input: query, encoding: 'utf8' }).trim();
const sqlJson = (query, ...args) => JSON.parse(sql(query, ...args) || 'null');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const money = (v) => new Intl.NumberFormat('da-DK', { style: 'currency', currency: 'DKK' }).format(v);
const near = (a, b) => a !== '' && b != null && Math.abs(Number(a) - Number(b)) < 0.005;

const browser = await puppeteer.launch({
    executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check'],
});
const problems = [];
function watch(page, where) {
    page.on('console', (m) => {
        // the MCP client's GET /mcp (a server-to-client stream) gets 405 from a
        // stateless server, as the spec allows; Chromium logs every 4xx
        const probe = (where === 'host' && m.location()?.url?.endsWith('/mcp') && m.text().includes('405')) ||
            (where === 'polling page' && m.location()?.url?.endsWith('/events'));
        if (m.type() === 'error' && !probe) problems.push(`${where} console: ${m.text()} (${m.location()?.url})`);
    });
    page.on('pageerror', (e) => problems.push(`${where} page error: ${e.message}`));
    page.on('requestfailed', (r) => {
        if (!r.url().endsWith('/events')) problems.push(`${where} request failed: ${r.url()} ${r.failure()?.errorText}`);
    });
}

try {
    // ------------------------------------------------------------ the browser
    const page = await browser.newPage();
    watch(page, 'page');
    await page.setViewport({ width: 1280, height: 900 });

    // the first load puts the token in session storage; the next loads are
    // what a user sees: the best of three from navigation to every figure drawn
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
        await page.goto(`${BASE}/?month=${MONTH}&org=${ORG_ID}${i === 0 ? `#token=${TOKEN}` : ''}`);
        await page.waitForSelector('body[data-state=ready], body[data-state=error], body[data-state=token]', { timeout: 15000 });
        const ms = await page.evaluate(() => performance.now());
        best = Math.min(best, ms);
    }
    const state = await page.evaluate(() => document.body.dataset.state);
    ok(state === 'ready', 'the page loads and shows the figures', await page.evaluate(() => document.body.innerText.slice(0, 400)));
    // the speed target (< 2 s) is bench/dashboard/run's; a test on a shared
    // machine only reports the figure
    console.error(`# page ready in ${Math.round(best)} ms (best of three; bench/dashboard/run measures the target)`);

    // ------------------------------------------------------------ figures = SQL
    const org = await page.evaluate(() => document.body.dataset.org);
    ok(org === ORG_ID, 'the page shows the organization asked for (?org=)', org);
    const period = await page.$eval('#kpis', (e) => e.dataset.period);
    const kpis = await page.$$eval('[data-kpi]', (els) => els.map((e) => ({ key: e.dataset.kpi, value: e.dataset.value, text: e.querySelector('.v').textContent })));
    const summary = sqlJson(`SELECT to_jsonb(s) FROM billy.analytics_summary(:'a1', :'a2') s`, ORG_ID, period);
    ok(kpis.length >= 8, `the page shows ${kpis.length} KPIs for ${period}`);
    const wrong = kpis.filter((k) => !near(k.value, summary[k.key]));
    ok(wrong.length === 0, 'every KPI equals billy.analytics_summary for the same organization and period', { wrong, summary });
    const moneyKeys = ['net_revenue', 'previous_net_revenue', 'vat', 'outstanding', 'overdue', 'costs', 'margin'];
    const badText = kpis.filter((k) => moneyKeys.includes(k.key) && k.text !== money(summary[k.key]));
    ok(badText.length === 0, 'amounts are written da-DK in DKK (1.234,56 kr.)', badText);
    ok(summary.net_revenue > 0, `the month has revenue to show (${money(summary.net_revenue)})`);

    const vatPeriod = await page.$eval('#vat', (e) => e.dataset.period);
    const vat = await page.$$eval('[data-vat]', (els) => els.map((e) => ({ key: e.dataset.vat, value: e.dataset.value })));
    const ret = sqlJson(`SELECT to_jsonb(r) FROM billy.vat_return(:'a1', :'a2') r`, ORG_ID, vatPeriod);
    ok(vat.length === 3 && vat.every((v) => near(v.value, ret[v.key])), `the VAT card equals billy.vat_return for ${vatPeriod}`, { vat, ret });
    const deadline = sql(`SELECT deadline FROM billy.vat_periods(:'a1', :'a2'::int) WHERE period = :'a3'`, ORG_ID, vatPeriod.slice(0, 4), vatPeriod);
    const shownDeadline = await page.$eval('#vat dl', (dl) => [...dl.children].find((e, i, a) => a[i - 1]?.textContent === 'Frist')?.textContent);
    ok(shownDeadline === new Intl.DateTimeFormat('da-DK', { day: 'numeric', month: 'long', year: 'numeric' }).format(new Date(`${deadline}T12:00:00`)),
        `the VAT deadline is billy.vat_periods's, written da-DK (${shownDeadline})`, { shownDeadline, deadline });

    const agingTotal = await page.$eval('#aging', (e) => e.dataset.total);
    const aging = sql(`SELECT total FROM billy.receivables_aging(:'a1', (date_trunc('month', :'a2'::date) + interval '1 month - 1 day')::date) WHERE contact_id IS NULL`, ORG_ID, `${MONTH}-01`);
    ok(near(agingTotal, aging), `receivables aging equals billy.receivables_aging (${money(aging)})`, { agingTotal, aging });
    const top = await page.$$eval('#top tbody tr', (trs) => trs.map((t) => t.dataset.contact));
    const sqlTop = sqlJson(`SELECT jsonb_agg(t->>'contact_id') FROM jsonb_array_elements(billy.customer_insights(:'a1', 5,
        (date_trunc('month', :'a2'::date) - interval '11 months')::date, (date_trunc('month', :'a2'::date) + interval '1 month - 1 day')::date)->'top') t`, ORG_ID, `${MONTH}-01`);
    ok(top.length > 0 && JSON.stringify(top) === JSON.stringify(sqlTop), 'top customers are billy.customer_insights\'s, in order', { top, sqlTop });

    // ------------------------------------------------------------ the picker
    const pickable = await page.$$eval('#org option', (os) => os.map((o) => o.value));
    ok(pickable.includes(ORG_ID) && pickable.includes(ORG2_ID), `the organization picker offers both organizations (${pickable.length})`, pickable);
    const loadsBefore = Number(await page.evaluate(() => document.body.dataset.loads));
    await page.select('#org', ORG2_ID);
    await page.waitForFunction((n) => Number(document.body.dataset.loads) > n && document.body.dataset.state === 'ready', { timeout: 10000 }, loadsBefore);
    const other = await page.$$eval('[data-kpi]', (els) => Object.fromEntries(els.map((e) => [e.dataset.kpi, e.dataset.value])));
    const otherSql = sqlJson(`SELECT to_jsonb(s) FROM billy.analytics_summary(:'a1', :'a2') s`, ORG2_ID, period);
    ok(Object.keys(other).length >= 8 && Object.entries(other).every(([k, v]) => near(v, otherSql[k])) && otherSql.net_revenue !== summary.net_revenue,
        'picking the other organization shows its figures (billy.analytics_summary for it)', { other, otherSql });
    await page.select('#org', ORG_ID);
    await page.waitForFunction((n) => Number(document.body.dataset.loads) > n + 1 && document.body.dataset.state === 'ready', { timeout: 10000 }, loadsBefore);

    // ------------------------------------------------------------ charts drew
    const charts = await page.evaluate(() => Object.fromEntries(Object.entries(window.billyDashboard.charts).map(([k, u]) => {
        const c = u.ctx.canvas;
        const px = u.ctx.getImageData(0, 0, c.width, c.height).data;
        let blue = 0;
        for (let i = 0; i < px.length; i += 4) if (px[i] === 0x25 && px[i + 1] === 0x63 && px[i + 2] === 0xeb) blue++;
        return [k, { points: u.data[1].filter((v) => v != null && v !== 0).length, series: u.series.length, blue }];
    })));
    ok(charts.trend?.points >= 6 && charts.trend.blue > 500, `the revenue chart drew ${charts.trend?.points} months of bars`, charts);
    ok(charts.aging?.points >= 1 && charts.aging.blue > 200, 'the aging chart drew its bars', charts);
    const forecast = await page.evaluate(() => window.billyDashboard.charts.trend.data[3].filter((v) => v != null).length);
    ok(forecast >= 6, `the forecast and its band are on the revenue chart (${forecast} months)`);
    await page.screenshot({ path: join(SHOTS, 'desktop.png'), fullPage: true });

    // ------------------------------------------------------------ live
    // an upstream change, a sync, and the page follows without a reload
    await page.evaluate(() => { window.notReloaded = true; });
    const live = await page.waitForFunction(() => window.billyDashboard.live, { timeout: 5000 }).then(() => true, () => false);
    ok(live, 'the page follows the bridge\'s event stream (/events)');
    const before = await page.$eval('[data-kpi=outstanding]', (e) => e.dataset.value);
    const mutated = await (await fetch(`${SANDBOX_CONTROL}/mutate`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ org: ORG_ID, n: 1, kinds: ['pay'] }),
    })).json();
    const t0 = Date.now();
    sql(`SET client_min_messages = warning; SELECT count(*) FROM billy.sync_now(:'a1')`, ORG_ID);
    const after = sql(`SELECT outstanding FROM billy.analytics_summary(:'a1', :'a2')`, ORG_ID, period);
    ok(!near(before, after), `the mutation (${mutated.changes?.[0]?.kind}) changed what is outstanding (${money(before)} -> ${money(after)})`);
    const shown = await page.waitForFunction((v) => Math.abs(Number(document.querySelector('[data-kpi=outstanding]').dataset.value) - v) < 0.005,
        { timeout: 5000, polling: 50 }, Number(after)).then(() => true, () => false);
    const took = Date.now() - t0;
    ok(shown && took < 5000, `the page shows the new figure ${took} ms after the sync began, without a reload`);
    ok(await page.evaluate(() => window.notReloaded === true), 'the page was not reloaded');

    // ------------------------------------------------------------ polling
    // the same without the event stream (a proxy that buffers it, say): the
    // page polls and still shows the new figure
    const pp = await browser.newPage();
    watch(pp, 'polling page');
    await pp.setRequestInterception(true);
    pp.on('request', (r) => (r.url().endsWith('/events') ? r.abort() : r.continue()));
    await pp.goto(`${BASE}/?month=${MONTH}&org=${ORG_ID}#token=${TOKEN}`);
    await pp.waitForSelector('body[data-state=ready]', { timeout: 15000 });
    await sleep(500);
    await fetch(`${SANDBOX_CONTROL}/mutate`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ org: ORG_ID, n: 1, kinds: ['pay'] }),
    });
    const t1 = Date.now();
    sql(`SET client_min_messages = warning; SELECT count(*) FROM billy.sync_now(:'a1')`, ORG_ID);
    const polled = sql(`SELECT outstanding FROM billy.analytics_summary(:'a1', :'a2')`, ORG_ID, period);
    const followed = await pp.waitForFunction((v) => Math.abs(Number(document.querySelector('[data-kpi=outstanding]').dataset.value) - v) < 0.005,
        { timeout: 10000, polling: 100 }, Number(polled)).then(() => true, () => false);
    ok(followed && !(await pp.evaluate(() => window.billyDashboard.live)),
        `without the event stream the page polls: the new figure after ${Date.now() - t1} ms`);
    await pp.close();

    // ------------------------------------------------------------ phone
    await page.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    await page.reload();
    await page.waitForSelector('body[data-state=ready]', { timeout: 15000 });
    await sleep(200);
    const widths = await page.evaluate(() => [document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]);
    ok(widths[0] <= widths[2] && widths[1] <= widths[2], `390x844: no horizontal scroll (scroll width ${widths[0]}, viewport ${widths[2]})`, widths);
    const phoneChart = await page.evaluate(() => window.billyDashboard.charts.trend.width);
    ok(phoneChart <= 390, `390x844: the charts fit the screen (${phoneChart} px)`);
    await page.screenshot({ path: join(SHOTS, 'phone.png'), fullPage: true });

    // ------------------------------------------------------------ no token
    const anon = await browser.createBrowserContext();
    const fresh = await anon.newPage();
    await fresh.goto(`${BASE}/`);
    await fresh.waitForSelector('body[data-state=token]', { timeout: 10000 });
    ok(await fresh.$eval('#login', (f) => !f.hidden), 'without a token the page asks for one and shows no figures');
    await anon.close();

    // ------------------------------------------------------------ MCP Apps host
    // a host page (the ext-apps SDK's AppBridge and the MCP client) on the
    // bridge's origin, as a chat client would host the app
    const hostHtml = readFileSync(join(here, '..', 'dist', 'host.html'), 'utf8');
    const hp = await browser.newPage();
    watch(hp, 'host');
    await hp.setRequestInterception(true);
    hp.on('request', (r) => (r.url().startsWith(`${BASE}/__test_host`)
        ? r.respond({ status: 200, contentType: 'text/html; charset=utf-8', body: hostHtml }) : r.continue()));
    await hp.setViewport({ width: 1100, height: 900 });
    await hp.goto(`${BASE}/__test_host?token=${encodeURIComponent(TOKEN)}&org=${ORG2_ID}&month=${MONTH}`);
    await hp.waitForFunction(() => document.body.dataset.state === 'initialized' || document.body.dataset.state?.startsWith('failed'), { timeout: 15000 });
    const hostState = await hp.evaluate(() => ({ state: document.body.dataset.state, log: window.hostLog }));
    ok(hostState.state === 'initialized', 'an MCP Apps host (ext-apps AppBridge) renders ui://billy/dashboard and the app initializes', hostState);
    ok(hostState.log.resource?.mimeType === 'text/html;profile=mcp-app', `resources/read gives the app as text/html;profile=mcp-app (${hostState.log.resource?.bytes} bytes)`, hostState.log.resource);
    const frame = hp.frames().find((f) => f !== hp.mainFrame());
    const inHost = await frame.waitForSelector('body[data-state=ready]', { timeout: 15000 }).then(() => true, () => false);
    const calls = await hp.evaluate(() => window.hostLog.calls);
    ok(inHost && calls.length >= 8 && calls.every((c) => !c.isError),
        `inside the host the app called ${calls.length} tools through the host, all answered`, calls);
    const hostKpi = await frame.$eval('[data-kpi=net_revenue]', (e) => e.dataset.value);
    const hostPeriod = await frame.$eval('#kpis', (e) => e.dataset.period);
    const hostOrg = await frame.evaluate(() => document.body.dataset.org);
    const hostMonth = await frame.$eval('#month', (e) => e.value);
    ok(hostOrg === ORG2_ID && hostMonth === MONTH, `the app opens on what show_dashboard was asked for (the other organization, ${MONTH})`, { hostOrg, hostMonth });
    ok(near(hostKpi, sql(`SELECT net_revenue FROM billy.analytics_summary(:'a1', :'a2')`, hostOrg, hostPeriod)),
        'inside the host the figures are billy\'s too', { hostOrg, hostKpi });
    ok(await frame.evaluate(() => document.body.dataset.host) === 'mcp-apps', 'the app knows it is hosted (no token asked, no network of its own)');
    await hp.screenshot({ path: join(SHOTS, 'mcp-apps-host.png') });

    ok(problems.length === 0, 'no console errors, page errors or failed requests', problems);
} catch (e) {
    ok(false, 'the browser test ran to the end', String(e?.stack || e));
} finally {
    await browser.close();
}
finish();
