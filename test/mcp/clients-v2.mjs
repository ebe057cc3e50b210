// test/mcp/clients-v2.mjs: the v2 MCP TypeScript client (@modelcontextprotocol/client)
// against billy-mcp-bridge in the modern era (protocol revision 2026-07-28), over
// stdio and HTTP, pinned to 2026-07-28 and with automatic negotiation.  Prints TAP.
// Run by test/t/85-mcp-clients.t with the same environment as clients.mjs:
//   BRIDGE, PGHOST, PGPORT, PGDATABASE, READER, READER_TOOLS, HTTP_URL,
//   HTTP_TOKEN, ORG_ID, ORG_NAME
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { canonical, finish, ok } from './tap.mjs';
import { everyTool } from './cases.mjs';

const env = process.env;
const MODERN = '2026-07-28';

function stdioTransport(role = env.READER) {
  return new StdioClientTransport({
    command: env.BRIDGE,
    args: [],
    env: { PATH: env.PATH, PGHOST: env.PGHOST, PGPORT: env.PGPORT, PGDATABASE: env.PGDATABASE, PGUSER: role },
    stderr: 'pipe',
  });
}
function httpTransport(url = env.HTTP_URL) {
  return new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${env.HTTP_TOKEN}` } },
  });
}

const readerTools = [...env.READER_TOOLS.split(',')].sort();

// full: every check; otherwise the era, the tool list and one call
async function session(label, transport, mode, full) {
  const client = new Client({ name: 'billy-tap-v2', version: '0' }, { versionNegotiation: { mode } });
  try {
    await client.connect(transport);
  } catch (e) {
    ok(false, `${label}: connects`, String(e?.stack ?? e));
    return;
  }
  ok(client.getNegotiatedProtocolVersion() === MODERN, `${label}: the modern era is negotiated (${MODERN})`,
    client.getNegotiatedProtocolVersion());

  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name).sort();
  ok(JSON.stringify(names) === JSON.stringify(readerTools), `${label}: tools/list has exactly the tools the role may use`,
    { got: names, want: readerTools });

  const r = await client.callTool({ name: 'get_organization_settings', arguments: { organization: env.ORG_ID } });
  ok(!r.isError && (r.structuredContent?.organizations ?? []).some((o) => o.id === env.ORG_ID)
    && canonical(JSON.parse(r.content[0].text)) === canonical(r.structuredContent),
    `${label}: get_organization_settings answers with structured content (checked against its output schema)`, r);
  if (!full) {
    await client.close();
    return;
  }

  const discover = client.getDiscoverResult();
  ok(discover?.supportedVersions?.[0] === MODERN && discover.supportedVersions.includes('2025-11-25')
    && (discover.instructions ?? '').includes(env.ORG_NAME),
    `${label}: server/discover offers ${MODERN} first, the legacy versions too, and instructions naming the organization`, discover);
  ok(client.getServerVersion()?.name === 'billy', `${label}: the server is billy`, client.getServerVersion());

  // every reading tool whose required arguments are known (only the organization)
  let read = 0;
  let bad = [];
  for (const t of tools.filter((x) => x.annotations?.readOnlyHint && (x.inputSchema.required ?? []).length === 0)) {
    const args = t.inputSchema?.properties?.organization ? { organization: env.ORG_ID } : {};
    try {
      const res = await client.callTool({ name: t.name, arguments: args });
      if (res.isError || typeof res.structuredContent !== 'object') bad.push({ tool: t.name, res });
    } catch (e) {
      bad.push({ tool: t.name, error: String(e) });
    }
    read += 1;
  }
  ok(read >= 3 && bad.length === 0, `${label}: ${read} reading tools without required arguments answer with structured content`, bad);

  const e = await client.callTool({ name: 'get_sync_status', arguments: { organization: 42 } });
  ok(e.isError === true && /must be a string/.test(e.content[0].text), `${label}: a bad argument gives isError naming it`, e);
  try {
    await client.callTool({ name: 'no_such_tool', arguments: {} });
    ok(false, `${label}: an unknown tool is a protocol error`);
  } catch (err) {
    ok(/-32602|unknown tool/.test(String(err)), `${label}: an unknown tool is a protocol error (-32602)`, String(err));
  }
  await client.close();
}

try {
  await session('v2 stdio pin', stdioTransport(), { pin: MODERN }, true);
  await session('v2 http pin', httpTransport(), { pin: MODERN }, true);
  await session('v2 stdio auto', stdioTransport(), 'auto', false);
  await session('v2 http auto', httpTransport(), 'auto', false);

  // pinned to the modern era, every tool end to end: as a billy_admin member
  // over stdio, as a billy_writer over HTTP
  for (const [label, transport] of [['v2 stdio', stdioTransport(env.ADMIN)], ['v2 http', httpTransport(env.HTTP_ADMIN_URL)]]) {
    const admin = new Client({ name: 'billy-tap-v2', version: '0' }, { versionNegotiation: { pin: MODERN } });
    await admin.connect(transport);
    await everyTool(admin, label);
    await admin.close();
  }

  // the default (legacy) v2 client still gets the legacy era from the same bridge
  const legacy = new Client({ name: 'billy-tap-v2', version: '0' });
  await legacy.connect(stdioTransport());
  ok(legacy.getNegotiatedProtocolVersion() === '2025-11-25' && legacy.getServerVersion()?.name === 'billy',
    'v2 stdio legacy (default): initialize negotiates 2025-11-25 with the same bridge', legacy.getNegotiatedProtocolVersion());
  await legacy.close();
} catch (e) {
  ok(false, 'the v2 clients ran to the end', String(e?.stack ?? e));
}

finish();
