// test/mcp/clients.mjs: the official MCP TypeScript SDK (@modelcontextprotocol/sdk)
// as a real client of billy-mcp-bridge, over stdio and over HTTP.  Prints TAP.
// Run by test/t/85-mcp-clients.t, which starts the HTTP bridge and passes:
//   BRIDGE, PGHOST, PGPORT, PGDATABASE, READER, ADMIN, WRITER (login roles),
//   READER_TOOLS, ADMIN_TOOLS, WRITER_TOOLS (what each may use, comma-separated),
//   HTTP_URL (as the reader), HTTP_ADMIN_URL (as the writer), HTTP_TOKEN, ORG_ID,
//   ORG_NAME and what cases.mjs needs
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { finish, ok } from './tap.mjs';
import { readFileSync } from 'node:fs';
import { everyTool, readingTools } from './cases.mjs';

const env = process.env;
function stdioTransport(role) {
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

async function session(label, transport, expectedTools, { admin = false } = {}) {
  const client = new Client({ name: 'billy-tap', version: '0' });
  await client.connect(transport);
  ok(client.getServerVersion()?.name === 'billy', `${label}: connected, serverInfo.name is billy`, client.getServerVersion());
  ok((client.getInstructions() ?? '').includes(env.ORG_NAME), `${label}: the instructions name the organization`, client.getInstructions());

  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name).sort();
  ok(JSON.stringify(names) === JSON.stringify([...expectedTools].sort()), `${label}: tools/list has exactly the tools this role may use`,
    { got: names, want: [...expectedTools].sort() });
  // compact: no output schemas (billy.mcp_output_schemas), hints only where
  // they differ from the protocol's defaults, a read-only tool says so
  const bad = tools.filter((t) => !(t.description?.length > 40 && t.inputSchema?.type === 'object' && t.outputSchema === undefined
    && (t.name.match(/^((list|get|check|export|forecast|show)_|search$)/) ? t.annotations?.readOnlyHint === true : t.annotations?.readOnlyHint === undefined)
    && /^[A-Za-z0-9_]{1,64}$/.test(t.name)));
  ok(bad.length === 0, `${label}: every tool has a description, an input schema and its hints`, bad.map((t) => t.name));

  // every reading tool, its structured result checked by the SDK against the
  // output schema (a writer's session runs every tool: everyTool)
  if (!admin) await readingTools(client, label, names);

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

  // every tool end to end: as a billy_admin member over stdio, as a
  // billy_writer over HTTP (it writes only where it was granted writes)
  const admin = await session('stdio admin', stdioTransport(env.ADMIN), env.ADMIN_TOOLS.split(','), { admin: true });
  await everyTool(admin, 'v1 stdio');
  await admin.close();
  const writer = await session('http writer', httpTransport(env.HTTP_ADMIN_URL), env.WRITER_TOOLS.split(','), { admin: true });
  await everyTool(writer, 'v1 http');
  const r = await writer.callTool({ name: 'create_customer', arguments: { organization: env.ORG2_ID, customer: { name: 'Ikke her ApS' } } });
  ok(r.isError === true && /may not write to organization/.test(r.content[0].text),
    'http writer: a write to an organization granted without writes is refused', r);
  await writer.close();

  // docs/mcp.md's Claude Desktop / Cursor configuration, as written: its
  // command (installed under the test's staging root) and its conninfo
  // argument with this cluster's values, as the writer
  const readme = readFileSync(new URL('../../docs/mcp.md', import.meta.url), 'utf8');
  const block = readme.split('Claude Desktop (`claude_desktop_config.json`')[1].match(/```json\n([\s\S]*?)```/)[1];
  const conf = JSON.parse(block).mcpServers.billy;
  const conninfo = conf.args[0].replace(/host=\S+/, `host=${env.PGHOST}`).replace(/port=\S+/, `port=${env.PGPORT}`)
    .replace(/dbname=\S+/, `dbname=${env.PGDATABASE}`).replace(/user=\S+/, `user=${env.WRITER}`);
  const fromReadme = new Client({ name: 'billy-tap-readme', version: '0' });
  await fromReadme.connect(new StdioClientTransport({
    command: `${env.BILLY_WORK}/pg${conf.command}`, args: [conninfo], env: { PATH: env.PATH, ...conf.env }, stderr: 'pipe' }));
  ok(fromReadme.getServerVersion()?.name === 'billy', 'README stdio configuration: the bridge it names starts and answers', conf);
  await everyTool(fromReadme, 'README stdio config');
  await fromReadme.close();
} catch (e) {
  ok(false, 'the clients ran to the end', String(e?.stack ?? e));
}

finish();
