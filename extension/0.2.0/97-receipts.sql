------------------------------------------------------------------------------
-- Receipts: files uploaded to Billy and attached to bills and invoices, as
-- gated writes (two rows of billy.write_catalog), the attachments of a
-- document, a file's bytes on demand, and the bills without a receipt.
--
--   upload_file   POST /files: the raw bytes (src/files.c builds the
--                 request); with billId or invoiceId it is followed, once
--                 done, by attach_file (the "then" of its request, sent by
--                 the same executor, or by the worker after a crash or an
--                 unknown outcome: billy._write_follow_up)
--   attach_file   POST /attachments {ownerReference, fileId}
--
-- The bytes: args.contentBase64, in the preview and the outbox until the
-- write is done or failed (then only their SHA-256 is kept); the request,
-- the preview and the audit trail carry the file's name, type, size and
-- SHA-256, never its bytes.
------------------------------------------------------------------------------

-- what billy checks of a file before anything is sent (src/files.c)
CREATE FUNCTION billy._file_type(content bytea) RETURNS text
LANGUAGE C IMMUTABLE STRICT
AS 'MODULE_PATHNAME', 'billy_file_type';
COMMENT ON FUNCTION billy._file_type(bytea) IS
'The type the bytes are by their first bytes, of those Billy takes: application/pdf, image/jpeg, image/png, image/gif; NULL for anything else. Internal.';

CREATE FUNCTION billy._base64_bytes(t text) RETURNS bytea
LANGUAGE C IMMUTABLE STRICT
AS 'MODULE_PATHNAME', 'billy_base64_bytes';
COMMENT ON FUNCTION billy._base64_bytes(text) IS 'Base64 text decoded (whitespace ignored), or NULL when it is not base64. Internal.';

CREATE FUNCTION billy.file_content(org text, file_id text) RETURNS bytea
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_file_content';
COMMENT ON FUNCTION billy.file_content(text, text) IS
'The bytes of a file of the mirror (billy.files; billy.list_attachments names a document''s), read from Billy now (GET /files/:id/download, charged to the organization''s API budget) and not stored. Billy''s downloadUrl carries a token: billy never stores or shows it.';

-- the largest file: Billy's (and the sandbox's) 20 MB; through MCP less
-- (billy._file_mcp_cap)
CREATE FUNCTION billy._file_max_bytes() RETURNS integer
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN 20 * 1024 * 1024;
COMMENT ON FUNCTION billy._file_max_bytes() IS 'The largest file billy sends: 20 MB, Billy''s limit. Internal.';

-- Through MCP the bytes come as base64 inside one JSON-RPC message, which
-- the bridge takes up to 4 MiB (--max-body): 2 MiB of file is 2,796,204
-- characters of base64, with room left for the rest of the call.
CREATE FUNCTION billy._file_mcp_cap() RETURNS integer
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN 2 * 1024 * 1024;
COMMENT ON FUNCTION billy._file_mcp_cap() IS
'The largest file the upload_file MCP tool takes: 2 MiB (its base64, 2,796,204 characters, fits the bridge''s default 4 MiB request with room to spare). Larger files: billy.upload_file in SQL (20 MB). Internal.';

-- _file_owner: the document a file goes to, from billId or invoiceId
CREATE FUNCTION billy._file_owner(org text, args jsonb, OUT ref text, OUT label text, OUT problems jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    problems := '[]';
    IF args ? 'billId' AND args ? 'invoiceId' THEN
        problems := billy._problem('invoiceId', 'and billId were both given: a file goes to one document');
    ELSIF args ? 'billId' THEN
        IF NOT billy._live('bills', org, args ->> 'billId') THEN
            problems := billy._problem('billId', billy._missing('bill', org, args ->> 'billId'));
        END IF;
        ref := 'bill:' || (args ->> 'billId');
        label := 'bill ' || (args ->> 'billId');
    ELSIF args ? 'invoiceId' THEN
        IF NOT billy._live('invoices', org, args ->> 'invoiceId') THEN
            problems := billy._problem('invoiceId', billy._missing('invoice', org, args ->> 'invoiceId'));
        END IF;
        ref := 'invoice:' || (args ->> 'invoiceId');
        label := 'invoice ' || coalesce((SELECT 'no. ' || i.invoice_no FROM billy.invoices i
                                        WHERE i.organization_id = org AND i.id = args ->> 'invoiceId' AND i.invoice_no IS NOT NULL),
                                       args ->> 'invoiceId');
    END IF;
END
$$;
COMMENT ON FUNCTION billy._file_owner(text, jsonb) IS
'The document a file is attached to (billId or invoiceId, one, live in the mirror) as Billy''s ownerReference and as words, with the problems found. Internal.';

-- upload_file: the bytes checked before anything is sent
CREATE FUNCTION billy._plan_upload_file(org text, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    bytes bytea := billy._base64_bytes(args ->> 'contentBase64');
    kind text;
    owner record := billy._file_owner(org, args);
    p jsonb := owner.problems;
    sha text;
    same record;
BEGIN
    IF bytes IS NULL THEN
        p := p || billy._problem('contentBase64', 'is not base64: pass the file''s bytes base64-encoded');
    ELSIF length(bytes) = 0 THEN
        p := p || billy._problem('contentBase64', 'is empty: the file has no bytes');
    ELSIF length(bytes) > billy._file_max_bytes() THEN
        p := p || billy._problem('contentBase64', format('is a file of %s bytes; Billy takes at most %s (20 MB)', length(bytes), billy._file_max_bytes()));
    ELSE
        kind := billy._file_type(bytes);
        IF kind IS NULL THEN
            p := p || billy._problem('contentBase64', 'is not a PDF, JPEG, PNG or GIF file (by its first bytes); Billy takes only those');
        END IF;
    END IF;
    IF args ->> 'fileName' ~ '[\x01-\x1f\x7f/\\]' THEN
        p := p || billy._problem('fileName', 'must not contain control characters or slashes');
    END IF;
    IF jsonb_array_length(p) > 0 THEN
        RETURN jsonb_build_object('problems', p);
    END IF;
    sha := encode(sha256(bytes), 'hex');
    -- never twice: the same file on the same document, or these bytes
    -- uploaded through billy before and still in Billy
    SELECT a.id AS attachment_id, f.id AS file_id INTO same
    FROM billy.attachments a JOIN billy.files f ON f.organization_id = a.organization_id AND f.id = a.file_id
    WHERE a.organization_id = org AND a.owner_reference = owner.ref AND a.deleted_at IS NULL AND f.deleted_at IS NULL
      AND f.file_name = args ->> 'fileName' AND f.file_size = length(bytes)
    LIMIT 1;
    IF FOUND THEN
        RETURN jsonb_build_object('problems', billy._problem('fileName',
            format('is attached to %s already (file %s of the same size, attachment %s): nothing to do', owner.label, same.file_id, same.attachment_id)));
    END IF;
    SELECT w.id, w.record_id INTO same FROM billy.write_ops w
    WHERE w.organization_id = org AND w.operation = 'upload_file' AND w.state = 'done'
      AND w.request #>> '{file,sha256}' = sha AND billy._live('files', org, w.record_id)
    ORDER BY w.id DESC LIMIT 1;
    IF FOUND THEN
        RETURN jsonb_build_object('problems', billy._problem('contentBase64',
            format('was uploaded already as file %s (write %s): attach that file with attach_file instead of uploading it again', same.record_id, same.id)));
    END IF;
    RETURN jsonb_build_object(
        'file', jsonb_build_object('fileName', args ->> 'fileName', 'contentType', kind, 'size', length(bytes), 'sha256', sha),
        'then', CASE WHEN owner.ref IS NOT NULL THEN jsonb_build_object('operation', 'attach_file',
                    'args', jsonb_strip_nulls(jsonb_build_object('billId', args -> 'billId', 'invoiceId', args -> 'invoiceId'))) END,
        'touches', CASE WHEN owner.ref IS NOT NULL THEN jsonb_build_array(billy._touch(
                    CASE WHEN args ? 'billId' THEN 'bills' ELSE 'invoices' END, org, split_part(owner.ref, ':', 2))) ELSE '[]' END,
        -- the look-up after an unknown outcome: a file of this name and
        -- size that the mirror did not have when it was planned
        'lookup', jsonb_build_object('kind', 'list', 'path', '/files?sortProperty=createdTime&sortDirection=DESC&pageSize=1000',
            'root', 'files', 'match', jsonb_build_object('fileName', args ->> 'fileName', 'fileSize', length(bytes)::text),
            'exclude', coalesce((SELECT jsonb_agg(f.id) FROM billy.files f WHERE f.organization_id = org
                                 AND f.file_name = args ->> 'fileName' AND f.file_size = length(bytes)), '[]')),
        'summary', format('upload %s (%s, %s bytes, SHA-256 %s…)%s', args ->> 'fileName', kind, length(bytes), left(sha, 12),
                          CASE WHEN owner.ref IS NOT NULL THEN ' and attach it to ' || owner.label ELSE '' END));
END
$$;
COMMENT ON FUNCTION billy._plan_upload_file(text, jsonb) IS
'Plans upload_file: the bytes (contentBase64) decoded, not empty, at most 20 MB, a PDF, JPEG, PNG or GIF by their first bytes (sent as that Content-Type); the document (billId or invoiceId) in the mirror; refused when that document has a file of this name and size already, or these bytes were uploaded through billy and are still in Billy. The request carries the file''s name, type, size and SHA-256 (the bytes stay in the args) and, with a document, attach_file to follow. Internal.';

-- attach_file: a file of the mirror to a bill or invoice, once
CREATE FUNCTION billy._plan_attach_file(org text, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    owner record := billy._file_owner(org, args);
    p jsonb := owner.problems;
    f billy.files;
    dup text;
BEGIN
    IF owner.ref IS NULL AND jsonb_array_length(p) = 0 THEN
        p := p || billy._problem('billId', 'or invoiceId is required: the document to attach the file to');
    END IF;
    SELECT * INTO f FROM billy.files x WHERE x.organization_id = org AND x.id = args ->> 'fileId' AND x.deleted_at IS NULL;
    IF NOT FOUND THEN
        p := p || billy._problem('fileId', billy._missing('file', org, args ->> 'fileId'));
    END IF;
    IF jsonb_array_length(p) > 0 THEN
        RETURN jsonb_build_object('problems', p);
    END IF;
    SELECT a.id INTO dup FROM billy.attachments a
    WHERE a.organization_id = org AND a.owner_reference = owner.ref AND a.file_id = f.id AND a.deleted_at IS NULL;
    IF FOUND THEN
        RETURN jsonb_build_object('problems', billy._problem('fileId',
            format('is attached to %s already (attachment %s): nothing to do', owner.label, dup)));
    END IF;
    RETURN jsonb_build_object(
        'body', jsonb_build_object('attachment', jsonb_build_object('ownerReference', owner.ref, 'fileId', f.id)),
        'touches', jsonb_build_array(billy._touch('files', org, f.id),
                                     billy._touch(CASE WHEN args ? 'billId' THEN 'bills' ELSE 'invoices' END, org, split_part(owner.ref, ':', 2))),
        'lookup', jsonb_build_object('kind', 'list',
            'path', '/attachments?ownerReference=' || billy._urlencode(owner.ref) || '&fileId=' || billy._urlencode(f.id),
            'root', 'attachments', 'match', jsonb_build_object('ownerReference', owner.ref, 'fileId', f.id)),
        'summary', format('attach file %s (%s) to %s', f.id, f.file_name, owner.label));
END
$$;
COMMENT ON FUNCTION billy._plan_attach_file(text, jsonb) IS
'Plans attach_file: the file (fileId) and the document (billId or invoiceId) in the mirror, and not attached to each other already. Internal.';

INSERT INTO billy.write_catalog (operation, resource, method, path, lookup, input_schema, plan_function, description,
                                 wrapper, wrapper_args, wrapper_comment, mcp_tool, mcp_title, mcp_description, mcp_renames,
                                 mcp_sort, destructive, idempotent, builtin)
VALUES
('upload_file', 'files', 'POST', '/files', NULL,
 billy._args_schema(jsonb_build_object(
    'fileName', '{"type": "string", "minLength": 1, "maxLength": 255}'::jsonb,
    'contentBase64', jsonb_build_object('type', 'string', 'minLength', 1,
        'maxLength', (billy._file_max_bytes() + 2) / 3 * 4,
        'description', 'PDF, JPEG, PNG or GIF, base64.'),
    'billId', '{"type": "string", "minLength": 1, "maxLength": 64, "description": "Attach it to this bill,"}'::jsonb,
    'invoiceId', '{"type": "string", "minLength": 1, "maxLength": 64, "description": "or invoice."}'::jsonb),
    ARRAY['fileName', 'contentBase64']),
 'billy._plan_upload_file', 'upload a file (a receipt), and attach it to a bill or invoice',
 'billy.upload_file', '{}', NULL,
 'upload_file', 'Upload a receipt', 'Uploads a receipt (PDF or image) to Billy.', '{}', 430, false, false, true),
('attach_file', 'attachments', 'POST', '/attachments', NULL,
 billy._args_schema(jsonb_build_object(
    'fileId', '{"type": "string", "minLength": 1, "maxLength": 64}'::jsonb,
    'billId', '{"type": "string", "minLength": 1, "maxLength": 64}'::jsonb,
    'invoiceId', '{"type": "string", "minLength": 1, "maxLength": 64}'::jsonb),
    ARRAY['fileId']),
 'billy._plan_attach_file', 'attach a file already in Billy to a bill or invoice',
 'billy.attach_file', ARRAY['fileId', 'billId', 'invoiceId'],
 'Attaches a file already in Billy (billy.files) to a bill or an invoice (one of bill_id, invoice_id). Returns what billy.commit_write returns.',
 'attach_file', 'Attach a file', 'Attaches a file already in Billy to a bill or invoice.', '{}', 431, false, false, true);

DO $gen$
BEGIN
    EXECUTE billy._write_wrapper_sql('attach_file');
END
$gen$;

-- the MCP tool takes less than SQL: the bytes travel as base64 in one
-- JSON-RPC message (billy._file_mcp_cap); its check names the argument
UPDATE billy.mcp_tools SET input_schema = jsonb_set(input_schema, '{properties,content_base64}',
    (input_schema #> '{properties,content_base64}') || jsonb_build_object('maxLength', (billy._file_mcp_cap() + 2) / 3 * 4,
        'description', 'PDF, JPEG, PNG or GIF, base64; at most 2 MiB.'))
WHERE name = 'upload_file';

CREATE FUNCTION billy.upload_file(org text, file_name text, content bytea,
                                  bill_id text DEFAULT NULL, invoice_id text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF content IS NULL THEN
        RAISE EXCEPTION 'content must not be null' USING ERRCODE = '22004',
            HINT = 'Pass the file''s bytes, e.g. pg_read_binary_file(...) or a bytea parameter.';
    END IF;
    RETURN billy._write_now('upload_file', jsonb_strip_nulls(jsonb_build_object('org', org, 'fileName', file_name,
        'contentBase64', translate(encode(content, 'base64'), E'\n', ''),
        'billId', bill_id, 'invoiceId', invoice_id)));
END
$$;
COMMENT ON FUNCTION billy.upload_file(text, text, bytea, text, text) IS
'Uploads a file to Billy (POST /files) and, with bill_id or invoice_id, attaches it to that bill or invoice; a write, previewed and committed in one call (billy.preview_write(''upload_file'', ...) does it in two, with the bytes as contentBase64). The bytes are checked first: a PDF, JPEG, PNG or GIF by their first bytes (the Content-Type Billy gets is the one they show), not empty, at most 20 MB. Refused when the document has a file of this name and size already, or the same bytes were uploaded through billy before (attach that file with billy.attach_file). Returns what billy.commit_write returns (of the attachment, when there is one).';
REVOKE ALL ON FUNCTION billy.upload_file(text, text, bytea, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION billy.upload_file(text, text, bytea, text, text) TO billy_admin, billy_writer;

------------------------------------------------------------------------------
-- Follow-ups: the write a done write's request names in "then" (an upload's
-- attachment), sent once.  The executor sends it at once; a follow-up that
-- a crash or an unknown outcome left unsent is queued by the worker's
-- housekeeping (billy._write_follow_ups_left) as a reconcile_write job.
------------------------------------------------------------------------------

CREATE TABLE billy.write_follow_ups (
    write_op_id     bigint PRIMARY KEY REFERENCES billy.write_ops (id) ON DELETE CASCADE,
    organization_id text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    follow_up_id    bigint REFERENCES billy.write_ops (id) ON DELETE SET NULL,
    note            text,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE billy.write_follow_ups IS
'Which write followed a done write whose request named one in "then" (an upload and its attachment): follow_up_id, or a note saying why none was sent (e.g. the bill was deleted meanwhile). One row per write: a follow-up is planned and sent once.';
ALTER TABLE billy.write_follow_ups ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON billy.write_follow_ups FOR SELECT USING ((SELECT billy._sees_all())
    OR organization_id OPERATOR(pg_catalog.=) ANY ((SELECT billy._visible_orgs())::pg_catalog.text[]));
CREATE INDEX write_ops_then ON billy.write_ops (finished_at) WHERE request OPERATOR(pg_catalog.?) 'then';
-- readers see their organizations' follow-ups, as their writes (billy.write_checks lists the unsent)
GRANT SELECT ON billy.write_follow_ups TO billy_reader;

-- _write_follow_up: the plan of a done write's follow-up (claimed: the row
-- of billy.write_follow_ups), with who asked for the first; NULL when there
-- is none, it was claimed already, or its plan has problems (noted)
CREATE FUNCTION billy._write_follow_up(op bigint) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    w billy.write_ops;
    plan jsonb;
    claimed bigint;
BEGIN
    SELECT * INTO w FROM billy.write_ops x WHERE x.id = op AND x.state = 'done' AND x.request ? 'then';
    IF NOT FOUND OR w.record_id IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO billy.write_follow_ups (write_op_id, organization_id) VALUES (op, w.organization_id)
    ON CONFLICT (write_op_id) DO NOTHING RETURNING write_op_id INTO claimed;
    IF claimed IS NULL THEN
        RETURN NULL;
    END IF;
    plan := billy._plan_write(w.request #>> '{then,operation}',
        (w.request #> '{then,args}') || jsonb_build_object('org', w.organization_id, 'fileId', w.record_id));
    IF jsonb_array_length(plan -> 'problems') > 0 THEN
        UPDATE billy.write_follow_ups SET note = 'not sent: ' || (SELECT string_agg((e ->> 'field') || ' ' || (e ->> 'message'), '; ')
                                                                  FROM jsonb_array_elements(plan -> 'problems') e)
        WHERE write_op_id = op;
        RETURN NULL;
    END IF;
    RETURN (plan - 'problems') || jsonb_build_object('args', (w.request #> '{then,args}') || jsonb_build_object('fileId', w.record_id),
        'actor', w.requested_by, 'session', w.session_role, 'client', w.client);
END
$$;
COMMENT ON FUNCTION billy._write_follow_up(bigint) IS
'Claims the follow-up of a done write whose request names one in "then" (an upload''s attachment, with the uploaded file as fileId) and returns its plan with who asked for the first write; NULL when there is none, another process claimed it, or its plan has problems (noted in billy.write_follow_ups). Internal.';

CREATE FUNCTION billy._write_follow_up_begun(op bigint, follow_up bigint) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    UPDATE billy.write_follow_ups SET follow_up_id = follow_up WHERE write_op_id = op;
END;
COMMENT ON FUNCTION billy._write_follow_up_begun(bigint, bigint) IS 'Records the write that follows a write (committed with it). Internal.';

CREATE FUNCTION billy._write_follow_up_skip(op bigint, why text) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    INSERT INTO billy.write_follow_ups (write_op_id, organization_id, note)
    SELECT w.id, w.organization_id, 'not sent: ' || why FROM billy.write_ops w WHERE w.id = op
    ON CONFLICT (write_op_id) DO NOTHING;
END;
COMMENT ON FUNCTION billy._write_follow_up_skip(bigint, text) IS
'Records that the worker did not send a write''s follow-up, and why (writes turned off, the organization read-only): it is not tried again; attach_file does it by hand. Internal.';

-- the worker: follow-ups a crash or an unknown outcome left unsent
CREATE FUNCTION billy._write_follow_ups_left() RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    w record;
    n integer := 0;
BEGIN
    FOR w IN SELECT x.id, x.organization_id FROM billy.write_ops x
             WHERE x.request ? 'then' AND x.state = 'done' AND x.finished_at > now() - interval '1 day'
               AND NOT EXISTS (SELECT 1 FROM billy.write_follow_ups f WHERE f.write_op_id = x.id)
               AND NOT EXISTS (SELECT 1 FROM billy.jobs j WHERE j.kind = 'reconcile_write' AND j.state IN ('queued', 'running')
                               AND j.args = jsonb_build_object('write_op_id', x.id, 'follow_up', true))
    LOOP
        PERFORM billy._enqueue('reconcile_write', w.organization_id, jsonb_build_object('write_op_id', w.id, 'follow_up', true), NULL, 20);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
COMMENT ON FUNCTION billy._write_follow_ups_left() IS
'Queues a reconcile_write job ({"write_op_id", "follow_up": true}) for each done write of the last day whose follow-up was never sent (its sender died after the first write, or the first was found done after an unknown outcome). The worker calls it. Internal.';

-- once a write is settled its bytes leave the outbox; their hash stays
CREATE FUNCTION billy._write_drop_bytes() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.args := (NEW.args - 'contentBase64') || jsonb_build_object('contentSha256', NEW.request #>> '{file,sha256}');
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION billy._write_drop_bytes() IS
'Trigger: a done or failed write keeps the SHA-256 of its file, not its bytes (contentBase64); an unknown one keeps them for a resend. Internal.';
CREATE TRIGGER write_ops_drop_bytes BEFORE INSERT OR UPDATE ON billy.write_ops
    FOR EACH ROW WHEN (NEW.state OPERATOR(pg_catalog.=) ANY (ARRAY['done', 'failed']) AND NEW.args OPERATOR(pg_catalog.?) 'contentBase64')
    EXECUTE FUNCTION billy._write_drop_bytes();

------------------------------------------------------------------------------
-- Reading: a document's attachments, the bills without a receipt
------------------------------------------------------------------------------

CREATE FUNCTION billy.list_attachments(org text, owner text)
RETURNS TABLE (attachment_id text, owner_reference text, file_id text, file_name text, file_type text,
               file_size bigint, is_pdf boolean, is_image boolean, created_time timestamptz, priority integer)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    org_id text := billy._resolve_org(org);
    ref text := btrim(owner);
BEGIN
    IF ref IS NULL OR ref !~ '^(bill|invoice|daybookTransaction):[^:\s]+$' THEN
        RAISE EXCEPTION 'owner must be bill:<id>, invoice:<id> or daybookTransaction:<id>, not "%"', coalesce(owner, 'null')
            USING ERRCODE = '22023', HINT = 'For example billy.list_attachments(org, ''bill:'' || bill_id).';
    END IF;
    RETURN QUERY
    SELECT a.id, a.owner_reference, a.file_id, f.file_name, f.file_type, f.file_size, f.is_pdf, f.is_image, a.created_time, a.priority
    FROM billy.attachments a
    LEFT JOIN billy.files f ON f.organization_id = a.organization_id AND f.id = a.file_id AND f.deleted_at IS NULL
    WHERE a.organization_id = org_id AND a.owner_reference = ref AND a.deleted_at IS NULL
    ORDER BY a.priority, a.created_time, a.id;
END
$$;
COMMENT ON FUNCTION billy.list_attachments(text, text) IS
'The files attached to a bill, invoice or journal entry (owner: bill:<id>, invoice:<id>, daybookTransaction:<id>), from the mirror: the attachment, the file''s id, name, type and size. billy.file_content(org, file_id) reads a file''s bytes from Billy.';
REVOKE ALL ON FUNCTION billy.list_attachments(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION billy.list_attachments(text, text) TO billy_reader;
REVOKE ALL ON FUNCTION billy.file_content(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION billy.file_content(text, text) TO billy_reader;

CREATE FUNCTION billy.bills_without_receipt(org text DEFAULT NULL, from_date date DEFAULT NULL, to_date date DEFAULT NULL)
RETURNS TABLE (bill_id text, entry_date date, supplier text, suppliers_invoice_no text, voucher_no text,
               type text, currency_id text, gross_amount numeric, is_paid boolean)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT b.id, b.entry_date, b.contact_name, b.suppliers_invoice_no, b.voucher_no, b.type, b.currency_id, b.gross_amount, b.is_paid
FROM billy.bills b
WHERE b.organization_id = billy._resolve_org(org) AND b.state = 'approved' AND b.deleted_at IS NULL
  AND (from_date IS NULL OR b.entry_date >= from_date) AND (to_date IS NULL OR b.entry_date <= to_date)
  AND NOT EXISTS (SELECT 1 FROM billy.attachments a
                  WHERE a.organization_id = b.organization_id AND a.owner_reference = 'bill:' || b.id AND a.deleted_at IS NULL)
ORDER BY b.entry_date, b.id
$$;
COMMENT ON FUNCTION billy.bills_without_receipt(text, date, date) IS
'Approved bills (credit notes too) with no file attached in the mirror, entered from from_date to to_date (NULL: no bound): each booked expense needs its voucher (bilag). billy.upload_file(org, name, bytes, bill_id => ...) attaches one.';
REVOKE ALL ON FUNCTION billy.bills_without_receipt(text, date, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION billy.bills_without_receipt(text, date, date) TO billy_reader;

-- the MCP tool: a document's files, or the bills of a period without one
CREATE FUNCTION billy._mcp_attachments(org text, bill_id text, invoice_id text, period text) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    org_id text := billy._resolve_org(org);
    p record;
    n bigint;
    cap integer := 200;
BEGIN
    IF bill_id IS NOT NULL AND invoice_id IS NOT NULL THEN
        RAISE EXCEPTION 'give bill_id or invoice_id, not both'
            USING ERRCODE = '22023', HINT = 'Call list_attachments once for the bill and once for the invoice.';
    END IF;
    IF bill_id IS NULL AND invoice_id IS NULL THEN
        p := billy._ledger_period(org_id, coalesce(period, 'fy'), NULL);
        SELECT count(*) INTO n FROM billy.bills_without_receipt(org_id, p.start_date, p.end_date);
        RETURN jsonb_build_object('period', p.label, 'bills_without_receipt', n,
            'rows', coalesce((SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object('bill_id', b.bill_id, 'date', b.entry_date,
                        'supplier', b.supplier, 'no', b.suppliers_invoice_no, 'type', nullif(b.type, 'bill'),
                        'amount', b.gross_amount, 'currency', b.currency_id)))
                    FROM (SELECT * FROM billy.bills_without_receipt(org_id, p.start_date, p.end_date) LIMIT cap) b), '[]'),
            'next_step', 'upload_file with a bill_id attaches its receipt.')
            || CASE WHEN n > cap THEN jsonb_build_object('truncated', true,
                   'hint', format('Showing %s of %s; ask for a shorter period for the rest.', cap, n)) ELSE '{}' END;
    END IF;
    IF period IS NOT NULL THEN
        RAISE EXCEPTION 'period goes with neither bill_id nor invoice_id'
            USING ERRCODE = '22023', HINT = 'Leave period out to list a document''s files, or bill_id and invoice_id out to list the bills of a period without a receipt.';
    END IF;
    RETURN jsonb_build_object('owner', CASE WHEN bill_id IS NOT NULL THEN 'bill:' || bill_id ELSE 'invoice:' || invoice_id END,
        'rows', coalesce((SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object('attachment_id', a.attachment_id, 'file_id', a.file_id,
                    'name', a.file_name, 'type', a.file_type, 'bytes', a.file_size, 'created', a.created_time)))
                FROM billy.list_attachments(org_id, CASE WHEN bill_id IS NOT NULL THEN 'bill:' || bill_id ELSE 'invoice:' || invoice_id END) a), '[]'));
END
$$;
COMMENT ON FUNCTION billy._mcp_attachments(text, text, text, text) IS
'The list_attachments tool: a bill''s or invoice''s files (metadata, from the mirror), or without either the approved bills of a period (default the fiscal year) without any (at most 200, then truncated with a hint). Internal.';
REVOKE ALL ON FUNCTION billy._mcp_attachments(text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION billy._mcp_attachments(text, text, text, text) TO billy_reader;

INSERT INTO billy.mcp_tools (name, title, sort_order, function, requires, arguments, fixed_args, kind, issue,
                             annotations, input_schema, output_schema, description, builtin)
VALUES
('list_attachments', 'Receipts', 432,
 'billy._mcp_attachments', ARRAY['billy.list_attachments', 'billy.bills_without_receipt'], '{"organization": "org"}', '{}', 'call',
 'issue 14: receipts',
 '{"readOnlyHint": true, "openWorldHint": false}',
 billy._mcp_input($j${
    "bill_id": {"type": "string", "maxLength": 64},
    "invoice_id": {"type": "string", "maxLength": 64},
    "period": {"type": "string", "maxLength": 40, "description": "Default fy"}}$j$,
    ARRAY[]::text[]),
 NULL,
 'A bill''s or invoice''s files; without one, approved bills with no receipt in period.',
 true);

REVOKE ALL ON FUNCTION billy._file_type(bytea), billy._base64_bytes(text), billy._file_max_bytes(), billy._file_mcp_cap(),
    billy._file_owner(text, jsonb), billy._write_follow_up(bigint), billy._write_follow_up_begun(bigint, bigint), billy._write_follow_up_skip(bigint, text),
    billy._write_follow_ups_left(), billy._write_drop_bytes() FROM PUBLIC;
-- the plan functions run as the caller of billy.preview_write
GRANT EXECUTE ON FUNCTION billy._plan_upload_file(text, jsonb), billy._plan_attach_file(text, jsonb),
    billy._file_type(bytea), billy._base64_bytes(text), billy._file_max_bytes(), billy._file_owner(text, jsonb) TO billy_admin, billy_writer;
