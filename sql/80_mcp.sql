-- billy.mcp: the JSON-RPC 2.0 and MCP protocol cases, answered inside the
-- database.  Ids are echoed exactly (0 and strings included), notifications
-- are never answered, batches get -32600, versions are negotiated.

-- initialize: every supported version is echoed
SELECT v AS asked, r -> 'id' AS id, r -> 'result' ->> 'protocolVersion' AS answered,
       r -> 'result' -> 'capabilities' AS capabilities, r -> 'result' -> 'serverInfo' ->> 'name' AS server,
       r -> 'result' ->> 'instructions' LIKE 'billy serves the books%' AS has_instructions
FROM unnest(ARRAY['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05']) v,
     LATERAL billy.mcp(jsonb_build_object('jsonrpc', '2.0', 'id', 0, 'method', 'initialize',
         'params', jsonb_build_object('protocolVersion', v, 'capabilities', '{}'::jsonb,
                                      'clientInfo', '{"name": "regress", "version": "0"}'::jsonb))) r;

-- a version billy does not speak (older, newer, nonsense): the newest it speaks
SELECT v AS asked, billy.mcp(jsonb_build_object('jsonrpc', '2.0', 'id', 1, 'method', 'initialize',
           'params', jsonb_build_object('protocolVersion', v))) -> 'result' ->> 'protocolVersion' AS answered
FROM unnest(ARRAY['2024-10-07', '2026-07-28', '2099-01-01', 'latest', '']) v;

-- no version, or not a string: invalid params
SELECT billy.mcp('{"jsonrpc": "2.0", "id": 2, "method": "initialize", "params": {}}');
SELECT billy.mcp('{"jsonrpc": "2.0", "id": 3, "method": "initialize", "params": {"protocolVersion": 20251125}}');
SELECT billy.mcp('{"jsonrpc": "2.0", "id": 4, "method": "initialize"}') -> 'error' ->> 'code' AS code;

-- the stateless HTTP bridge turns listChanged off
SET billy.mcp_list_changed = off;
SELECT billy.mcp('{"jsonrpc": "2.0", "id": 5, "method": "initialize", "params": {"protocolVersion": "2025-06-18"}}')
       -> 'result' -> 'capabilities' AS capabilities;
RESET billy.mcp_list_changed;

-- ids: integers (0 too), strings (the empty string too), negative and large
-- numbers are echoed exactly
SELECT billy.mcp('{"jsonrpc": "2.0", "id": 0, "method": "ping"}');
SELECT billy.mcp('{"jsonrpc": "2.0", "id": "0", "method": "ping"}');
SELECT billy.mcp('{"jsonrpc": "2.0", "id": "", "method": "ping"}');
SELECT billy.mcp('{"jsonrpc": "2.0", "id": "server-discover-probe-1", "method": "ping"}');
SELECT billy.mcp('{"jsonrpc": "2.0", "id": -7, "method": "ping"}');
SELECT billy.mcp('{"jsonrpc": "2.0", "id": 9007199254740993, "method": "ping"}');
SELECT billy.mcp('{"jsonrpc": "2.0", "id": "ü ∑ \"quoted\"", "method": "ping", "params": {}}');

-- ids that are not ids: null, a boolean, an object
SELECT billy.mcp('{"jsonrpc": "2.0", "id": null, "method": "ping"}');
SELECT billy.mcp('{"jsonrpc": "2.0", "id": true, "method": "ping"}');
SELECT billy.mcp('{"jsonrpc": "2.0", "id": {"a": 1}, "method": "ping"}');

-- notifications get nothing back, whatever they are (a tools/call sent as a
-- notification is not run either)
SELECT coalesce(max(id), 0) AS jobs_before FROM billy.jobs \gset
SELECT billy.mcp('{"jsonrpc": "2.0", "method": "notifications/initialized"}') IS NULL AS no_answer;
SELECT billy.mcp('{"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 3}}') IS NULL AS no_answer;
SELECT billy.mcp('{"jsonrpc": "2.0", "method": "no/such/method"}') IS NULL AS no_answer;
SELECT billy.mcp('{"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "sync_billy_data"}}') IS NULL AS no_answer;
SELECT count(*) AS jobs_queued_by_the_notification FROM billy.jobs WHERE id > :jobs_before;

-- responses (billy never asks, so there is nothing to match) get nothing back
SELECT billy.mcp('{"jsonrpc": "2.0", "id": 7, "result": {}}') IS NULL AS no_answer;
SELECT billy.mcp('{"jsonrpc": "2.0", "id": 7, "error": {"code": -1, "message": "x"}}') IS NULL AS no_answer;

-- batches, and messages that are not objects: invalid request, id null
SELECT billy.mcp('[{"jsonrpc": "2.0", "id": 1, "method": "ping"}, {"jsonrpc": "2.0", "id": 2, "method": "ping"}]');
SELECT billy.mcp('[]');
SELECT billy.mcp('"ping"');
SELECT billy.mcp('42');
SELECT billy.mcp('{}');
SELECT billy.mcp(NULL);

-- jsonrpc must be "2.0"; method a string; params an object
SELECT billy.mcp('{"id": 8, "method": "ping"}');
SELECT billy.mcp('{"jsonrpc": "1.0", "id": 8, "method": "ping"}');
SELECT billy.mcp('{"jsonrpc": "2.0", "id": 8}');
SELECT billy.mcp('{"jsonrpc": "2.0", "id": 8, "method": 5}');
SELECT billy.mcp('{"jsonrpc": "2.0", "id": 8, "method": "ping", "params": [1, 2]}');
SELECT billy.mcp('{"jsonrpc": "2.0", "id": 8, "method": "ping", "params": null}');

-- unknown methods: -32601, and the modern era's discovery falls back to initialize
SELECT billy.mcp('{"jsonrpc": "2.0", "id": 9, "method": "completion/complete"}');
SELECT billy.mcp('{"jsonrpc": "2.0", "id": "server-discover-probe-1", "method": "server/discover"}') -> 'error' ->> 'code' AS code;
SELECT billy.mcp('{"jsonrpc": "2.0", "id": 10, "method": "logging/setLevel", "params": {"level": "debug"}}') -> 'error' ->> 'code' AS code;

-- tools/list: bad params
SELECT billy.mcp('{"jsonrpc": "2.0", "id": 11, "method": "tools/list", "params": {"cursor": 5}}');
SELECT billy.mcp('{"jsonrpc": "2.0", "id": 12, "method": "tools/list", "params": {"cursor": "not-a-billy-cursor"}}');
SELECT billy.mcp('{"jsonrpc": "2.0", "id": 13, "method": "tools/list", "params": {"cursor": "10:x;DROP TABLE"}}') -> 'error' ->> 'code' AS code;

-- tools/list as superuser: the tools whose function is installed, in order
-- (those of the sync engine here; other concerns add theirs)
SELECT t ->> 'name' AS name, t -> 'annotations' ->> 'readOnlyHint' AS read_only,
       t -> 'annotations' ->> 'openWorldHint' AS open_world,
       t -> 'outputSchema' IS NOT NULL AS has_output_schema
FROM jsonb_array_elements(billy.mcp('{"jsonrpc": "2.0", "id": 14, "method": "tools/list"}') -> 'result' -> 'tools') t
WHERE t ->> 'name' IN ('get_organization_settings', 'check_connection', 'sync_billy_data', 'get_sync_status');
SELECT count(*) = (SELECT count(*) FROM billy.mcp_tool_status() WHERE available) AS lists_every_available_tool
FROM jsonb_array_elements(billy.mcp('{"jsonrpc": "2.0", "id": 14, "method": "tools/list"}') -> 'result' -> 'tools') t;

-- pages: with two tools a page, the cursors walk the same list, once
SET billy.mcp_page_size = 2;
SELECT billy.mcp('{"jsonrpc": "2.0", "id": 15, "method": "tools/list"}') -> 'result' ->> 'nextCursor' AS first_cursor;
WITH RECURSIVE pages(n, cursor, names) AS (
    SELECT 1, r -> 'result' ->> 'nextCursor', ARRAY(SELECT jsonb_array_elements(r -> 'result' -> 'tools') ->> 'name')
    FROM billy.mcp('{"jsonrpc": "2.0", "id": 16, "method": "tools/list"}') r
    UNION ALL
    SELECT p.n + 1, r -> 'result' ->> 'nextCursor', ARRAY(SELECT jsonb_array_elements(r -> 'result' -> 'tools') ->> 'name')
    FROM pages p, LATERAL billy.mcp(jsonb_build_object('jsonrpc', '2.0', 'id', 17, 'method', 'tools/list',
                                                        'params', jsonb_build_object('cursor', p.cursor))) r
    WHERE p.cursor IS NOT NULL
), paged AS (
    SELECT array_agg(x ORDER BY p.n, i) AS names, max(p.n) AS pages, bool_and(cardinality(p.names) = 2 OR p.cursor IS NULL) AS full_pages
    FROM pages p, unnest(p.names) WITH ORDINALITY AS u(x, i)
)
SELECT paged.names = ARRAY(SELECT name FROM billy.mcp_tool_status() WHERE available) AS same_tools_in_order,
       paged.pages = ceil((SELECT count(*) FROM billy.mcp_tool_status() WHERE available) / 2.0) AS pages_of_two,
       full_pages
FROM paged;
RESET billy.mcp_page_size;

-- tools/call: protocol errors (no name, unknown tool) are JSON-RPC errors
SELECT billy.mcp('{"jsonrpc": "2.0", "id": 18, "method": "tools/call", "params": {}}');
SELECT billy.mcp('{"jsonrpc": "2.0", "id": 19, "method": "tools/call", "params": {"name": "billy.get_invoice"}}');
SELECT billy.mcp('{"jsonrpc": "2.0", "id": 20, "method": "tools/call"}') -> 'error' ->> 'code' AS code;

-- tool errors are results with isError, for the model to read: bad
-- arguments, an organization that does not exist, a tool whose function
-- is not installed
SELECT billy.mcp('{"jsonrpc": "2.0", "id": 21, "method": "tools/call", "params": {"name": "get_sync_status", "arguments": {"organisation": "x"}}}');
SELECT billy.mcp('{"jsonrpc": "2.0", "id": 22, "method": "tools/call", "params": {"name": "get_sync_status", "arguments": {"organization": 5}}}');
SELECT billy.mcp('{"jsonrpc": "2.0", "id": 23, "method": "tools/call", "params": {"name": "get_sync_status", "arguments": [1]}}');
SELECT billy.mcp('{"jsonrpc": "2.0", "id": 24, "method": "tools/call", "params": {"name": "get_sync_status", "arguments": {"organization": "no such organization"}}}');
SELECT billy.mcp('{"jsonrpc": "2.0", "id": 25, "method": "tools/call", "params": {"name": "sync_billy_data", "arguments": {"resources": ["invoices", "receipts"]}}}');
SELECT billy.mcp('{"jsonrpc": "2.0", "id": 26, "method": "tools/call", "params": {"name": "sync_billy_data", "arguments": {"resources": ["invoices", "invoices"]}}}');
BEGIN;
INSERT INTO billy.mcp_tools (name, title, description, input_schema, function, issue)
VALUES ('regress_waiting', 'Waiting', 'A tool whose function is not installed.', '{"type": "object"}',
        'billy_test.not_installed', 'a later release');
SELECT billy.mcp('{"jsonrpc": "2.0", "id": 27, "method": "tools/call", "params": {"name": "regress_waiting"}}');
SELECT count(*) AS listed FROM jsonb_array_elements(billy.mcp('{"jsonrpc": "2.0", "id": 28, "method": "tools/list"}') -> 'result' -> 'tools') t
WHERE t ->> 'name' = 'regress_waiting';
ROLLBACK;

-- The modern era (2026-07-28): a request whose params._meta names the
-- protocol version is served statelessly, without initialize.  m(method,
-- params, meta) builds one (meta NULL: the minimal valid envelope).
CREATE FUNCTION pg_temp.m(method text, params jsonb DEFAULT '{}', meta jsonb DEFAULT NULL, id jsonb DEFAULT '1')
RETURNS jsonb LANGUAGE sql AS $$
    SELECT billy.mcp(jsonb_build_object('jsonrpc', '2.0', 'id', id, 'method', method,
        'params', params || jsonb_build_object('_meta', coalesce(meta,
            '{"io.modelcontextprotocol/protocolVersion": "2026-07-28",
              "io.modelcontextprotocol/clientCapabilities": {},
              "io.modelcontextprotocol/clientInfo": {"name": "regress", "version": "0"}}'))))
$$;

-- server/discover: every version (modern first), no listChanged (billy has no
-- subscriptions/listen), instructions, how long to cache, and the identity
-- of the server in _meta; the id (the v2 client's probe id) echoed
SELECT r -> 'id' AS id, r -> 'result' ->> 'resultType' AS result_type,
       r -> 'result' -> 'supportedVersions' AS supported,
       r -> 'result' -> 'capabilities' AS capabilities,
       r -> 'result' ->> 'instructions' LIKE 'billy serves the books%' AS has_instructions,
       r -> 'result' -> 'ttlMs' AS ttl_ms, r -> 'result' ->> 'cacheScope' AS cache_scope,
       r -> 'result' -> '_meta' -> 'io.modelcontextprotocol/serverInfo' ->> 'name' AS server,
       r -> 'result' ? 'protocolVersion' AS has_protocol_version
FROM pg_temp.m('server/discover', id => '"server-discover-probe-1"') r;

-- clientInfo is optional; logLevel, when given, a syslog level
SELECT pg_temp.m('server/discover', meta => '{"io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}},
    "io.modelcontextprotocol/logLevel": "warning"}') -> 'result' ->> 'resultType' AS result_type;

-- tools/list: the same tools as the legacy answer, in the same (deterministic)
-- order, with resultType, ttlMs (billy.mcp_cache_ttl_ms) and cacheScope
-- private (what a role sees depends on its grants)
SELECT r -> 'result' ->> 'resultType' AS result_type, r -> 'result' -> 'ttlMs' AS ttl_ms,
       r -> 'result' ->> 'cacheScope' AS cache_scope,
       r -> 'result' -> 'tools' = billy.mcp('{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}') -> 'result' -> 'tools'
           AS same_tools_as_legacy,
       r -> 'result' -> 'tools' = pg_temp.m('tools/list') -> 'result' -> 'tools' AS same_order_again,
       jsonb_array_length(r -> 'result' -> 'tools') = (SELECT count(*) FROM billy.mcp_tool_status() WHERE available)
           AS every_available_tool
FROM pg_temp.m('tools/list') r;
SET billy.mcp_cache_ttl_ms = 0;
SELECT pg_temp.m('tools/list') -> 'result' -> 'ttlMs' AS ttl_ms_when_off;
RESET billy.mcp_cache_ttl_ms;
-- the legacy answer has none of the modern members
SELECT billy.mcp('{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}') -> 'result' ?| ARRAY['resultType', 'ttlMs', 'cacheScope', '_meta']
       AS legacy_has_modern_members;

-- pages work the same way, cursors included
SET billy.mcp_page_size = 2;
SELECT jsonb_array_length(r -> 'result' -> 'tools') AS page_one, r -> 'result' ->> 'nextCursor' AS cursor,
       (SELECT array_agg(t ->> 'name') FROM jsonb_array_elements(
            pg_temp.m('tools/list', jsonb_build_object('cursor', r -> 'result' -> 'nextCursor')) -> 'result' -> 'tools') t)
       = (SELECT array_agg(name) FROM (SELECT name FROM billy.mcp_tool_status() WHERE available OFFSET 2 LIMIT 2) s) AS page_two
FROM pg_temp.m('tools/list') r;
RESET billy.mcp_page_size;
SELECT pg_temp.m('tools/list', '{"cursor": "not-a-billy-cursor"}') -> 'error' ->> 'code' AS bad_cursor;

-- tools/call: a result (structured, mirrored as text) with resultType
-- complete; an isError result too; protocol errors as in the legacy era
SELECT r -> 'result' ->> 'resultType' AS result_type, r -> 'result' -> 'isError' AS is_error,
       r -> 'result' -> 'structuredContent' ? 'organizations' AS structured,
       (r -> 'result' -> 'content' -> 0 ->> 'text')::jsonb = r -> 'result' -> 'structuredContent' AS text_mirrors_it,
       r -> 'result' -> '_meta' -> 'io.modelcontextprotocol/serverInfo' ->> 'version' AS server_version
FROM pg_temp.m('tools/call', '{"name": "get_organization_settings", "arguments": {}}') r;
SELECT pg_temp.m('tools/call', '{"name": "get_sync_status", "arguments": {"organization": 5}}') -> 'result';
SELECT pg_temp.m('tools/call', '{"name": "get_sync_status", "arguments": {"organization": "no such organization"}}')
       -> 'result' ->> 'resultType' AS result_type_of_sql_error;
SELECT pg_temp.m('tools/call', '{"name": "billy.get_invoice"}') -> 'error';
SELECT pg_temp.m('tools/call') -> 'error' ->> 'code' AS no_name;

-- what 2026-07-28 does not have is not found, whatever the legacy era says:
-- ping, initialize (a request with _meta needs no handshake), logging/setLevel,
-- subscriptions/listen (billy has none), completion/complete
SELECT pg_temp.m('ping');
SELECT v AS method, pg_temp.m(v) -> 'error' ->> 'code' AS code
FROM unnest(ARRAY['initialize', 'logging/setLevel', 'subscriptions/listen', 'completion/complete', 'notifications/initialized']) v;

-- an unsupported version, in _meta: -32022 with what billy supports and what
-- was asked (a legacy version too: those are spoken after initialize)
SELECT pg_temp.m('tools/list', meta => jsonb_build_object('io.modelcontextprotocol/protocolVersion', v,
           'io.modelcontextprotocol/clientCapabilities', '{}'::jsonb)) -> 'error' AS error
FROM unnest(ARRAY['2099-01-01', '2025-11-25']) v;

-- a malformed envelope is -32602 naming the key, never a quiet legacy answer
SELECT pg_temp.m('tools/list', meta => '{"io.modelcontextprotocol/protocolVersion": "2026-07-28"}') -> 'error';
SELECT m AS meta, pg_temp.m('tools/list', meta => m::jsonb) -> 'error' -> 'data' AS data
FROM unnest(ARRAY[
    '{"io.modelcontextprotocol/protocolVersion": 20260728, "io.modelcontextprotocol/clientCapabilities": {}}',
    '{"io.modelcontextprotocol/protocolVersion": null, "io.modelcontextprotocol/clientCapabilities": {}}',
    '{"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": []}',
    '{"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}, "io.modelcontextprotocol/clientInfo": {"name": "x"}}',
    '{"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}, "io.modelcontextprotocol/logLevel": "loud"}',
    '{"io.modelcontextprotocol/protocolVersion": "2099-01-01"}']) m;

-- without the protocol version in _meta a request is legacy: capabilities
-- alone, or a _meta that is not an object, change nothing
SELECT billy.mcp('{"jsonrpc": "2.0", "id": 30, "method": "ping", "params": {"_meta": {"io.modelcontextprotocol/clientCapabilities": {}}}}');
SELECT billy.mcp('{"jsonrpc": "2.0", "id": 31, "method": "ping", "params": {"_meta": "2026-07-28"}}');
SELECT billy.mcp('{"jsonrpc": "2.0", "id": 32, "method": "server/discover", "params": {"_meta": {"progressToken": 1}}}') -> 'error' ->> 'code' AS code;

-- notifications with _meta get nothing back and do nothing; ids are echoed
SELECT coalesce(max(id), 0) AS jobs_before FROM billy.jobs \gset
SELECT billy.mcp('{"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "sync_billy_data",
    "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}}}') IS NULL AS no_answer;
SELECT billy.mcp('{"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1,
    "_meta": {"io.modelcontextprotocol/protocolVersion": "2099-01-01"}}}') IS NULL AS no_answer;
SELECT count(*) AS jobs_queued_by_the_notification FROM billy.jobs WHERE id > :jobs_before;
SELECT i AS id, pg_temp.m('server/discover', id => i) -> 'id' = i AS echoed
FROM unnest(ARRAY['0', '""', '"0"', '-7', '9007199254740993']::jsonb[]) i;
