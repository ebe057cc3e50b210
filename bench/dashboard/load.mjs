// bench/dashboard/load.mjs: loads the dashboard LOADS times in headless
// Chromium and prints p50/max of navigation -> ready, with two baselines from
// the same run: the span of the page's /mcp requests and an empty page's
// navigation.  Run by bench/dashboard/run (from dashboard/, for its packages).
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

// puppeteer-core from dashboard/'s pinned packages (the working directory)
const pptr = await import(pathToFileURL(createRequire(`${process.cwd()}/`).resolve('puppeteer-core')).href);
const puppeteer = pptr.default ?? pptr;

const { BASE, TOKEN, ORG_ID, MONTH, LOADS, CHROMIUM } = process.env;
const loads = Number(LOADS || 9);
const p50 = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const max = (xs) => Math.max(...xs);

const browser = await puppeteer.launch({
    executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
});
let failed = false;
try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    const ready = [], data = [], blank = [];
    // the first load puts the token in session storage and warms the caches
    for (let i = 0; i <= loads; i++) {
        await page.goto(`${BASE}/?month=${MONTH}&org=${ORG_ID}${i === 0 ? `#token=${TOKEN}` : ''}`);
        await page.waitForSelector('body[data-state=ready], body[data-state=error], body[data-state=token]',
            { timeout: 30000 });
        const state = await page.evaluate(() => document.body.dataset.state);
        if (state !== 'ready') throw new Error(`the page ended in state "${state}", not ready`);
        const [t, span] = await page.evaluate(() => {
            const mcp = performance.getEntriesByType('resource').filter((e) => e.name.endsWith('/mcp'));
            return [performance.now(), mcp.length
                ? Math.max(...mcp.map((e) => e.responseEnd)) - Math.min(...mcp.map((e) => e.startTime)) : 0];
        });
        if (i > 0) { ready.push(t); data.push(span); }
        const b0 = Date.now();
        await page.goto('data:text/html,<!doctype html><title>x</title><p>x</p>');
        if (i > 0) blank.push(Date.now() - b0);
    }
    const r = p50(ready), d = p50(data), b = p50(blank);
    console.log(`  ready (navigation -> every figure drawn)  p50 ${r.toFixed(0)} ms   max ${max(ready).toFixed(0)} ms   (target p50 < 2000 ms: ${r < 2000 ? 'met' : 'NOT met'})`);
    console.log(`  baseline: the page's /mcp requests, span  p50 ${d.toFixed(0)} ms   ready/data ${(r / d).toFixed(2)}x`);
    console.log(`  baseline: an empty page's navigation      p50 ${b.toFixed(0)} ms   ready/empty ${(r / b).toFixed(1)}x`);
} catch (e) {
    console.error(`bench/dashboard: ${e.message}`);
    failed = true;
} finally {
    await browser.close();
}
process.exit(failed ? 1 : 0);
