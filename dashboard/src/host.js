// A minimal MCP Apps host for the tests (dist/host.html): the ext-apps
// SDK's host side (AppBridge) with the MCP client connected to the bridge's
// /mcp, as a chat client would: list the tools, find show_dashboard's UI
// resource, read it, call the tool, render the app in a sandboxed iframe and
// let it call billy's tools through the host.
import { AppBridge, PostMessageTransport, getToolUiResourceUri } from '@modelcontextprotocol/ext-apps/app-bridge';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

const status = (s) => { document.getElementById('status').textContent = s; document.body.dataset.state = s; };
const host = { name: 'billy-test-host', version: '0.0.0' };
window.hostLog = { calls: [], errors: [] };

async function main() {
    const q = new URLSearchParams(location.search);
    const token = q.get('token');
    // what the model asks show_dashboard for
    const args = Object.fromEntries([['organization', q.get('org')], ['month', q.get('month')]].filter(([, v]) => v));
    const client = new Client(host);
    await client.connect(new StreamableHTTPClientTransport(new URL('/mcp', location.origin),
        { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
    const { tools } = await client.listTools();
    const show = tools.find((t) => t.name === 'show_dashboard');
    if (!show) throw new Error('no show_dashboard tool');
    const uri = getToolUiResourceUri(show);
    const { contents } = await client.readResource({ uri });
    window.hostLog.resource = { uri, mimeType: contents[0].mimeType, bytes: contents[0].text.length };
    const result = await client.callTool({ name: 'show_dashboard', arguments: args });
    window.hostLog.showResult = result;

    const iframe = document.createElement('iframe');
    iframe.setAttribute('sandbox', 'allow-scripts');
    document.body.append(iframe);
    // the host forwards the app's tool calls to the server through its client
    const bridge = new AppBridge(null, host, { serverTools: {}, logging: {} });
    bridge.oncalltool = async (params) => {
        const answer = await client.callTool(params);
        window.hostLog.calls.push({ name: params.name, isError: !!answer.isError });
        return answer;
    };
    bridge.oninitialized = () => {
        status('initialized');
        bridge.sendToolInput({ arguments: args });
        bridge.sendToolResult(result);
    };
    await bridge.connect(new PostMessageTransport(iframe.contentWindow, iframe.contentWindow));
    iframe.srcdoc = contents[0].text;
    status('connected');
}
main().catch((e) => { window.hostLog.errors.push(String(e?.stack || e)); status('failed: ' + e.message); });
