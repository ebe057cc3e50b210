-- Receipts, the SQL side, on the sandbox's generated books (organization
-- 1): a file's type by its first bytes, base64 that is not, the previews of
-- upload_file and attach_file (the request describes the file, never holds
-- its bytes; bad input names its argument and nothing is stored), a
-- document's attachments and the bills without a receipt against the
-- mirror, the MCP tools' schemas and caps.  The writes themselves (commit,
-- retries, a crash between the upload and the attachment) are in
-- test/t/94-receipts-mcp.t: a commit needs a committed preview.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(37);
SET LOCAL client_min_messages = warning;

SELECT billy.connect(billy_test.token(1), billy_test.setting('api_url')) AS org \gset
SELECT count(*) AS synced FROM billy.sync_now(:'org', ARRAY['contacts', 'bills', 'invoices', 'files', 'attachments']) \gset
SET LOCAL billy.enable_writes = on;

\set pdf '\'%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n\''
SELECT encode(convert_to(:pdf, 'UTF8'), 'base64') AS pdf64 \gset
SELECT bill_id AS bare FROM billy.bills_without_receipt(:'org') ORDER BY entry_date DESC, bill_id LIMIT 1 \gset
SELECT owner_id AS covered FROM billy.attachments WHERE organization_id = :'org' AND owner_type = 'bill' AND deleted_at IS NULL ORDER BY id LIMIT 1 \gset

-- the bytes, before anything is sent
SELECT is(billy._file_type(convert_to(:pdf, 'UTF8')), 'application/pdf', 'a PDF is a PDF by its first bytes');
SELECT is(billy._file_type('\xffd8ffe000104a464946'::bytea), 'image/jpeg', 'and a JPEG');
SELECT is(billy._file_type('\x89504e470d0a1a0a0000'::bytea), 'image/png', 'a PNG');
SELECT is(billy._file_type(convert_to('GIF89a....', 'UTF8')), 'image/gif', 'a GIF');
SELECT is(billy._file_type(convert_to('PK\x03\x04 a zip', 'UTF8')), NULL, 'anything else is none of them');
SELECT is(billy._base64_bytes('JVBERi0x' || E'\n' || 'LjQ='), convert_to('%PDF-1.4', 'UTF8'), 'base64 decodes, line breaks ignored');
SELECT is(billy._base64_bytes('not base64!'), NULL, 'text that is not base64 decodes to nothing');

-- a preview describes the file and holds no bytes
SELECT billy.preview_write('upload_file', jsonb_build_object('org', :'org', 'fileName', 'kvittering.pdf',
    'contentBase64', :'pdf64', 'billId', :'bare')) AS pv \gset
SELECT is(:'pv'::jsonb #>> '{request,file,contentType}', 'application/pdf', 'upload_file previews the file''s type');
SELECT is((:'pv'::jsonb #>> '{request,file,size}')::integer, length(convert_to(:pdf, 'UTF8')), 'its size');
SELECT is(:'pv'::jsonb #>> '{request,file,sha256}', encode(sha256(convert_to(:pdf, 'UTF8')), 'hex'), 'and its SHA-256');
SELECT is(:'pv'::jsonb #> '{request,then}', jsonb_build_object('operation', 'attach_file', 'args', jsonb_build_object('billId', :'bare')),
    'with the attachment to the bill to follow');
SELECT ok(position(:'pdf64' IN :'pv') = 0 AND NOT :'pv'::jsonb -> 'request' ? 'body', 'the preview shows no bytes and no JSON body');
SELECT ok(:'pv'::jsonb ->> 'summary' ~ '^upload kvittering\.pdf \(application/pdf, \d+ bytes, SHA-256 [0-9a-f]{12}…\) and attach it to bill ',
    'its summary says what is uploaded and where it goes');
SELECT is((SELECT count(*) FROM billy.audit_log WHERE request::text LIKE '%' || left(:'pdf64', 20) || '%'), 0::bigint,
    'no audit entry holds the bytes');

-- bad input: named, nothing stored
SELECT count(*) AS previews FROM billy.write_previews \gset
SELECT throws_like(format($$SELECT billy.preview_write('upload_file', '{"org": "%s", "fileName": "a.pdf", "contentBase64": "%s"}')$$,
                          :'org', encode(convert_to('just text, no PDF', 'UTF8'), 'base64')),
    '%contentBase64 is not a PDF, JPEG, PNG or GIF file%', 'a file that is not a PDF or an image is refused, naming contentBase64');
SELECT throws_like(format($$SELECT billy.preview_write('upload_file', '{"org": "%s", "fileName": "a.pdf", "contentBase64": "@@@"}')$$, :'org'),
    '%contentBase64 is not base64%', 'bad base64 is refused, naming contentBase64');
SELECT throws_like(format($$SELECT billy.preview_write('upload_file', '{"org": "%s", "fileName": "a.pdf", "contentBase64": "%s", "billId": "nosuchbill"}')$$,
                          :'org', :'pdf64'),
    '%billId no bill "nosuchbill" in the mirror%', 'an unknown bill is refused, naming billId');
SELECT throws_like(format($$SELECT billy.preview_write('upload_file', '{"org": "%s", "fileName": "a/b.pdf", "contentBase64": "%s"}')$$,
                          :'org', :'pdf64'),
    '%fileName must not contain control characters or slashes%', 'a file name with a slash is refused');
SELECT throws_like(format($$SELECT billy.preview_write('upload_file', '{"org": "%s", "fileName": "a.pdf", "contentBase64": "%s", "billId": "%s", "invoiceId": "x"}')$$,
                          :'org', :'pdf64', :'bare'),
    '%invoiceId and billId were both given%', 'a file goes to one document');
SELECT throws_like(format($$SELECT billy.upload_file('%s', 'a.pdf', ''::bytea)$$, :'org'),
    '%contentBase64 must not be empty%', 'an empty file is refused');
SELECT throws_like(format($$SELECT billy.upload_file('%s', 'big.pdf', convert_to('%%PDF-', 'UTF8') || decode(repeat('00', 20 * 1024 * 1024), 'hex'))$$, :'org'),
    '%contentBase64 must be at most 27962028 characters long%', 'a file over 20 MB is refused');
SELECT is((SELECT count(*) FROM billy.write_previews), :'previews'::bigint, 'and none of them stored a preview');

-- attach_file: a file of the mirror, not twice
SELECT file_id AS covered_file FROM billy.attachments WHERE organization_id = :'org' AND owner_reference = 'bill:' || :'covered' LIMIT 1 \gset
SELECT throws_like(format($$SELECT billy.preview_write('attach_file', '{"org": "%s", "fileId": "%s", "billId": "%s"}')$$, :'org', :'covered_file', :'covered'),
    '%fileId is attached to bill % already%', 'attaching a file to a bill that has it already is refused');
SELECT throws_like(format($$SELECT billy.preview_write('attach_file', '{"org": "%s", "fileId": "nosuchfile", "billId": "%s"}')$$, :'org', :'bare'),
    '%fileId no file "nosuchfile" in the mirror%', 'an unknown file is refused');
SELECT is(billy.preview_write('attach_file', jsonb_build_object('org', :'org', 'fileId', :'covered_file', 'billId', :'bare')) #> '{request,body}',
    jsonb_build_object('attachment', jsonb_build_object('ownerReference', 'bill:' || :'bare', 'fileId', :'covered_file')),
    'attach_file sends the ownerReference and the fileId');

-- reading: attachments and the bills without one, against the mirror
SELECT is((SELECT count(*) FROM billy.list_attachments(:'org', 'bill:' || :'covered')),
          (SELECT count(*) FROM billy.attachments WHERE organization_id = :'org' AND owner_reference = 'bill:' || :'covered' AND deleted_at IS NULL),
          'list_attachments lists a bill''s attachments');
SELECT ok((SELECT bool_and(file_name IS NOT NULL AND file_size > 0 AND file_type IS NOT NULL) FROM billy.list_attachments(:'org', 'bill:' || :'covered')),
          'with each file''s name, size and type');
SELECT throws_like(format($$SELECT * FROM billy.list_attachments('%s', '%s')$$, :'org', :'covered'),
    '%owner must be bill:<id>, invoice:<id> or daybookTransaction:<id>%', 'an owner without its kind is refused');
SELECT is((SELECT count(*) FROM billy.bills_without_receipt(:'org')),
          (SELECT count(*) FROM billy.bills b WHERE b.organization_id = :'org' AND b.state = 'approved' AND b.deleted_at IS NULL
             AND b.id NOT IN (SELECT owner_id FROM billy.attachments WHERE organization_id = :'org' AND owner_type = 'bill' AND deleted_at IS NULL)),
          'bills_without_receipt: every approved bill with no attachment');
SELECT ok((SELECT count(*) FROM billy.bills_without_receipt(:'org')) > 0
          AND NOT EXISTS (SELECT 1 FROM billy.bills_without_receipt(:'org') WHERE bill_id = :'covered'),
          'some, and not a bill that has one');

-- billy.write_checks: follow-ups billy did not send, that failed, or that were never taken up
-- (the outbox rows as the executor leaves them; the sending itself is in 94-receipts-mcp.t)
CREATE FUNCTION pg_temp.done_upload(finished interval) RETURNS bigint LANGUAGE sql AS $$
    INSERT INTO billy.write_ops (organization_id, operation, args, request, summary, state, requested_by, session_role,
                                 finished_at, record_id)
    VALUES (billy_test.org(1), 'upload_file', '{}', jsonb_build_object('method', 'POST', 'path', '/files',
            'then', jsonb_build_object('operation', 'attach_file', 'args', jsonb_build_object('billId', 'bill-x'))),
            'upload a.pdf', 'done', current_user, current_user, now() - finished, 'file-' || finished::text)
    RETURNING id
$$;
SELECT pg_temp.done_upload('2 hours') AS lost, pg_temp.done_upload('5 minutes') AS recent,
       pg_temp.done_upload('1 minute') AS skipped, pg_temp.done_upload('30 seconds') AS refused \gset
INSERT INTO billy.write_follow_ups (write_op_id, organization_id, note) VALUES (:skipped, :'org', 'not sent: the organization is read-only');
INSERT INTO billy.write_ops (organization_id, operation, args, request, summary, state, requested_by, session_role, error)
VALUES (:'org', 'attach_file', '{}', '{}', 'attach a.pdf to bill bill-x', 'failed', current_user, current_user, 'Billy: the bill is locked')
RETURNING id AS attach \gset
INSERT INTO billy.write_follow_ups (write_op_id, organization_id, follow_up_id) VALUES (:refused, :'org', :attach);
SELECT is((SELECT array_agg(check_name || ' ' || write_op_id ORDER BY check_name) FROM billy.write_checks(:'org') WHERE check_name LIKE 'follow_up%'),
          ARRAY['follow_up_failed ' || :attach, 'follow_up_not_sent ' || :skipped, 'follow_up_unsent_long ' || :lost],
          'write_checks lists a follow-up not sent, one refused (by the follow-up''s write) and one not taken up in an hour; not one still due');
SELECT alike((SELECT detail FROM billy.write_checks(:'org') WHERE check_name = 'follow_up_not_sent'),
            '%attach_file of {"billId": "bill-x"}: not sent: the organization is read-only; send it by hand (attach_file with fileId file-00:01:00)%',
            'it says what was to follow, why it was not sent, and what to send by hand');
SELECT alike((SELECT detail FROM billy.write_checks(:'org') WHERE check_name = 'follow_up_failed'),
            '%write ' || :attach || ' failed: Billy: the bill is locked%', 'a refused one says why');
SELECT alike((SELECT detail FROM billy.write_checks(:'org') WHERE check_name = 'follow_up_unsent_long'),
            '%not sent since%is the worker running?%', 'one never taken up asks whether the worker runs');
SELECT billy.connect(billy_test.token(2), billy_test.setting('api_url')) AS org2 \gset
SELECT is((SELECT count(*) FROM billy.write_checks(:'org2') WHERE check_name LIKE 'follow_up%'), 0::bigint,
          'another organization''s checks do not list them');

-- MCP: the upload tool's cap, and the tools' arguments
SELECT is((SELECT input_schema #>> '{properties,content_base64,maxLength}' FROM billy.mcp_tools WHERE name = 'upload_file'),
          ((2 * 1024 * 1024 + 2) / 3 * 4)::text, 'upload_file takes at most 2 MiB of file as base64 through MCP');
SELECT is((SELECT string_agg(k, ',' ORDER BY k) FROM billy.mcp_tools, jsonb_object_keys(input_schema -> 'properties') k WHERE name = 'list_attachments'),
          'bill_id,invoice_id,organization,period', 'list_attachments takes a bill or invoice, or a period');

SELECT * FROM finish();
ROLLBACK;
