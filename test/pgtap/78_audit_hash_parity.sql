-- Parity of the audit chain's hash in its two languages: C computes it when
-- the worker chains the entries MCP calls queued (billy.audit_pending ->
-- billy._audit_chain_pending: audit.c's payload_bytes); SQL computes it when
-- billy.audit appends an entry (billy._audit_append) and recomputes it to
-- verify (billy._audit_payload, billy.verify_audit_log).  Entries whose
-- content is hard to serialize the same way twice (non-ASCII and escaped
-- text, numbers in every notation, nesting, NULLs, summarized long texts,
-- redacted secrets, times with no microseconds, long ago, or given in
-- another time zone) go through both paths and must hash as SQL recomputes.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(6);

SELECT billy.connect(billy_test.token(1));

CREATE TEMP TABLE cases (n int, action text, org text, target text, request jsonb, outcome text, client text);
INSERT INTO cases VALUES
    (1, 'parity:plain', NULL, NULL, NULL, 'ok', NULL),
    (2, 'parity:danish', billy_test.org(1), 'invoices/æøå', '{"name": "Søren Ærø Å/S", "note": "€ 1.250,00 — “quoted”"}', 'ok', 'klient ø'),
    (3, 'parity:escapes', billy_test.org(1), E'tab\there', jsonb_build_object('s', E'line1\nline2\t\\ "q" \u0001 /'), E'error: a\nb', NULL),
    (4, 'parity:numbers', billy_test.org(1), NULL, '{"a": 1.10, "b": -0, "c": 1e3, "d": 12345678901234567890.000001, "e": 0.000001, "f": -2.5E-7}', 'ok', NULL),
    (5, 'parity:nested', NULL, 'x', '{"z": [1, {"y": null, "x": [true, false]}], "a": {"b": {"c": {}}}, "": []}', 'ok', NULL),
    (6, 'parity:secrets', billy_test.org(1), NULL, '{"token": "abc", "nested": {"api_key": "k", "password": ["p"]}, "ok": "shown"}', 'ok', NULL),
    (7, 'parity:long', billy_test.org(1), NULL, jsonb_build_object('csv', repeat('æ', 700), 'list', jsonb_build_array(repeat('z', 501))), 'ok', NULL),
    (8, 'parity:by-name', (SELECT name FROM billy_test.orgs WHERE n = 1), NULL, '"a bare string"', 'ok', NULL),
    (9, 'parity:emoji', NULL, '🧾', '{"k🔑": "v😀"}', 'ok 🧾', '🤖');

-- the SQL path
SELECT billy.audit(action, org, target, request, outcome, client) FROM cases ORDER BY n;
-- the C path: queued as an MCP call queues, then chained as the worker does
SET LOCAL timezone = 'America/St_Johns';
INSERT INTO billy.audit_pending (at, actor_role, session_role, client, action, organization_id, target, request, outcome)
SELECT t.at, current_user, session_user, c.client, 'queued:' || c.action,
       CASE WHEN c.org = billy_test.org(1) THEN c.org END, c.target, billy._redact(c.request), c.outcome
FROM cases c
CROSS JOIN (VALUES (clock_timestamp()), ('2026-03-29 01:59:59+01'::timestamptz), ('1999-12-31 23:59:59.000001+00'),
                   ('2026-06-30 12:00:00-02:30')) t(at)
ORDER BY c.n, t.at;
RESET timezone;

-- an MCP call queues its entry; the worker's chaining (here called directly) hashes it in C too
SELECT billy.mcp(jsonb_build_object('jsonrpc', '2.0', 'id', 1, 'method', 'tools/call',
       'params', jsonb_build_object('name', 'get_invoice',
                 'arguments', jsonb_build_object('org', billy_test.org(1), 'id', 'no such invoice æ'))));
SELECT billy._audit_chain_pending(1000);

SELECT is((SELECT count(*)::int FROM billy.audit_log WHERE action LIKE 'parity:%'), 9, 'every case was appended by SQL');
SELECT is((SELECT count(*)::int FROM billy.audit_log WHERE action LIKE 'queued:parity:%'), 36, 'and chained by C, at four times each');
SELECT ok((SELECT count(*) FROM billy.audit_log WHERE action NOT LIKE 'parity:%' AND target = 'get_invoice') >= 1,
          'and the queued MCP call too');
SELECT is((SELECT string_agg(format('%s (seq %s)', a.action, a.seq), ', ' ORDER BY a.seq)
           FROM billy.audit_log a
           WHERE a.hash IS DISTINCT FROM sha256(a.prev_hash || billy._audit_payload(a))),
          NULL, 'the hash C or SQL computed equals SQL''s recomputation for every entry');
SELECT is((SELECT request ->> 'token' FROM billy.audit_log WHERE action = 'parity:secrets'), '[redacted]',
          'the secret was redacted before hashing (what is hashed is what is kept)');
SELECT is(billy.verify_audit_log() ->> 'ok', 'true', 'and every chain verifies');

SELECT * FROM finish();
ROLLBACK;
