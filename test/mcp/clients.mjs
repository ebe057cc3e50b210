// test/mcp/clients.mjs: the official MCP TypeScript SDK (@modelcontextprotocol/sdk)
// as a real client of billy-mcp-bridge, over stdio and over HTTP.  Prints TAP.
// Run by test/t/85-mcp-clients.t, which starts the HTTP bridge and passes:
//   BRIDGE, PGHOST, PGPORT, PGDATABASE, READER, ADMIN (login roles),
//   READER_TOOLS, ADMIN_TOOLS (what each may use, comma-separated),
//   HTTP_URL, HTTP_TOKEN, ORG_ID, ORG_NAME, INVOICE_ID, CONTACT_ID, PRODUCT_ID
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { finish, ok, skip } from './tap.mjs';

const env = process.env;
// arguments that make sense on the sandbox's books, for tools that need some
const sample = {
  check_connection: { organization: env.ORG_ID },
  get_sync_status: { organization: env.ORG_ID },
  get_invoice: { invoice_id: env.INVOICE_ID },
  get_customer: { customer_id: env.CONTACT_ID },
  get_product: { product_id: env.PRODUCT_ID },
  list_invoices: { limit: 5 },
  list_customers: { limit: 5 },
  list_products: { limit: 5 },
  list_bills: { limit: 5 },
  list_bank_payments: { limit: 5 },
  get_revenue: { from: '2026-01-01', to: '2026-06-30' },
  get_revenue_trends: { from: '2026-01-01', to: '2026-06-30', grain: 'month' },
  get_analytics_summary: { period: 'quarter' },
  // a VAT return is one organization's: name it (the admin sees several)
  get_vat_return: { organization: env.ORG_ID, period: '2026-Q1' },
  check_vat: { organization: env.ORG_ID, period: '2026-Q1' },
  get_vat_deadlines: { organization: env.ORG_ID, year: 2026 },
  get_customer_insights: { top: 5 },
  forecast_revenue: { horizon: 3 },
  get_bulk_job_status: { job_id: Number(env.BULK_JOB_ID) },
};

// the arguments of a call: its sample, and the test organization wherever a
// tool takes one (several organizations may be connected)
function argsFor(t, extra = {}) {
  const args = { ...(sample[t.name] ?? {}), ...extra };
  if (t.inputSchema?.properties?.organization && args.organization === undefined) args.organization = env.ORG_ID;
  return args;
}

function stdioTransport(role) {
  return new StdioClientTransport({
    command: env.BRIDGE,
    args: [],
    env: { PATH: env.PATH, PGHOST: env.PGHOST, PGPORT: env.PGPORT, PGDATABASE: env.PGDATABASE, PGUSER: role },
    stderr: 'pipe',
  });
}
function httpTransport() {
  return new StreamableHTTPClientTransport(new URL(env.HTTP_URL), {
    requestInit: { headers: { Authorization: `Bearer ${env.HTTP_TOKEN}` } },
  });
}

async function session(label, transport, expectedTools, { admin = false } = {}) {
  const client = new Client({ name: 'billy-tap', version: '0' });
  await client.connect(transport);
  ok(client.getServerVersion()?.name === 'billy', `${label}: connected, serverInfo.name is billy`, client.getServerVersion());
  ok((client.getInstructions() ?? '').includes(env.ORG_NAME), `${label}: the instructions name the organization`, client.getInstructions());

  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name).sort();
  ok(JSON.stringify(names) === JSON.stringify([...expectedTools].sort()), `${label}: tools/list has exactly the tools this role may use`,
    { got: names, want: [...expectedTools].sort() });
  const bad = tools.filter((t) => !(t.description?.length > 40 && t.inputSchema?.type === 'object' && t.outputSchema?.type === 'object'
    && typeof t.annotations?.readOnlyHint === 'boolean' && /^[A-Za-z0-9_]{1,64}$/.test(t.name)));
  ok(bad.length === 0, `${label}: every tool has a description, input and output schemas and annotations`, bad.map((t) => t.name));

  // every reading tool, its structured result checked by the SDK against the output schema
  for (const t of tools.filter((x) => x.annotations?.readOnlyHint)) {
    const required = t.inputSchema.required ?? [];
    const args = argsFor(t);
    if (required.some((r) => args[r] === undefined)) {
      skip(`${label}: ${t.name}`, 'no sample arguments for its required ones');
      continue;
    }
    try {
      const r = await client.callTool({ name: t.name, arguments: args });
      ok(!r.isError && r.structuredContent && typeof r.structuredContent === 'object'
        && JSON.stringify(JSON.parse(r.content[0].text)) === JSON.stringify(r.structuredContent),
        `${label}: ${t.name} answers with structured content matching its output schema`, r);
    } catch (e) {
      ok(false, `${label}: ${t.name} answers with structured content matching its output schema`, String(e));
    }
  }

  let r = await client.callTool({ name: 'get_sync_status', arguments: { organization: 42 } });
  ok(r.isError === true && /must be a string/.test(r.content[0].text), `${label}: a bad argument gives isError naming it`, r);
  r = await client.callTool({ name: 'get_sync_status', arguments: { organization: 'no such organization' } });
  ok(r.isError === true && /42704/.test(r.content[0].text), `${label}: a SQL error gives isError with its SQLSTATE`, r);
  r = await client.callTool({ name: 'get_organization_settings', arguments: {} });
  ok((r.structuredContent?.organizations ?? []).some((o) => o.id === env.ORG_ID), `${label}: the organization granted to the role is visible`, r);
  if (!admin) {
    r = await client.callTool({ name: 'sync_billy_data', arguments: {} });
    ok(r.isError === true && /may not execute/.test(r.content[0].text), `${label}: a write the role may not do gives isError`, r);
  }
  try {
    await client.callTool({ name: 'no_such_tool', arguments: {} });
    ok(false, `${label}: an unknown tool is a protocol error`);
  } catch (e) {
    ok(/-32602|unknown tool/.test(String(e)), `${label}: an unknown tool is a protocol error (-32602)`, String(e));
  }
  await client.ping();
  ok(true, `${label}: ping`);
  return client;
}

try {
  // stdio, as a billy_mcp reader
  const reader = await session('stdio reader', stdioTransport(env.READER), env.READER_TOOLS.split(','));
  await reader.close();

  // HTTP, the same role
  const http = await session('http reader', httpTransport(), env.READER_TOOLS.split(','));
  await http.close();

  // stdio, as a billy_admin member: the writes
  const admin = await session('stdio admin', stdioTransport(env.ADMIN), env.ADMIN_TOOLS.split(','), { admin: true });
  let r = await admin.callTool({ name: 'sync_billy_data', arguments: { organization: env.ORG_ID, resources: ['contacts'] } });
  ok(!r.isError && r.structuredContent.organizations[0] === env.ORG_ID, 'stdio admin: sync_billy_data queues a sync', r);
  const names = (await admin.listTools()).tools.map((t) => t.name);
  if (names.includes('create_customer')) {
    const customer = { name: `MCP client test ${Date.now()}`, countryId: 'DK' };
    const preview = await admin.callTool({ name: 'create_customer', arguments: { customer, organization: env.ORG_ID } });
    ok(!preview.isError && preview.structuredContent.stage === 'preview' && preview.structuredContent.confirmation,
      'stdio admin: create_customer without confirmation previews', preview);
    const done = await admin.callTool({ name: 'create_customer',
      arguments: { customer, organization: env.ORG_ID, confirmation: preview.structuredContent.confirmation } });
    ok(!done.isError && done.structuredContent.stage === 'committed', 'stdio admin: with the confirmation it commits', done);
  } else {
    skip('stdio admin: create_customer previews, then commits against the sandbox', 'billy.preview_write is not installed (issue 8)');
    skip('stdio admin: with the confirmation it commits', 'billy.preview_write is not installed (issue 8)');
  }
  await admin.close();
} catch (e) {
  ok(false, 'the clients ran to the end', String(e?.stack ?? e));
}

finish();
