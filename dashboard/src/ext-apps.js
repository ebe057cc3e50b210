// The ext-apps SDK's app side, bundled apart from the dashboard: the page
// carries it as inert text and runs it only inside an MCP Apps host, so a
// browser never parses it (most of the page's bytes are the SDK and zod).
import { App } from '@modelcontextprotocol/ext-apps';

window.BillyExtApps = { App };
