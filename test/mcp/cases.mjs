// test/mcp/cases.mjs: one end-to-end case per MCP tool, run by both SDK
// clients (clients.mjs: v1, clients-v2.mjs: v2) over stdio and HTTP, through
// billy-mcp-bridge -> billy.mcp -> the tool's function -> billy-sandbox ->
// the mirror.  A write is previewed, then committed with its confirmation,
// and its effect is checked where the user would see it: in the sandbox's
// own books (/_sandbox/dump) and in the mirror.  everyTool() fails when
// tools/list shows a tool that has no case here.
//
// Environment (from test/t/85-mcp-clients.t): PGHOST, PGPORT, PGDATABASE
// (the superuser's psql reads the mirror), SANDBOX_CONTROL, ORG_ID,
// INVOICE_ID, CONTACT_ID, PRODUCT_ID, SUPPLIER_ID, ACCOUNT_ID, TAX_RATE_ID.
import { execFileSync } from 'node:child_process';
import { canonical, ok } from './tap.mjs';

const env = process.env;

// sql runs one query as the test's superuser and returns its text
export function sql(query) {
  return execFileSync('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', query],
    { env: { ...env, PGUSER: env.PGUSER_SUPER ?? env.PGUSER }, encoding: 'utf8' }).trim();
}

// dump: the sandbox's own records of a resource (what Billy would have)
async function dump(resource) {
  const r = await fetch(`${env.SANDBOX_CONTROL}/dump?org=${env.ORG_ID}&resource=${resource}`);
  return (await r.json())[resource];
}

// expect: true when every named condition holds, else the ones that do not
function expect(conds, seen) {
  const bad = Object.entries(conds).filter(([, v]) => v !== true).map(([k]) => k);
  return bad.length === 0 ? true : { failed: bad, seen };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// the tools that take an organization (from tools/list)
const takesOrganization = new Set();

// call: a tools/call that must not fail; returns structuredContent
async function call(client, name, args) {
  const r = await client.callTool({ name, arguments: { ...(takesOrganization.has(name) ? { organization: env.ORG_ID } : {}), ...args } });
  if (r.isError) throw new Error(`${name}: ${r.content?.[0]?.text}`);
  const text = JSON.parse(r.content[0].text);
  if (canonical(text) !== canonical(r.structuredContent)) throw new Error(`${name}: the text is not the structured content`);
  return r.structuredContent;
}

// refused: a tools/call that must fail; returns its error text
async function refused(client, name, args) {
  const r = await client.callTool({ name, arguments: { ...(takesOrganization.has(name) ? { organization: env.ORG_ID } : {}), ...args } });
  if (!r.isError) throw new Error(`${name}: not refused: ${JSON.stringify(r.structuredContent)}`);
  return r.content?.[0]?.text ?? '';
}

// write: preview, check it wrote nothing, commit with the confirmation
async function write(client, name, args, notYet) {
  const preview = await call(client, name, args);
  if (preview.stage !== 'preview' || !preview.confirmation) throw new Error(`${name}: no preview: ${JSON.stringify(preview)}`);
  if (notYet && !(await notYet())) throw new Error(`${name}: the preview wrote something`);
  const done = await call(client, name, { ...args, confirmation: preview.confirmation });
  if (done.stage !== 'committed') throw new Error(`${name}: not committed: ${JSON.stringify(done)}`);
  return done.result;
}

async function waitJob(client, jobId) {
  for (let i = 0; i < 150; i += 1) {
    const s = await call(client, 'get_bulk_job_status', { job_id: jobId });
    if (['done', 'failed', 'cancelled'].includes(s.state)) return s;
    await sleep(200);
  }
  throw new Error(`job ${jobId} did not finish`);
}

const q = (s) => s.replace(/'/g, "''");

// the reading tools: arguments, and what the answer must show
const reads = {
  get_organization_settings: [{}, (r) => r.organizations.some((o) => o.id === env.ORG_ID)],
  check_connection: [{}, (r) => r.ok === true],
  get_sync_status: [{}, (r) => r.resources.some((x) => x.resource === 'invoices' && x.state === 'ok')],
  list_invoices: [{ limit: 5 }, (r) => r.invoices.length === 5 && r.total === Number(sql(
    `SELECT count(*) FROM billy.invoices WHERE organization_id = '${env.ORG_ID}' AND deleted_at IS NULL`))],
  get_invoice: [{ invoice_id: env.INVOICE_ID }, (r) => r.invoice.id === env.INVOICE_ID],
  list_customers: [{ limit: 5 }, (r) => r.contacts.length > 0],
  get_customer: [{ customer_id: env.CONTACT_ID }, (r) => r.contact.id === env.CONTACT_ID],
  list_products: [{ limit: 5 }, (r) => r.products.length > 0],
  get_product: [{ product_id: env.PRODUCT_ID }, (r) => r.product.id === env.PRODUCT_ID],
  list_bills: [{ limit: 5 }, (r) => r.bills.length === 5 && r.next_offset === 5],
  get_bill: [{ bill_id: env.BILL_ID }, (r) => r.bill.id === env.BILL_ID && r.bill.lines.length > 0],
  list_accounts: [{ nature: 'expense' }, (r) => r.accounts.length > 0 && r.accounts.every((a) => a.nature === 'expense')
    && r.accounts.some((a) => a.id === env.ACCOUNT_ID)],
  list_tax_rates: [{ purchases: true }, (r) => r.tax_rates.some((t) => t.id === env.TAX_RATE_ID && t.percent === 25)],
  list_bank_payments: [{ limit: 5 }, (r) => r.bankPayments.length > 0],
  get_revenue: [{ from: '2026-01-01', to: '2026-06-30' }, (r) => r.gross > 0 && r.net < r.gross],
  get_analytics_summary: [{ period: '2026-01-01..2026-06-30' }, (r) => r.rows.length === 1 && r.rows[0].net_revenue > 0],
  get_revenue_trends: [{ from: '2026-01-01', to: '2026-06-30', grain: 'month' }, (r) => r.rows.length === 6],
  get_customer_insights: [{ top: 5 }, (r) => typeof r === 'object' && Object.keys(r).length > 1],
  get_receivables_aging: [{}, (r) => typeof r === 'object' && Object.keys(r).length > 1],
  forecast_revenue: [{ horizon: 3 }, (r) => typeof r === 'object' && Object.keys(r).length > 1],
  get_vat_return: [{ period: '2026-Q1' }, (r) => r.rows[0].period === '2026-Q1' && r.rows[0].salgsmoms_exact > 0],
  get_vat_deadlines: [{ year: 2026 }, (r) => r.rows.length >= 4],
  check_vat: [{ period: '2026-Q1' }, (r) => typeof r === 'object'],
  // the organization's fiscal year 2026 (calendar), and a trial balance whose closings add up to 0
  get_statement: [{ statement: 'trial_balance', period: 'fy2026' }, (r) => r.from === '2026-01-01' && r.to === '2026-12-31'
    && r.currency === 'DKK' && r.rows.length > 5 && Math.round(r.rows.reduce((s, x) => s + (x.closing ?? 0) * 100, 0)) === 0],
  export_invoices_csv: [{ filters: { is_paid: false, from: '2026-01-01' }, options: { format: 'danish' } },
    (r) => r.result.split('\n').length > 2 && r.result.includes(';')],
  get_cache_performance: [{}, (r) => typeof r === 'object'],
  show_dashboard: [{}, (r) => r.resource_uri === 'ui://billy/dashboard' && r.organization_id === env.ORG_ID],
  // the invoice's gross amount written the Danish way finds it, and says why
  search: [() => ({ query: sql(`SELECT to_char(gross_amount, 'FM999,999,990.00') FROM billy.invoices WHERE id = '${q(env.INVOICE_ID)}'`)
    .replace(/,/g, '#').replace(/\./g, ',').replace(/#/g, '.'), kinds: ['invoice'] }),
  (r) => r.hits.some((h) => h.id === env.INVOICE_ID && h.kind === 'invoice' && /amount/.test(h.why))],
  // every unmatched line of the mirror is counted; a line's suggestions are open documents
  list_unmatched_bank_lines: [{ limit: 5 }, (r) => r.unmatched === Number(sql(
    `SELECT count(*) FROM billy.bank_lines WHERE organization_id = '${env.ORG_ID}' AND match_id IS NULL AND deleted_at IS NULL`))
    && r.lines.length === Math.min(5, r.unmatched)
    && r.lines.every((l) => (l.suggestions ?? []).every((s) => /^(invoice|bill):/.test(s.ref) && s.score > 0 && s.score <= 1))],
  // the books' reference records: every ruleset of the mirror, each with its rules
  list_reference: [{ kind: 'salesTaxRulesets' }, (r) => r.kind === 'salesTaxRulesets' && r.total === Number(sql(
    `SELECT count(*) FROM billy.sales_tax_rulesets WHERE organization_id = '${env.ORG_ID}' AND deleted_at IS NULL`)) && r.total > 0
    && r.rows.every((x) => x.rules.length === Number(sql(`SELECT count(*) FROM billy.sales_tax_rules WHERE organization_id = '${env.ORG_ID}'
      AND ruleset_id = '${q(x.id)}'`)) && x.rules.every((u) => u.tax_rate_id))],
  // the bank account's transactions of 2026-Q1: as many as the mirror has, each with all its postings, balanced, one on the account
  list_transactions: [{ period: '2026-Q1', account: '5810', limit: 5 }, (r) => r.total === Number(sql(
    `SELECT count(*) FROM billy.transactions t WHERE t.organization_id = '${env.ORG_ID}' AND t.deleted_at IS NULL
       AND t.entry_date BETWEEN '2026-01-01' AND '2026-03-31' AND EXISTS (SELECT 1 FROM billy.postings p JOIN billy.accounts a
       ON a.organization_id = p.organization_id AND a.id = p.account_id WHERE p.organization_id = t.organization_id
       AND p.transaction_id = t.id AND a.account_no = 5810)`)) && r.total > 5 && r.transactions.length === 5 && r.next_offset === 5
    && r.transactions.every((t) => t.date >= '2026-01-01' && t.date <= '2026-03-31'
      && Math.round(t.postings.reduce((s, p) => s + p.amount * 100, 0)) === 0
      && t.postings.some((p) => p.account.startsWith('5810 '))
      && t.postings.length === Number(sql(`SELECT count(*) FROM billy.postings WHERE organization_id = '${env.ORG_ID}' AND transaction_id = '${q(t.id)}'`)))],
  // booked journal entries: as many as the mirror has, each with its lines and the number of the transaction it booked
  list_journal_entries: [{ state: 'approved', limit: 3 }, (r) => r.total === Number(sql(
    `SELECT count(*) FROM billy.daybook_transactions WHERE organization_id = '${env.ORG_ID}' AND deleted_at IS NULL AND state = 'approved'`))
    && r.journal_entries.length === 3 && r.journal_entries.every((e) => e.state === 'approved'
      && e.lines.length === Number(sql(`SELECT count(*) FROM billy.daybook_transaction_lines WHERE organization_id = '${env.ORG_ID}'
        AND daybook_transaction_id = '${q(e.id)}'`))
      && e.transaction_no === Number(sql(`SELECT transaction_no FROM billy.transactions WHERE organization_id = '${env.ORG_ID}'
        AND originator_reference = 'daybookTransaction:${q(e.id)}' AND NOT coalesce(is_void, false)`)))],
};

// readingTools runs the case of every reading tool listed
export async function readingTools(client, label, listed) {
  for (const t of (await client.listTools()).tools) if (t.inputSchema?.properties?.organization) takesOrganization.add(t.name);
  for (const name of listed.filter((n) => n in reads)) {
    const [args, check] = reads[name];
    try {
      const r = await call(client, name, typeof args === 'function' ? args() : args);
      ok(check(r), `${label}: ${name} answers through the bridge`, r);
    } catch (e) {
      ok(false, `${label}: ${name} answers through the bridge`, String(e?.stack ?? e));
    }
  }
}

// everyTool runs one case per tool of tools/list and fails for a tool with
// none; writes run in an order where each finds what the last made
export async function everyTool(client, label) {
  const { tools } = await client.listTools();
  const listed = tools.map((t) => t.name);
  const tag = `${label.replace(/[^A-Za-z0-9]/g, '')} ${Date.now()}`;
  const made = {};
  const writes = {
    sync_billy_data: async () => {
      const r = await call(client, 'sync_billy_data', { resources: ['contacts'] });
      return r.organizations[0] === env.ORG_ID && r.jobs_queued >= 0;
    },
    warm_cache: async () => typeof (await call(client, 'warm_cache', { top_n: 5 })) === 'object',
    create_customer: async () => {
      const name = `E2E ${tag}`;
      const r = await write(client, 'create_customer', {
        customer: { name, countryId: 'DK', contactPersons: [{ name: 'Eva', email: 'eva@example.dk' }] },
      }, async () => !(await dump('contacts')).some((c) => c.name === name));
      made.customer = r.record_id;
      return (await dump('contacts')).some((c) => c.id === r.record_id && c.name === name)
        && sql(`SELECT name FROM billy.contacts WHERE organization_id = '${env.ORG_ID}' AND id = '${r.record_id}'`) === name;
    },
    update_customer: async () => {
      await write(client, 'update_customer', { customer_id: made.customer, changes: { cityText: 'Aarhus C' } });
      return (await dump('contacts')).find((c) => c.id === made.customer)?.cityText === 'Aarhus C'
        && sql(`SELECT city FROM billy.contacts WHERE organization_id = '${env.ORG_ID}' AND id = '${made.customer}'`) === 'Aarhus C';
    },
    create_product: async () => {
      const name = `E2E vare ${tag}`;
      const r = await write(client, 'create_product', { product: { name, prices: [{ unitPrice: 250, currencyId: 'DKK' }] } });
      made.product = r.record_id;
      return (await dump('products')).some((p) => p.id === r.record_id && p.name === name)
        && sql(`SELECT name FROM billy.products WHERE organization_id = '${env.ORG_ID}' AND id = '${r.record_id}'`) === name;
    },
    update_product: async () => {
      await write(client, 'update_product', { product_id: made.product, changes: { description: 'Opdateret' } });
      return (await dump('products')).find((p) => p.id === made.product)?.description === 'Opdateret'
        && sql(`SELECT description FROM billy.products WHERE organization_id = '${env.ORG_ID}' AND id = '${made.product}'`) === 'Opdateret';
    },
    create_invoice: async () => {
      const r = await write(client, 'create_invoice', {
        invoice: { contactId: made.customer, entryDate: '2026-06-15', lines: [{ productId: made.product, quantity: 2 }] },
      });
      made.invoice = r.record_id;
      const inv = (await dump('invoices')).find((i) => i.id === r.record_id);
      return inv?.state === 'draft' && inv.contactId === made.customer && Number(inv.amount) === 500
        && sql(`SELECT state || ' ' || amount FROM billy.invoices WHERE organization_id = '${env.ORG_ID}' AND id = '${r.record_id}'`) === 'draft 500';
    },
    update_draft_invoice: async () => {
      const msg = `Tak for handlen ${tag}`;
      await write(client, 'update_draft_invoice', { invoice_id: made.invoice, changes: { contactMessage: msg } });
      return (await dump('invoices')).find((i) => i.id === made.invoice)?.contactMessage === msg
        && sql(`SELECT raw ->> 'contactMessage' FROM billy.invoices WHERE organization_id = '${env.ORG_ID}' AND id = '${made.invoice}'`) === msg;
    },
    approve_invoice: async () => {
      await write(client, 'approve_invoice', { invoice_id: made.invoice },
        async () => (await dump('invoices')).find((i) => i.id === made.invoice)?.state === 'draft');
      return (await dump('invoices')).find((i) => i.id === made.invoice)?.state === 'approved'
        && sql(`SELECT state FROM billy.invoices WHERE organization_id = '${env.ORG_ID}' AND id = '${made.invoice}'`) === 'approved';
    },
    send_invoice: async () => {
      await write(client, 'send_invoice', { invoice_id: made.invoice, email_subject: 'Faktura' });
      return (await dump('invoices')).find((i) => i.id === made.invoice)?.sentState !== 'unsent'
        && sql(`SELECT sent_state FROM billy.invoices WHERE organization_id = '${env.ORG_ID}' AND id = '${made.invoice}'`) !== 'unsent';
    },
    credit_invoice: async () => {
      const line = sql(`SELECT min(id) FROM billy.invoice_lines WHERE organization_id = '${env.ORG_ID}' AND invoice_id = '${made.invoice}'`);
      const r = await write(client, 'credit_invoice', { invoice_id: made.invoice, line_ids: [line], entry_date: '2026-06-18' });
      made.creditNote = r.record_id;
      const cn = (await dump('invoices')).find((i) => i.id === r.record_id);
      return expect({
        'a draft credit note of the invoice in the sandbox': cn?.type === 'creditNote' && cn.state === 'draft' && cn.creditedInvoiceId === made.invoice
          && Number(cn.amount) === 500,
        'and in the mirror': sql(`SELECT type || ' ' || credited_invoice_id || ' ' || amount FROM billy.invoices
          WHERE organization_id = '${env.ORG_ID}' AND id = '${r.record_id}'`) === `creditNote ${made.invoice} 500`,
      }, cn);
    },
    delete_draft_invoice: async () => {
      await write(client, 'delete_draft_invoice', { invoice_id: made.creditNote },
        async () => (await dump('invoices')).some((i) => i.id === made.creditNote));
      return !(await dump('invoices')).some((i) => i.id === made.creditNote)
        && sql(`SELECT deleted_at IS NOT NULL FROM billy.invoices WHERE organization_id = '${env.ORG_ID}' AND id = '${made.creditNote}'`) === 't';
    },
    create_bank_payment: async () => {
      const gross = Number(sql(`SELECT gross_amount FROM billy.invoices WHERE organization_id = '${env.ORG_ID}' AND id = '${made.invoice}'`));
      const r = await write(client, 'create_bank_payment', {
        payment: { entryDate: '2026-06-20', cashAmount: gross, associations: [{ subjectReference: `invoice:${made.invoice}` }] },
      });
      return expect({
        'the payment in the sandbox': (await dump('bankPayments')).some((p) => p.id === r.record_id),
        'the invoice paid in the sandbox': (await dump('invoices')).find((i) => i.id === made.invoice)?.isPaid === true,
        'the payment in the mirror': sql(`SELECT count(*) FROM billy.bank_payments WHERE organization_id = '${env.ORG_ID}' AND id = '${r.record_id}'`) === '1',
        'the invoice paid in the mirror': sql(`SELECT is_paid FROM billy.invoices WHERE organization_id = '${env.ORG_ID}' AND id = '${made.invoice}'`) === 't',
      }, r);
    },
    // the user's path through bank reconciliation: a line the bank feed
    // brings (in Billy: the sandbox) for an open invoice, synced; its top
    // suggestion from list_unmatched_bank_lines matched, then unmatched
    match_bank_line: async () => {
      const [inv, no, bal, name, day] = sql(`SELECT concat_ws('|', i.id, i.invoice_no, i.balance, upper(c.name), i.entry_date)
        FROM billy.invoices i JOIN billy.contacts c ON c.organization_id = i.organization_id AND c.id = i.contact_id
        WHERE i.organization_id = '${env.ORG_ID}' AND i.state = 'approved' AND i.type = 'invoice' AND i.currency_id = 'DKK'
          AND i.balance > 0 AND i.deleted_at IS NULL ORDER BY i.entry_date, i.id LIMIT 1`).split('|');
      const account = sql(`SELECT id FROM billy.accounts WHERE organization_id = '${env.ORG_ID}' AND is_bank_account AND currency_id = 'DKK'`);
      const line = sql(`SELECT billy_test.api(o.token, 'POST', '/bankLines', jsonb_build_object('bankLine', jsonb_build_object(
        'accountId', '${account}', 'entryDate', '${day}', 'amount', ${bal}, 'side', 'debit', 'description', 'FAKTURA ${no} ${q(name)}')))
        -> 'bankLines' -> 0 ->> 'id' FROM billy_test.orgs o WHERE o.id = '${env.ORG_ID}'`);
      for (let i = 0; ; i += 1) {  // a sync the worker runs meanwhile holds the resource's lock
        try { sql(`SELECT count(*) FROM billy.sync_now('${env.ORG_ID}', ARRAY['bankLines'])`); break; } catch (e) { if (i > 50) throw e; await sleep(200); }
      }
      const list = await call(client, 'list_unmatched_bank_lines', { line_id: line });
      const ref = list.lines[0]?.suggestions?.[0]?.ref;
      const r = await write(client, 'match_bank_line', { line_ids: [line], documents: [ref] },
        async () => (await dump('bankLines')).find((l) => l.id === line)?.matchId == null);
      Object.assign(made, { bankLine: line, bankInvoice: inv, bankBalance: Number(bal) });
      const again = await refused(client, 'match_bank_line', { line_ids: [line], documents: [ref] });
      return expect({
        'the top suggestion is the invoice the line pays': ref === `invoice:${inv}`,
        'the line matched in the sandbox': !!r.record_id && (await dump('bankLines')).find((l) => l.id === line)?.matchId === r.record_id,
        'the invoice paid in the sandbox': (await dump('invoices')).find((i) => i.id === inv)?.isPaid === true,
        'the line matched in the mirror': sql(`SELECT match_id FROM billy.bank_lines WHERE organization_id = '${env.ORG_ID}' AND id = '${line}'`) === r.record_id,
        'the match and what it pays in the mirror': sql(`SELECT string_agg(subject_reference, ',') FROM billy.bank_line_subject_associations
          WHERE organization_id = '${env.ORG_ID}' AND match_id = '${r.record_id}'`) === ref,
        'no longer among the unmatched': sql(`SELECT count(*) FROM billy.unmatched_bank_lines('${env.ORG_ID}') WHERE id = '${line}'`) === '0',
        'matching it again is refused, saying what to do': /already matched.*unmatch_bank_line/.test(again),
      }, { list, r, again });
    },
    unmatch_bank_line: async () => {
      const r = await write(client, 'unmatch_bank_line', { line_id: made.bankLine },
        async () => (await dump('bankLines')).find((l) => l.id === made.bankLine)?.matchId != null);
      return expect({
        'the line unmatched in the sandbox': (await dump('bankLines')).find((l) => l.id === made.bankLine)?.matchId == null,
        'the invoice open again in the sandbox': Number((await dump('invoices')).find((i) => i.id === made.bankInvoice)?.balance) === made.bankBalance,
        'the line unmatched in the mirror, listed again': sql(`SELECT count(*) FROM billy.unmatched_bank_lines('${env.ORG_ID}') WHERE id = '${made.bankLine}'`) === '1',
        'the match deleted in the mirror': sql(`SELECT deleted_at IS NOT NULL FROM billy.bank_line_matches
          WHERE organization_id = '${env.ORG_ID}' AND id = '${r.record_id}'`) === 't',
        'the invoice open again in the mirror': Number(sql(`SELECT balance FROM billy.invoices WHERE organization_id = '${env.ORG_ID}'
          AND id = '${made.bankInvoice}'`)) === made.bankBalance,
      }, r);
    },
    create_bill: async () => {
      const no = `E2E-${tag}`;
      const r = await write(client, 'create_bill', {
        bill: { contactId: env.SUPPLIER_ID, entryDate: '2026-06-16', suppliersInvoiceNo: no,
          lines: [{ accountId: env.ACCOUNT_ID, taxRateId: env.TAX_RATE_ID, description: 'Kontorartikler', amount: 125 }] },
      });
      made.bill = r.record_id;
      return (await dump('bills')).some((b) => b.id === r.record_id && b.suppliersInvoiceNo === no)
        && sql(`SELECT suppliers_invoice_no FROM billy.bills WHERE organization_id = '${env.ORG_ID}' AND id = '${r.record_id}'`) === no;
    },
    update_draft_bill: async () => {
      await write(client, 'update_draft_bill', { bill_id: made.bill, changes: { taxMode: 'excl', lines: [
        { accountId: env.ACCOUNT_ID, taxRateId: env.TAX_RATE_ID, description: 'Kontorartikler', amount: 100 },
        { accountId: env.ACCOUNT_ID, taxRateId: env.TAX_RATE_ID, description: 'Kaffe', amount: 60 }] } });
      const b = (await dump('bills')).find((x) => x.id === made.bill);
      return expect({
        'the new lines in the sandbox': Number(b?.amount) === 160,
        'and in the mirror': sql(`SELECT amount || ' ' || (SELECT count(*) FROM billy.bill_lines l WHERE l.organization_id = b.organization_id
          AND l.bill_id = b.id) FROM billy.bills b WHERE organization_id = '${env.ORG_ID}' AND id = '${made.bill}'`) === '160 2',
      }, b);
    },
    approve_bill: async () => {
      await write(client, 'approve_bill', { bill_id: made.bill },
        async () => (await dump('bills')).find((b) => b.id === made.bill)?.state === 'draft');
      return (await dump('bills')).find((b) => b.id === made.bill)?.state === 'approved'
        && sql(`SELECT state FROM billy.bills WHERE organization_id = '${env.ORG_ID}' AND id = '${made.bill}'`) === 'approved';
    },
    credit_bill: async () => {
      const r = await write(client, 'credit_bill', { bill_id: made.bill, entry_date: '2026-06-19' });
      made.billCredit = r.record_id;
      const cn = (await dump('bills')).find((b) => b.id === r.record_id);
      return expect({
        'a draft credit note of the whole bill in the sandbox': cn?.type === 'creditNote' && cn.creditedBillId === made.bill && Number(cn.amount) === 160,
        'and in the mirror': sql(`SELECT type || ' ' || credited_bill_id || ' ' || amount FROM billy.bills
          WHERE organization_id = '${env.ORG_ID}' AND id = '${r.record_id}'`) === `creditNote ${made.bill} 160`,
      }, cn);
    },
    delete_draft_bill: async () => {
      await write(client, 'delete_draft_bill', { bill_id: made.billCredit },
        async () => (await dump('bills')).some((b) => b.id === made.billCredit));
      return !(await dump('bills')).some((b) => b.id === made.billCredit)
        && sql(`SELECT deleted_at IS NOT NULL FROM billy.bills WHERE organization_id = '${env.ORG_ID}' AND id = '${made.billCredit}'`) === 't';
    },
    add_contact_person: async () => {
      const email = `lene.${Date.now()}@example.dk`;
      await write(client, 'add_contact_person', { customer_id: made.customer, person: { name: 'Lene', email } });
      made.personEmail = email;
      return (await dump('contactPersons')).some((p) => p.contactId === made.customer && p.email === email)
        && sql(`SELECT count(*) FROM billy.contact_persons WHERE organization_id = '${env.ORG_ID}' AND contact_id = '${made.customer}'
                AND email = '${q(email)}'`) === '1';
    },
    update_contact_person: async () => {
      const id = sql(`SELECT id FROM billy.contact_persons WHERE organization_id = '${env.ORG_ID}' AND contact_id = '${made.customer}'
                      AND email = '${q(made.personEmail)}'`);
      await write(client, 'update_contact_person', { contact_person_id: id, changes: { name: 'Lene Holm', isPrimary: true } });
      const persons = (await dump('contactPersons')).filter((p) => p.contactId === made.customer);
      return expect({
        'renamed and primary in the sandbox': persons.some((p) => p.email === made.personEmail && p.name === 'Lene Holm' && p.isPrimary),
        'the only primary one': persons.filter((p) => p.isPrimary).length === 1,
        'and in the mirror': sql(`SELECT name || ' ' || is_primary FROM billy.contact_persons WHERE organization_id = '${env.ORG_ID}'
          AND contact_id = '${made.customer}' AND email = '${q(made.personEmail)}'`) === 'Lene Holm true',
      }, persons);
    },
    delete_contact_person: async () => {
      const id = sql(`SELECT id FROM billy.contact_persons WHERE organization_id = '${env.ORG_ID}' AND contact_id = '${made.customer}'
                      AND email = '${q(made.personEmail)}'`);
      const others = Number(sql(`SELECT count(*) FROM billy.contact_persons WHERE organization_id = '${env.ORG_ID}' AND contact_id = '${made.customer}'`)) - 1;
      await write(client, 'delete_contact_person', { contact_person_id: id });
      const persons = (await dump('contactPersons')).filter((p) => p.contactId === made.customer);
      return expect({
        'gone from the sandbox, the others kept': !persons.some((p) => p.email === made.personEmail) && persons.length === others,
        'and from the mirror': sql(`SELECT count(*) FROM billy.contact_persons WHERE organization_id = '${env.ORG_ID}'
          AND contact_id = '${made.customer}' AND email = '${q(made.personEmail)}'`) === '0',
      }, persons);
    },
    delete_customer: async () => {
      const inUse = await refused(client, 'delete_customer', { customer_id: made.customer });
      const r = await write(client, 'create_customer', { customer: { name: `Slettes ${tag}`, countryId: 'DK' } });
      await write(client, 'delete_customer', { customer_id: r.record_id },
        async () => (await dump('contacts')).some((c) => c.id === r.record_id));
      return expect({
        'a customer in use is refused, saying so': /in use \(.*invoice.*\).*archive/.test(inUse),
        'the unused one is gone from the sandbox': !(await dump('contacts')).some((c) => c.id === r.record_id),
        'and deleted in the mirror': sql(`SELECT deleted_at IS NOT NULL FROM billy.contacts WHERE organization_id = '${env.ORG_ID}' AND id = '${r.record_id}'`) === 't',
        'the one in use is still there': (await dump('contacts')).some((c) => c.id === made.customer),
      }, inUse);
    },
    delete_product: async () => {
      const inUse = await refused(client, 'delete_product', { product_id: made.product });
      const r = await write(client, 'create_product', { product: { name: `Slettes ${tag}` } });
      await write(client, 'delete_product', { product_id: r.record_id },
        async () => (await dump('products')).some((p) => p.id === r.record_id));
      return expect({
        'a product in use is refused, saying so': /in use \(.*invoice line.*\).*archive/.test(inUse),
        'the unused one is gone from the sandbox': !(await dump('products')).some((p) => p.id === r.record_id),
        'and deleted in the mirror': sql(`SELECT deleted_at IS NOT NULL FROM billy.products WHERE organization_id = '${env.ORG_ID}' AND id = '${r.record_id}'`) === 't',
      }, inUse);
    },
    // a journal entry with VAT on one line, made as a draft, booked, then voided
    create_journal_entry: async () => {
      const text = `E2E bilag ${tag}`;
      const bank = sql(`SELECT id FROM billy.accounts WHERE organization_id = '${env.ORG_ID}' AND account_no = 5810`);
      const r = await write(client, 'create_journal_entry', { entry_date: '2026-06-22', description: text, lines: [
        { accountId: env.ACCOUNT_ID, side: 'debit', amount: 1250, taxRateId: env.TAX_RATE_ID },
        { accountId: bank, side: 'credit', amount: 1250 }] },
      async () => !(await dump('daybookTransactions')).some((d) => d.description === text));
      made.journalEntry = r.record_id;
      const d = (await dump('daybookTransactions')).find((x) => x.id === r.record_id);
      const listed = await call(client, 'list_journal_entries', { journal_entry: r.record_id });
      return expect({
        'a draft with its two lines in the sandbox': d?.state === 'draft' && d.description === text && d.lines?.length === 2,
        'and in the mirror': sql(`SELECT state || ' ' || (SELECT count(*) FROM billy.daybook_transaction_lines l WHERE l.organization_id = d.organization_id
          AND l.daybook_transaction_id = d.id) FROM billy.daybook_transactions d WHERE organization_id = '${env.ORG_ID}' AND id = '${q(r.record_id)}'`) === 'draft 2',
        'list_journal_entries shows it, with K25 on its first line': listed.total === 1 && listed.journal_entries[0].text === text
          && listed.journal_entries[0].lines[0].tax === 'K25' && listed.journal_entries[0].transaction_no === undefined,
      }, { d, listed });
    },
    set_journal_entry_state: async () => {
      const ref = `daybookTransaction:${made.journalEntry}`;
      await write(client, 'set_journal_entry_state', { journal_entry_id: made.journalEntry, state: 'approved' },
        async () => (await dump('daybookTransactions')).find((d) => d.id === made.journalEntry)?.state === 'draft');
      const booked = (await dump('transactions')).filter((t) => t.originatorReference === ref);
      const inMirror = sql(`SELECT string_agg(p.signed_amount::text, ',' ORDER BY p.signed_amount) FROM billy.postings p
        JOIN billy.transactions t ON t.organization_id = p.organization_id AND t.id = p.transaction_id
        WHERE t.organization_id = '${env.ORG_ID}' AND t.originator_reference = '${q(ref)}'`);
      const tx = await call(client, 'list_transactions', { transaction: ref });
      const approved = expect({
        'approved in the sandbox': (await dump('daybookTransactions')).find((d) => d.id === made.journalEntry)?.state === 'approved',
        'booked in the sandbox: 1000 on the expense, 250 VAT, -1250 on the bank':
          booked.length === 1 && booked[0].postings.map((p) => (p.side === 'debit' ? 1 : -1) * Number(p.amount)).sort((a, b) => a - b).join(',') === '-1250,250,1000',
        'approved in the mirror': sql(`SELECT state FROM billy.daybook_transactions WHERE organization_id = '${env.ORG_ID}' AND id = '${q(made.journalEntry)}'`) === 'approved',
        'its postings in the mirror, as in the sandbox': inMirror === '-1250,250,1000',
        'list_transactions shows them': tx.total === 1 && tx.transactions[0].id === booked[0]?.id
          && tx.transactions[0].postings.map((p) => p.amount).sort((a, b) => a - b).join(',') === '-1250,250,1000',
      }, { booked, inMirror, tx });
      if (approved !== true) return approved;
      await write(client, 'set_journal_entry_state', { journal_entry_id: made.journalEntry, state: 'voided' });
      return expect({
        'voided in the sandbox': (await dump('daybookTransactions')).find((d) => d.id === made.journalEntry)?.state === 'voided',
        'and in the mirror': sql(`SELECT state FROM billy.daybook_transactions WHERE organization_id = '${env.ORG_ID}' AND id = '${q(made.journalEntry)}'`) === 'voided',
      });
    },
    update_organization_settings: async () => {
      const phone = `+45 ${String(Date.now()).slice(-8)}`;
      await write(client, 'update_organization_settings', { settings: { phone } });
      return (await dump('organization')).phone === phone
        && sql(`SELECT raw ->> 'phone' FROM billy.organizations WHERE id = '${env.ORG_ID}'`) === phone;
    },
    import_customers_csv: async () => {
      const name = `E2E import ${tag}`;
      const r = await write(client, 'import_customers_csv', { csv: `navn;by\n${name};Odense\n` });
      const s = await waitJob(client, r.job_id);
      return s.state === 'done' && s.created === 1 && (await dump('contacts')).some((c) => c.name === name)
        && sql(`SELECT count(*) FROM billy.contacts WHERE organization_id = '${env.ORG_ID}' AND name = '${q(name)}'`) === '1';
    },
    import_products_csv: async () => {
      const name = `E2E importvare ${tag}`;
      const r = await write(client, 'import_products_csv', { csv: `name;unitPrice\n${name};99,50\n` });
      made.job = r.job_id;
      const s = await waitJob(client, r.job_id);
      return s.state === 'done' && s.created === 1 && (await dump('products')).some((p) => p.name === name)
        && sql(`SELECT count(*) FROM billy.products WHERE organization_id = '${env.ORG_ID}' AND name = '${q(name)}'`) === '1';
    },
    get_bulk_job_status: async () => (await call(client, 'get_bulk_job_status', { job_id: made.job })).created === 1,
    cancel_bulk_job: async () => {
      // a job of several rows, cancelled at once: it stops with rows left
      const rows = Array.from({ length: 8 }, (_, i) => `E2E afbrudt ${tag} ${i}`);
      const r = await write(client, 'import_customers_csv', { csv: `navn\n${rows.join('\n')}\n` });
      const c = await call(client, 'cancel_bulk_job', { job_id: r.job_id });
      const s = await waitJob(client, r.job_id);
      return c.cancel_requested === true && s.state === 'cancelled' && s.done < 8;
    },
  };
  const order = ['sync_billy_data', 'warm_cache', 'create_customer', 'update_customer', 'create_product', 'update_product',
    'create_invoice', 'update_draft_invoice', 'approve_invoice', 'send_invoice', 'credit_invoice', 'delete_draft_invoice',
    'create_bank_payment', 'match_bank_line', 'unmatch_bank_line', 'create_bill', 'update_draft_bill', 'approve_bill', 'credit_bill', 'delete_draft_bill',
    'add_contact_person', 'update_contact_person', 'delete_contact_person', 'delete_customer', 'delete_product',
    'create_journal_entry', 'set_journal_entry_state', 'update_organization_settings',
    'import_customers_csv', 'import_products_csv', 'get_bulk_job_status', 'cancel_bulk_job'];

  const missing = listed.filter((n) => !(n in reads) && !(n in writes));
  ok(missing.length === 0, `${label}: every listed tool has an end-to-end case`, missing);

  await readingTools(client, label, listed);
  for (const name of order.filter((n) => listed.includes(n))) {
    try {
      const r = await writes[name]();
      ok(r === true, `${label}: ${name} works end to end (the sandbox and the mirror show it)`, r);
    } catch (e) {
      ok(false, `${label}: ${name} works end to end (the sandbox and the mirror show it)`, String(e?.stack ?? e));
    }
  }
}
