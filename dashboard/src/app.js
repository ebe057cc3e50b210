// billy's dashboard.  Every figure comes from billy's MCP tools, called
// either on /mcp of the bridge that served this page (the browser: bearer
// token from session storage; live through the bridge's /events stream) or
// through the host's ext-apps bridge (inside an AI chat, as the MCP App
// ui://billy/dashboard).  Nothing is computed here that billy computes.
import uPlot from 'uplot';

const $ = (id) => document.getElementById(id);
// session storage, when the page has it (a sandboxed iframe has none)
const store = {
    get(k) { try { return sessionStorage.getItem(k); } catch { return null; } },
    set(k, v) { try { sessionStorage.setItem(k, v); } catch { /* not kept */ } },
};
const inHost = window.parent !== window;
const state = { orgs: [], org: null, month: null, currency: 'DKK', charts: {}, data: {}, loads: 0, live: false, lastSync: null };
window.billyDashboard = state;          // for the browser tests and the curious

// ------------------------------------------------------------ formats (da-DK)
const fmt = {
    money(v) {
        return v == null ? '–' : new Intl.NumberFormat('da-DK', { style: 'currency', currency: state.currency }).format(v);
    },
    compact(v) {
        return new Intl.NumberFormat('da-DK', { notation: 'compact', maximumFractionDigits: 1 }).format(v);
    },
    int(v) { return v == null ? '–' : new Intl.NumberFormat('da-DK').format(v); },
    pct(v, sign = true) {
        return v == null ? '–' : new Intl.NumberFormat('da-DK', { maximumFractionDigits: 1, signDisplay: sign ? 'exceptZero' : 'auto' }).format(v) + ' %';
    },
    date(s) {
        return s ? new Intl.DateTimeFormat('da-DK', { day: 'numeric', month: 'long', year: 'numeric' }).format(new Date(s + 'T12:00:00')) : '–';
    },
    month(ts) { return new Intl.DateTimeFormat('da-DK', { month: 'short', year: '2-digit' }).format(new Date(ts * 1000)); },
    time(iso) {
        return new Intl.DateTimeFormat('da-DK', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' }).format(new Date(iso));
    },
};

// ------------------------------------------------------------ dates
const pad = (n) => String(n).padStart(2, '0');
const today = () => { const d = new Date(); return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`; };
const thisMonth = () => today().slice(0, 7);
function monthStart(m, add = 0) {
    const [y, mo] = m.split('-').map(Number);
    const d = new Date(Date.UTC(y, mo - 1 + add, 1));
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-01`;
}
function monthEnd(m) {
    const [y, mo] = m.split('-').map(Number);
    return `${y}-${pad(mo)}-${pad(new Date(Date.UTC(y, mo, 0)).getUTCDate())}`;
}
const ts = (date) => Date.UTC(+date.slice(0, 4), +date.slice(5, 7) - 1, 1) / 1000;

// ------------------------------------------------------------ calling tools
let callTool;
let rpcId = 0;
const TOKEN_KEY = 'billy-mcp-token';

class Unauthorized extends Error {}

async function callOverHttp(name, args) {
    const token = store.get(TOKEN_KEY);
    if (!token) throw new Unauthorized('no token');
    const res = await fetch('/mcp', {
        method: 'POST',
        headers: {
            'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
            Authorization: `Bearer ${token}`, 'MCP-Protocol-Version': '2025-11-25',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: ++rpcId, method: 'tools/call', params: { name, arguments: args } }),
    });
    if (res.status === 401) throw new Unauthorized('the bridge refused the token');
    const msg = await res.json();
    if (msg.error) throw new Error(`${name}: ${msg.error.message}`);
    return msg.result;
}

// the answer's figures: structuredContent, else the JSON text it mirrors
function figures(name, result) {
    if (result.isError) {
        const text = (result.content || []).map((c) => c.text).join(' ');
        throw new Error(`${name}: ${text}`);
    }
    if (result.structuredContent !== undefined) return result.structuredContent;
    const text = (result.content || []).find((c) => c.type === 'text');
    return text ? JSON.parse(text.text) : {};
}
async function tool(name, args = {}) {
    if (state.org) args = { organization: state.org, ...args };
    return figures(name, await callTool(name, args));
}
// row sets come as {rows: [...]}; a compact answer may be the array or the object itself
const rows = (sc) => Array.isArray(sc) ? sc : Array.isArray(sc?.rows) ? sc.rows : Array.isArray(sc?.items) ? sc.items : sc ? [sc] : [];
const one = (sc) => rows(sc)[0] || {};

// ------------------------------------------------------------ sections
function kpi(key, label, value, text, delta) {
    const el = document.createElement('div');
    el.className = 'kpi';
    el.dataset.kpi = key;
    el.dataset.value = value == null ? '' : String(value);
    el.innerHTML = '<h3></h3><div class="v"></div><div class="d"></div>';
    el.querySelector('h3').textContent = label;
    el.querySelector('.v').textContent = text;
    if (delta) {
        el.querySelector('.d').textContent = delta.text;
        if (delta.cls) el.querySelector('.d').classList.add(delta.cls);
    }
    return el;
}

function summaryPeriod() {
    // this month: to date, against the same days of last month; an earlier month: whole
    return state.month === thisMonth() ? 'month' : `${monthStart(state.month)}..${monthEnd(state.month)}`;
}

async function loadSummary() {
    const period = summaryPeriod();
    const s = one(await tool('get_analytics_summary', { period }));
    state.data.summary = s;
    if (s.currency) state.currency = s.currency;
    const change = s.net_change_pct;
    const box = $('kpis');
    box.dataset.period = period;
    box.replaceChildren(
        kpi('net_revenue', 'Omsætning (netto)', s.net_revenue, fmt.money(s.net_revenue),
            { text: `${fmt.pct(change)} mod forrige periode`, cls: change > 0 ? 'up' : change < 0 ? 'down' : '' }),
        kpi('previous_net_revenue', 'Forrige periode', s.previous_net_revenue, fmt.money(s.previous_net_revenue),
            { text: `${fmt.date(s.previous_start)} – ${fmt.date(s.previous_end)}` }),
        kpi('vat', 'Moms af salg', s.vat, fmt.money(s.vat), { text: `brutto ${fmt.money(s.gross_revenue)}` }),
        kpi('invoices', 'Fakturaer', s.invoices, fmt.int(s.invoices),
            { text: `${fmt.int(s.customers)} kunder · gns. ${fmt.money(s.average_invoice)}` }),
        kpi('outstanding', 'Udestående', s.outstanding, fmt.money(s.outstanding),
            { text: `${fmt.int(s.outstanding_invoices)} fakturaer` }),
        kpi('overdue', 'Forfaldent', s.overdue, fmt.money(s.overdue),
            { text: `${fmt.int(s.overdue_invoices)} fakturaer`, cls: s.overdue > 0 ? 'down' : '' }),
        kpi('costs', 'Omkostninger', s.costs, fmt.money(s.costs), { text: 'fra regninger' }),
        kpi('margin', 'Dækningsbidrag', s.margin, fmt.money(s.margin),
            { text: `margin ${fmt.pct(s.margin_pct, false)}`, cls: s.margin < 0 ? 'down' : '' }),
    );
}

function chartSize(el, height) {
    return { width: Math.max(200, el.clientWidth), height };
}

function draw(key, el, opts, data) {
    if (state.charts[key]) state.charts[key].destroy();
    el.replaceChildren();
    state.charts[key] = new uPlot({ ...chartSize(el, opts.height), ...opts }, data, el);
}

async function loadTrend() {
    const from = monthStart(state.month, -11);
    const to = monthEnd(state.month);
    const [trend, forecast] = await Promise.all([
        tool('get_revenue_trends', { from, to, grain: 'month' }),
        tool('forecast_revenue', { horizon: 6, grain: 'month' }),
    ]);
    const t = rows(trend);
    const f = rows(forecast);
    state.data.trend = t;
    state.data.forecast = f;
    const byTs = new Map();
    const at = (date) => {
        const k = ts(date);
        if (!byTs.has(k)) byTs.set(k, { net: null, vat: null, fc: null, lo: null, hi: null });
        return byTs.get(k);
    };
    for (const r of t) Object.assign(at(r.period_start), { net: r.net, vat: r.vat });
    for (const r of f) Object.assign(at(r.period_start), { fc: r.forecast, lo: r.lower_80, hi: r.upper_80 });
    // every month from the first to the last, gaps included (no books yet, or the forecast ahead)
    const known = [...byTs.keys()].sort((a, b) => a - b);
    const xs = [];
    for (let d = new Date(known[0] * 1000); known.length && d.getTime() / 1000 <= known[known.length - 1]; d.setUTCMonth(d.getUTCMonth() + 1)) {
        const x = d.getTime() / 1000;
        if (!byTs.has(x)) byTs.set(x, { net: null, vat: null, fc: null, lo: null, hi: null });
        xs.push(x);
    }
    const col = (k) => xs.map((x) => byTs.get(x)[k]);
    const bars = uPlot.paths.bars;
    const el = $('trend');
    draw('trend', el, {
        height: 260,
        scales: { x: { time: false } },
        axes: [
            // a label on month starts only, as many as fit
            { values: (u, v) => v.map((x) => fmt.month(x)),
              splits: (u) => { const step = Math.ceil(xs.length * 60 / Math.max(u.bbox.width / devicePixelRatio, 1)); return xs.filter((_, i) => i % step === 0); } },
            { values: (u, v) => v.map(fmt.compact), size: 56 },
        ],
        series: [
            { label: 'Måned', value: (u, v) => v == null ? '' : fmt.month(v) },
            { label: 'Netto', fill: '#2563eb', stroke: '#2563eb', paths: bars({ size: [0.4, 40], align: -1 }), points: { show: false }, value: (u, v) => fmt.money(v) },
            { label: 'Moms', fill: '#f59e0b', stroke: '#f59e0b', paths: bars({ size: [0.4, 40], align: 1 }), points: { show: false }, value: (u, v) => fmt.money(v) },
            { label: 'Prognose', stroke: '#7c3aed', width: 2, dash: [6, 4], value: (u, v) => fmt.money(v) },
            { label: 'Lav (80 %)', stroke: 'rgba(124,58,237,0.35)', width: 1, value: (u, v) => fmt.money(v) },
            { label: 'Høj (80 %)', stroke: 'rgba(124,58,237,0.35)', width: 1, value: (u, v) => fmt.money(v) },
        ],
        bands: [{ series: [5, 4], fill: 'rgba(124,58,237,0.12)' }],
    }, [xs, col('net'), col('vat'), col('fc'), col('lo'), col('hi')]);
}

const AGES = [['not_due', 'Ikke forfalden', 'Ikke forf.'], ['days_1_30', '1–30 dage', '1–30'], ['days_31_60', '31–60', '31–60'],
    ['days_61_90', '61–90', '61–90'], ['over_90', 'Over 90', '> 90']];

async function loadAging() {
    const asOf = state.month === thisMonth() ? undefined : monthEnd(state.month);
    const all = rows(await tool('get_receivables_aging', asOf ? { as_of: asOf } : {}));
    const total = all.find((r) => r.contact_id == null) || all[0] || {};
    state.data.aging = total;
    const el = $('aging');
    el.dataset.total = total.total ?? '';
    draw('aging', el, {
        height: 200,
        legend: { show: false },
        scales: { x: { time: false, range: [-0.5, AGES.length - 0.5] } },
        axes: [
            { values: (u, v) => v.map((i) => AGES[i]?.[u.width < 480 ? 2 : 1] ?? ''), splits: () => AGES.map((_, i) => i), grid: { show: false } },
            { values: (u, v) => v.map(fmt.compact), size: 56 },
        ],
        series: [{}, { label: 'Beløb', fill: '#2563eb', stroke: '#2563eb', paths: uPlot.paths.bars({ size: [0.6, 60] }), points: { show: false } }],
    }, [AGES.map((_, i) => i), AGES.map(([k]) => Number(total[k] ?? 0))]);
    $('aging-note').textContent = `I alt ${fmt.money(total.total)} på ${fmt.int(total.documents)} fakturaer` +
        (total.dso != null ? ` · DSO ${fmt.int(total.dso)} dage` : '');
}

async function loadTop() {
    const from = monthStart(state.month, -11);
    const to = monthEnd(state.month);
    const ins = await tool('get_customer_insights', { top: 5, from, to });
    const top = rows(ins.top ?? ins);
    state.data.top = top;
    $('top-period').textContent = `${fmt.date(from)} – ${fmt.date(to)}`;
    const body = $('top').tBodies[0];
    body.replaceChildren(...top.map((c) => {
        const tr = document.createElement('tr');
        tr.dataset.contact = c.contact_id ?? '';
        for (const [cls, text] of [['name', c.name], ['num', fmt.money(c.net_revenue)], ['num optional', fmt.pct(c.share_pct, false)], ['num', fmt.money(c.outstanding)]]) {
            const td = document.createElement('td');
            td.className = cls;
            td.textContent = text ?? '–';
            tr.append(td);
        }
        return tr;
    }));
}

async function loadVat() {
    const now = today();
    const year = +now.slice(0, 4);
    // last year's periods (one may be past its deadline) and this year's (the last one's deadline is next year)
    const years = await Promise.all([year - 1, year].map((y) => tool('get_vat_deadlines', { year: y })));
    const periods = years.flatMap(rows);
    periods.sort((a, b) => a.deadline.localeCompare(b.deadline));
    const done = (p) => p.filed_at || p.billy_settled;
    const next = periods.find((p) => p.deadline >= now);
    const late = periods.filter((p) => p.deadline < now && !done(p));
    const box = $('vat');
    box.className = 'vat';
    if (!next) {
        box.textContent = 'Ingen momsperioder.';
        return;
    }
    const ret = one(await tool('get_vat_return', { period: next.period }));
    state.data.vat = { period: next, ret };
    const status = done(next) ? ['Indberettet', 'done'] : next.end_date >= now ? ['Perioden løber', ''] : ['Ikke indberettet', ''];
    box.dataset.period = next.period;
    box.innerHTML = '<dl></dl>';
    const dl = box.querySelector('dl');
    for (const [k, v, key] of [
        ['Periode', `${next.period} (${fmt.date(next.start_date)} – ${fmt.date(next.end_date)})`],
        ['Frist', fmt.date(next.deadline)],
        ['Status', null],
        ['Salgsmoms', fmt.money(ret.salgsmoms_reported), 'salgsmoms_reported'],
        ['Købsmoms', fmt.money(ret.koebsmoms_reported), 'koebsmoms_reported'],
        ['Tilsvar', fmt.money(ret.tilsvar_reported), 'tilsvar_reported'],
    ]) {
        const dt = document.createElement('dt');
        dt.textContent = k;
        const dd = document.createElement('dd');
        if (v == null) {
            const s = document.createElement('span');
            s.className = `status ${status[1]}`;
            s.textContent = status[0];
            dd.append(s);
            if (late.length) {
                const l = document.createElement('span');
                l.className = 'status late';
                l.textContent = `${late.map((p) => p.period).join(', ')} over fristen`;
                dd.append(' ', l);
            }
        } else dd.textContent = v;
        if (key) { dd.dataset.vat = key; dd.dataset.value = ret[key] ?? ''; }
        dl.append(dt, dd);
    }
}

async function loadSync() {
    const st = await tool('get_sync_status');
    const res = rows(st.resources ?? st).filter((r) => !state.org || r.organization_id === state.org);
    const times = res.map((r) => r.last_success_at).filter(Boolean).sort();
    const newest = times[times.length - 1] ?? null;
    const failing = res.filter((r) => r.state === 'failing' || r.state === 'backoff');
    const el = $('fresh');
    el.classList.toggle('stale', failing.length > 0);
    el.classList.toggle('live', state.live && failing.length === 0);
    el.textContent = newest ? `Synkroniseret ${fmt.time(newest)}` : 'Aldrig synkroniseret';
    el.title = failing.length ? `Fejler: ${failing.map((r) => r.resource).join(', ')}` : (state.live ? 'Live' : 'Henter nye tal med jævne mellemrum');
    const changed = state.lastSync !== null && newest !== state.lastSync;
    state.lastSync = newest;
    return changed;
}

// ------------------------------------------------------------ loading
const SECTIONS = { summary: loadSummary, trend: loadTrend, aging: loadAging, top: loadTop, vat: loadVat, sync: loadSync };
// which sections a change to a resource can move
const AFFECTS = {
    invoices: ['summary', 'trend', 'aging', 'top', 'vat'],
    contacts: ['aging', 'top'],
    bills: ['summary', 'vat'],
    bankPayments: ['summary', 'aging', 'top'],
    salesTaxReturns: ['vat'],
};

let loading = Promise.resolve();
function load(names = Object.keys(SECTIONS)) {
    loading = loading.then(async () => {
        try {
            await Promise.all(names.map((n) => SECTIONS[n]()));
            $('error').hidden = true;
            state.loads++;
            document.body.dataset.loads = String(state.loads);
            document.body.dataset.state = 'ready';
        } catch (e) {
            if (e instanceof Unauthorized) return askToken(e.message);
            $('error').textContent = `Kunne ikke hente tallene: ${e.message}`;
            $('error').hidden = false;
            document.body.dataset.state = 'error';
        }
    });
    return loading;
}

function setOrgs(organizations, wanted) {
    state.orgs = organizations;
    state.org = (organizations.find((o) => o.id === wanted || o.name === wanted) || organizations[0])?.id ?? null;
    $('org').replaceChildren(...organizations.map((o) => new Option(o.name, o.id, false, o.id === state.org)));
    document.body.dataset.org = state.org ?? '';
}

async function start() {
    const params = new URLSearchParams(location.search);
    state.month = params.get('month') || state.hostMonth || thisMonth();
    $('month').value = state.month;
    $('month').max = thisMonth();
    const wanted = params.get('org') || state.hostOrg || store.get('billy-org');
    const asked = callTool('get_organization_settings', {}).then((r) => figures('get_organization_settings', r).organizations ?? []);
    // the organizations this tab saw last: the figures load while the list is asked again
    const seen = JSON.parse(store.get('billy-orgs') || 'null');
    if (seen?.length) {
        setOrgs(seen, wanted);
        const [organizations] = await Promise.all([asked, load()]);
        store.set('billy-orgs', JSON.stringify(organizations));
        if (JSON.stringify(organizations) !== JSON.stringify(seen)) {
            const before = state.org;
            setOrgs(organizations, before);
            if (state.org !== before) await load();
        }
        return;
    }
    const organizations = await asked;
    store.set('billy-orgs', JSON.stringify(organizations));
    setOrgs(organizations, wanted);
    await load();
}

$('org').addEventListener('change', () => {
    state.org = $('org').value;
    store.set('billy-org', state.org);
    document.body.dataset.org = state.org;
    state.lastSync = null;
    load();
});
$('month').addEventListener('change', () => {
    if (!/^\d{4}-\d{2}$/.test($('month').value)) return;
    state.month = $('month').value;
    load(['summary', 'trend', 'aging', 'top']);
});
new ResizeObserver(() => {
    for (const [key, u] of Object.entries(state.charts)) {
        const el = $(key);
        if (el && Math.abs(el.clientWidth - u.width) > 2) u.setSize(chartSize(el, u.height));
    }
}).observe($('main'));

// ------------------------------------------------------------ live
// the bridge's /events: Server-Sent Events, read with fetch (EventSource
// cannot send the bearer token); while it fails, poll every 3 s and try it again
let pending = new Set();
let timer = null;
function changed(resource) {
    for (const s of AFFECTS[resource] ?? Object.keys(SECTIONS)) pending.add(s);
    pending.add('sync');
    clearTimeout(timer);
    timer = setTimeout(() => { const names = [...pending]; pending = new Set(); load(names); }, 150);
}

async function listen() {
    for (;;) {
        try {
            const res = await fetch('/events', { headers: { Authorization: `Bearer ${store.get(TOKEN_KEY)}`, Accept: 'text/event-stream' } });
            if (!res.ok || !res.body) throw new Error(`events: HTTP ${res.status}`);
            const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
            let buf = '';
            for (;;) {
                const { value, done } = await reader.read();
                if (done) break;
                buf += value;
                let cut;
                while ((cut = buf.indexOf('\n\n')) >= 0) {
                    const block = buf.slice(0, cut);
                    buf = buf.slice(cut + 2);
                    const event = /^event: ?(.*)$/m.exec(block)?.[1] ?? 'message';
                    const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
                    if (event === 'ready') { state.live = true; loadSync(); }
                    if (event === 'change' && data) {
                        const c = JSON.parse(data);
                        if (!c.organization_id || c.organization_id === state.org) changed(c.resource);
                    }
                }
            }
        } catch (e) {
            // fall through: poll below, then try the stream again
        }
        state.live = false;
        await poll();
        await new Promise((r) => setTimeout(r, 3000));
    }
}

async function poll() {
    try {
        if (await loadSync()) load();
    } catch (e) { /* shown at the next full load */ }
}

// ------------------------------------------------------------ hosts
function askToken(why) {
    $('main').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = why && why !== 'no token' ? why : '';
    document.body.dataset.state = 'token';
}

$('login').addEventListener('submit', (e) => {
    e.preventDefault();
    store.set(TOKEN_KEY, $('token').value.trim());
    $('login').hidden = true;
    $('main').hidden = false;
    boot();
});

async function boot() {
    try {
        await start();
        if (!inHost) listen();
    } catch (e) {
        if (e instanceof Unauthorized) return askToken(e.message);
        $('error').textContent = `Kunne ikke starte: ${e.message}`;
        $('error').hidden = false;
        document.body.dataset.state = 'error';
    }
}

// the ext-apps SDK, carried inert in the page (src/ext-apps.js): run it now
function loadExtApps() {
    const s = document.createElement('script');
    s.textContent = document.getElementById('ext-apps').textContent;
    document.head.append(s);
    return window.BillyExtApps.App;
}

if (inHost) {
    // inside an MCP Apps host: tools through the host, no network of our own
    const App = loadExtApps();
    const app = new App({ name: 'billy-dashboard', version: '0.2.0' }, {}, { autoResize: true });
    // show_dashboard's result says which organization and month to open on
    app.ontoolresult = (params) => {
        const { organization_id: org, month } = params?.structuredContent ?? {};
        let again = false;
        if (month && /^\d{4}-\d{2}$/.test(month)) {
            state.hostMonth = month;
            // already started on another month: open this one
            if (state.month && month !== state.month) {
                state.month = month;
                $('month').value = month;
                again = true;
            }
        }
        if (org) {
            state.hostOrg = org;
            if (org !== state.org && state.orgs.some((o) => o.id === org)) {
                state.org = org;
                $('org').value = org;
                document.body.dataset.org = org;
                again = true;
            }
        }
        // before the organizations are known, start() loads what was set here
        if (again && state.org) load();
    };
    callTool = (name, args) => app.callServerTool({ name, arguments: args });
    document.body.dataset.host = 'mcp-apps';
    app.connect().then(boot, (e) => {
        $('error').textContent = `Kunne ikke forbinde til værten: ${e.message}`;
        $('error').hidden = false;
    });
    setInterval(poll, 60000);
} else {
    // in the browser: the bridge's /mcp; a token in the fragment is taken once
    const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
    if (m) {
        store.set(TOKEN_KEY, decodeURIComponent(m[1]));
        history.replaceState(null, '', location.pathname + location.search);
    }
    callTool = callOverHttp;
    document.body.dataset.host = 'browser';
    if (store.get(TOKEN_KEY)) boot(); else askToken();
}
