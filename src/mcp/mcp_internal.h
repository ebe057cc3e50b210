/*-------------------------------------------------------------------------
 *
 * mcp/mcp_internal.h
 *	  What the three parts of billy.mcp share: protocol.c (JSON-RPC, both
 *	  eras, dispatch), tools.c (the registry and tools/call) and shape.c
 *	  (results made into MCP answers).
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_MCP_INTERNAL_H
#define BILLY_MCP_INTERNAL_H

#include "postgres.h"

#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/jsonb.h"

/* JSON-RPC and MCP error codes */
#define RPC_PARSE_ERROR			(-32700)
#define RPC_INVALID_REQUEST		(-32600)
#define RPC_METHOD_NOT_FOUND	(-32601)
#define RPC_INVALID_PARAMS		(-32602)
#define RPC_INTERNAL_ERROR		(-32603)
/*
 * 2026-07-28 adds -32020 (header mismatch: the HTTP bridge's), -32021 (a
 * missing client capability: never, no billy method needs one) and:
 */
#define RPC_UNSUPPORTED_VERSION	(-32022)

/* the legacy protocol versions billy speaks (initialize), newest first */
#define LEGACY_1 "2025-11-25"
#define LEGACY_2 "2025-06-18"
#define LEGACY_3 "2025-03-26"
#define LEGACY_4 "2024-11-05"
static const char *const supported_versions[] = {LEGACY_1, LEGACY_2, LEGACY_3, LEGACY_4};
#define LEGACY_VERSIONS_JSON "\"" LEGACY_1 "\",\"" LEGACY_2 "\",\"" LEGACY_3 "\",\"" LEGACY_4 "\""
#define LEGACY_VERSIONS_TEXT LEGACY_1 ", " LEGACY_2 ", " LEGACY_3 " and " LEGACY_4

/* the modern era: the version a request names in its _meta, and the keys */
#define MODERN_VERSION "2026-07-28"
#define META_PROTOCOL_VERSION "io.modelcontextprotocol/protocolVersion"
#define META_CLIENT_CAPABILITIES "io.modelcontextprotocol/clientCapabilities"
#define META_CLIENT_INFO "io.modelcontextprotocol/clientInfo"
#define META_LOG_LEVEL "io.modelcontextprotocol/logLevel"
#define META_SERVER_INFO "io.modelcontextprotocol/serverInfo"

/* every version billy speaks, modern first (server/discover, -32022) */
#define ALL_VERSIONS_JSON \
	"[\"" MODERN_VERSION "\"," LEGACY_VERSIONS_JSON "]"

#define SERVER_NAME "billy"
#define SERVER_TITLE "billy: Billy's books in PostgreSQL"
#define SERVER_INFO_JSON \
	"{\"name\":\"" SERVER_NAME "\",\"title\":\"" SERVER_TITLE "\",\"version\":\"" BILLY_VERSION "\"}"

/*
 * what billy offers besides tools, in both eras: resources (the MCP App
 * ui://billy/dashboard) and prompts (workflow templates); neither list changes
 * while a client is connected, and resources/subscribe is not served
 */
#define CAPABILITIES_MORE \
	"\"resources\":{\"subscribe\":false,\"listChanged\":false},\"prompts\":{\"listChanged\":false}"


/* settings (settings.c) */
extern int	billy_mcp_max_rows;
extern int	billy_mcp_max_bytes;
extern int	billy_mcp_page_size;
extern bool billy_mcp_list_changed;
extern int	billy_mcp_cache_ttl_ms;
extern bool billy_mcp_output_schemas;

typedef struct McpRequest
{
	JsonbValue	id;				/* jbvString or jbvNumeric */
	const char *method;
	JsonbContainer *params;		/* NULL when absent */
	MemoryContext outer;		/* where the answer is built */
	bool		modern;			/* a 2026-07-28 request (params._meta) */
} McpRequest;

typedef enum ResultShape
{
	SHAPE_JSON,					/* json or jsonb: objects as they are */
	SHAPE_ROWS,					/* a set or a row: {rows, row_count,
								 * truncated} */
	SHAPE_ROW,					/* one composite row: the row itself */
	SHAPE_SCALAR				/* anything else: {result} */
} ResultShape;

typedef struct McpTool
{
	char	   *name;
	char	   *kind;
	Jsonb	   *input_schema;
	Jsonb	   *arguments;		/* argument name -> parameter name */
	Jsonb	   *fixed_args;
	Oid			func;			/* InvalidOid when not installed */
	char	   *problem;		/* why the caller may not use it, or NULL */
	char	   *operation;		/* the write operation
								 * (billy.write_operations()) */
	char	   *project;		/* what billy._mcp_project makes of the
								 * answer, or NULL */
	bool		read_only;		/* a call whose annotations say readOnlyHint */
} McpTool;

/* tools.c */
extern Datum mcp_tools_call(McpRequest *req);

/* shape.c: prepared plans, JSON-RPC answers, tool results */
extern SPIPlanPtr mcp_get_plan(const char *sql, int nargs, Oid *types);
extern Datum mcp_rpc_error(McpRequest *req, int code, const char *message, const char *data_json);
extern Datum mcp_rpc_result(McpRequest *req, const char *result_json);
extern Datum mcp_rpc_result_cacheable(McpRequest *req, const char *result_json);
extern char *mcp_tool_error_json(const char *text);
extern char *mcp_string_member(JsonbContainer *obj, const char *key, bool *present, bool *is_string);
extern char *mcp_shape_result(McpTool *tool, Jsonb *answer, ResultShape shape, JsonbContainer *args);
extern Datum mcp_rpc_tool_success(McpRequest *req, const char *structured);

#endif							/* BILLY_MCP_INTERNAL_H */
