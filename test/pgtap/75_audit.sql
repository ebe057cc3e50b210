-- The audit trail: entries chained by SHA-256 per organization, secrets
-- redacted, the acting role taken from the session, append-only even for
-- superusers, and edits made behind the trigger's back detected by
-- billy.verify_audit_log.  One transaction, rolled back.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(41);

SELECT billy.connect(billy_test.token(1), billy_test.setting('api_url'));
SELECT billy.grant_organization('billy_mcp', billy_test.org(1));

-- only administrators write entries of their choosing; the MCP layer records
-- its own calls as the owner (below)
SELECT ok(NOT has_function_privilege('billy_mcp', 'billy.audit(text, text, text, jsonb, text, text)', 'EXECUTE'),
          'billy_mcp, the role AI clients connect as, may not call billy.audit');
SELECT ok(NOT has_function_privilege('billy_reader', 'billy.audit(text, text, text, jsonb, text, text)', 'EXECUTE'),
          'nor may readers');
SET LOCAL ROLE billy_mcp;
SELECT throws_ok($$SELECT billy.audit('mcp:tools/call', NULL, 'forged', NULL, 'ok')$$, '42501', NULL,
                 'billy_mcp calling it is refused');
RESET ROLE;

SET LOCAL ROLE billy_admin;
SELECT ok(billy.audit('mcp:tools/call', billy_test.org(1), 'list_invoices',
                      '{"tool": "list_invoices", "arguments": {"limit": 5}, "auth": {"api_token": "sekret", "Password": "x"}}',
                      'ok', 'Claude Desktop 0.9') > 0, 'billy_admin records an entry');
RESET ROLE;
SELECT ok(billy.audit('mcp:tools/call', billy_test.org(1), 'get_invoice', '{"id": "abc"}', 'error: not found') > 0, 'a second entry');
SELECT ok(billy.audit('mcp:initialize', NULL, NULL, NULL, 'ok') > 0, 'an entry of no organization');

SELECT is((SELECT actor_role::text FROM billy.audit_log WHERE target = 'list_invoices'), 'billy_admin',
          'the acting role comes from the session, not from the arguments');
SELECT is((SELECT client FROM billy.audit_log WHERE target = 'list_invoices'), 'Claude Desktop 0.9', 'the client as given');
SELECT is((SELECT request #>> '{auth,api_token}' FROM billy.audit_log WHERE target = 'list_invoices'), '[redacted]',
          'a token in the request is redacted');
SELECT is((SELECT request #>> '{auth,Password}' FROM billy.audit_log WHERE target = 'list_invoices'), '[redacted]',
          'so is a password, whatever its case');
SELECT is((SELECT request #>> '{arguments,limit}' FROM billy.audit_log WHERE target = 'list_invoices'), '5',
          'the rest of the request is kept');

-- texts longer than 500 characters (a CSV file) are kept as their length in
-- characters and the SHA-256 of their UTF-8 bytes, worked out here by
-- PostgreSQL; several in one request, with more of the request after them
SELECT is(billy._redact(jsonb_build_object('csv', repeat('æ;ø', 200), 'rows', 3,
                                           'files', jsonb_build_array(repeat('x', 501), 'short'),
                                           'note', repeat('ab', 300)))::text,
          jsonb_build_object('csv', jsonb_build_object('length', 600, 'sha256', encode(sha256(convert_to(repeat('æ;ø', 200), 'UTF8')), 'hex')),
                             'rows', 3,
                             'files', jsonb_build_array(jsonb_build_object('length', 501, 'sha256', encode(sha256(repeat('x', 501)::bytea), 'hex')),
                                                        'short'),
                             'note', jsonb_build_object('length', 600, 'sha256', encode(sha256(repeat('ab', 300)::bytea), 'hex')))::text,
          'long texts become their length and SHA-256, at any depth');
SELECT is(billy._redact(to_jsonb(repeat('é', 700)))::text,
          jsonb_build_object('length', 700, 'sha256', encode(sha256(convert_to(repeat('é', 700), 'UTF8')), 'hex'))::text,
          'so does a long text on its own');
SELECT is(billy._redact(jsonb_build_object('note', repeat('y', 500)))::text,
          jsonb_build_object('note', repeat('y', 500))::text, 'a text of 500 characters is kept');

-- lengths are capped: an entry is kept for years
SELECT throws_ok($$SELECT billy.audit(repeat('a', 101), NULL, NULL, NULL, 'ok')$$, '22001',
                 'action is too long for the audit trail: 101 characters, at most 100', 'a long action is refused');
SELECT throws_ok($$SELECT billy.audit('x', NULL, repeat('t', 501), NULL, 'ok')$$, '22001', NULL, 'a long target too');
SELECT throws_ok($$SELECT billy.audit('x', NULL, NULL, NULL, repeat('o', 2001))$$, '22001', NULL, 'a long outcome too');
SELECT throws_ok($$SELECT billy.audit('x', NULL, NULL, NULL, 'ok', repeat('c', 201))$$, '22001', NULL, 'a long client too');
SELECT throws_ok($$SELECT billy.audit('x', NULL, NULL, (SELECT jsonb_object_agg('k' || i, i) FROM generate_series(1, 3000) i), 'ok')$$,
                 '22001', NULL, 'and a request of more than 16384 bytes (after redaction)');
SELECT ok(billy.audit('x', NULL, NULL, jsonb_build_object('csv', repeat('z', 100000)), 'ok') > 0,
          'a long text inside the request counts as its length and SHA-256, so it fits');

SELECT is((SELECT string_agg(seq::text, ',' ORDER BY seq) FROM billy.audit_log WHERE chain = billy_test.org(1)), '1,2',
          'each organization has its own chain, counted 1, 2, ...');
SELECT is((SELECT string_agg(DISTINCT chain, ',') FROM billy.audit_log WHERE action IN ('mcp:initialize', 'x')), '*', 'entries of no organization chain under *');

-- the hash, worked out here independently: SHA-256 over the previous hash and the entry as a JSON array
SELECT is((SELECT hash FROM billy.audit_log WHERE target = 'get_invoice'),
          (SELECT sha256(prev_hash || convert_to(jsonb_build_array(chain, seq,
                     to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), actor_role, session_role, client,
                     action, organization_id, target, request, outcome)::text, 'UTF8'))
           FROM billy.audit_log WHERE target = 'get_invoice'),
          'an entry''s hash is SHA-256 of the previous hash and its content');
SELECT is((SELECT prev_hash FROM billy.audit_log WHERE target = 'get_invoice'),
          (SELECT hash FROM billy.audit_log WHERE target = 'list_invoices'), 'and its prev_hash is the previous entry''s hash');
SELECT is(billy.verify_audit_log(billy_test.org(1)) ->> 'ok', 'true', 'the chain verifies');
SELECT is((billy.verify_audit_log() ->> 'entries')::int, (SELECT count(*)::int FROM billy.audit_log), 'every chain verifies');

-- append-only, even for a superuser
SELECT throws_ok($$UPDATE billy.audit_log SET outcome = 'ok' WHERE target = 'get_invoice'$$, '42501',
                 'billy.audit_log is append-only: UPDATE is not allowed', 'UPDATE is refused, even for a superuser');
SELECT throws_ok($$DELETE FROM billy.audit_log$$, '42501', 'billy.audit_log is append-only: DELETE is not allowed', 'DELETE is refused');
SELECT throws_ok($$TRUNCATE billy.audit_log$$, '42501', 'billy.audit_log is append-only: TRUNCATE is not allowed', 'TRUNCATE is refused');
SET LOCAL ROLE billy_admin;
SELECT throws_ok($$INSERT INTO billy.audit_log (chain, seq, actor_role, session_role, action, outcome, prev_hash, hash)
                   VALUES ('*', 99, 'x', 'x', 'forged', 'ok', '\x', '\x')$$, '42501', NULL, 'billy_admin cannot insert entries directly');
RESET ROLE;

-- a superuser edits behind the trigger's back: detected
SAVEPOINT tamper;
ALTER TABLE billy.audit_log DISABLE TRIGGER append_only;
UPDATE billy.audit_log SET outcome = 'ok' WHERE target = 'get_invoice';
SELECT is(billy.verify_audit_log(billy_test.org(1)) - 'at',
          jsonb_build_object('ok', false, 'chain', billy_test.org(1), 'broken_at_seq', 2,
                             'broken_at_id', (SELECT id FROM billy.audit_log WHERE target = 'get_invoice'),
                             'problem', 'its hash does not match its content: the entry was changed after it was written'),
          'a changed entry is found, with its id');
ROLLBACK TO SAVEPOINT tamper;
SAVEPOINT tamper2;
ALTER TABLE billy.audit_log DISABLE TRIGGER append_only;
SELECT billy.audit('third', billy_test.org(1), NULL, NULL, 'ok');
DELETE FROM billy.audit_log WHERE target = 'get_invoice';
SELECT is(billy.verify_audit_log(billy_test.org(1)) ->> 'problem',
          'entry 3 follows entry 1: entries between them were removed', 'a removed entry is found');
ROLLBACK TO SAVEPOINT tamper2;
SAVEPOINT tamper3;
ALTER TABLE billy.audit_log DISABLE TRIGGER append_only;
-- re-hashing the changed entry itself breaks the link to the next one
SELECT billy.audit('third', billy_test.org(1), NULL, NULL, 'ok');
UPDATE billy.audit_log SET outcome = 'ok' WHERE target = 'get_invoice';
UPDATE billy.audit_log SET hash = sha256(prev_hash || billy._audit_payload(audit_log)) WHERE target = 'get_invoice';
SELECT is(billy.verify_audit_log(billy_test.org(1)) ->> 'problem',
          'its prev_hash is not the hash of the entry before it: an entry was removed, inserted or re-hashed',
          'a changed entry whose hash was recomputed breaks the link to the next one');
ROLLBACK TO SAVEPOINT tamper3;
SELECT is(billy.verify_audit_log(billy_test.org(1)) ->> 'ok', 'true', 'untouched, the chain verifies again');

-- MCP tool calls, recorded by billy.mcp as the owner: a successful read is
-- counted in one entry per minute; writes, refusals and errors in full, cut
-- to size
DELETE FROM billy.audit_pending;
SET LOCAL ROLE billy_mcp;
SELECT billy.mcp(jsonb_build_object('jsonrpc', '2.0', 'id', i, 'method', 'tools/call',
                                    'params', jsonb_build_object('name', 'get_organization_settings', 'arguments', '{}'::jsonb)))
FROM generate_series(1, 3) i;
SELECT billy.mcp(jsonb_build_object('jsonrpc', '2.0', 'id', 4, 'method', 'tools/call',
                                    'params', jsonb_build_object('name', 'get_organization_settings',
                                                                 'arguments', jsonb_build_object('nonsense', 1))));
SELECT billy.mcp(jsonb_build_object('jsonrpc', '2.0', 'id', 5, 'method', 'tools/call',
                                    'params', jsonb_build_object('name', 'get_organization_settings',
                                                                 'arguments', (SELECT jsonb_object_agg('k' || i, i) FROM generate_series(1, 3000) i))));
RESET ROLE;
SELECT is((SELECT count(*)::int FROM billy.audit_pending WHERE actor_role = 'billy_mcp'), 5, 'five calls queued');
SELECT is(billy._audit_chain_pending(), 5, 'the worker''s step chains the five');
SELECT is((SELECT (request ->> 'calls')::int FROM billy.audit_log WHERE actor_role = 'billy_mcp' AND outcome = 'ok'), 3,
          'the three successful reads are one entry that counts them');
SELECT is((SELECT array_agg(k ORDER BY k) FROM billy.audit_log, jsonb_object_keys(request) k
           WHERE actor_role = 'billy_mcp' AND outcome = 'ok'), ARRAY['calls', 'clients', 'first_at', 'last_at'],
          'with the number of clients and the first and last call');
SELECT is((SELECT request #>> '{arguments,nonsense}' FROM billy.audit_log WHERE actor_role = 'billy_mcp' AND outcome = 'invalid_arguments'
           AND NOT request ? 'truncated' AND request -> 'arguments' ? 'nonsense'), '1',
          'a refused call is kept in full, with its arguments');
SELECT is((SELECT (request ->> 'truncated')::boolean AND (request ->> 'length')::int > 16384 FROM billy.audit_log
           WHERE actor_role = 'billy_mcp' AND request ? 'truncated'), true,
          'a refused call with a huge request keeps its length and SHA-256 instead');
SELECT is(billy.verify_audit_log() ->> 'ok', 'true', 'and every chain still verifies');

SELECT * FROM finish();
ROLLBACK;
