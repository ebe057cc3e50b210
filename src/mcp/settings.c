/*-------------------------------------------------------------------------
 *
 * mcp/settings.c
 *	  The billy.mcp_* settings: how much a result may carry, how tools/list
 *	  pages, how long lists may be cached by a client.
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include "utils/guc.h"

#include "mcp/mcp.h"
#include "mcp/mcp_internal.h"
#include "module.h"

/* settings */
int			billy_mcp_max_rows = 500;
int			billy_mcp_max_bytes = 100000;
int			billy_mcp_page_size = 100;
bool		billy_mcp_list_changed = true;
int			billy_mcp_cache_ttl_ms = 60000;
bool		billy_mcp_output_schemas = false;

/* mcp_define_settings defines the MCP settings */
static void
mcp_define_settings(void)
{
	DefineCustomIntVariable("billy.mcp_max_rows",
							"Most rows an MCP tool result carries; more are cut and flagged as truncated.",
							NULL,
							&billy_mcp_max_rows,
							500, 1, 100000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("billy.mcp_max_bytes",
							"Most bytes of JSON an MCP tool result carries; rows or text beyond are cut and flagged.",
							"Claude Code refuses tool results over about 25,000 tokens by default; 100 kB stays below.",
							&billy_mcp_max_bytes,
							100000, 1024, 64 * 1024 * 1024,
							PGC_USERSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);
	DefineCustomIntVariable("billy.mcp_page_size",
							"Tools per page of an MCP tools/list answer.",
							NULL,
							&billy_mcp_page_size,
							100, 1, 1000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("billy.mcp_list_changed",
							 "Whether billy.mcp declares the tools.listChanged capability.",
							 "Stdio bridges push notifications/tools/list_changed; stateless HTTP cannot, so its bridge turns this off.",
							 &billy_mcp_list_changed,
							 true,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
	DefineCustomBoolVariable("billy.mcp_output_schemas",
							 "Whether tools/list gives each tool's outputSchema.",
							 "Off by default: the schemas cost a model's context more than they help it; structuredContent is there either way.",
							 &billy_mcp_output_schemas,
							 false,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("billy.mcp_cache_ttl_ms",
							"How long a 2026-07-28 client may cache billy's tools/list and server/discover answers (ttlMs).",
							"0: fetch again every time.  The answers depend on the role's grants, so they are marked cacheScope private.",
							&billy_mcp_cache_ttl_ms,
							60000, 0, 24 * 3600 * 1000,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
}

const BillyModule billy_mcp_module = {
	.name = "mcp",
	.define_settings = mcp_define_settings,
};
