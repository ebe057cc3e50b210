------------------------------------------------------------------------------
-- What a pg_dump keeps.  Tables of an extension are not dumped unless named
-- here: the mirror (20-mirror.sql), the organizations and their sealed
-- tokens (0.1.0), the grants, and every table of record: the change log,
-- sync history, the audit trail (Bogføringsloven: five years), the write
-- outbox and the bulk jobs.  Their identity sequences go with them, so rows
-- added after a restore do not collide with restored ones.  Transient tables
-- (the job queue, write previews) are not kept.
------------------------------------------------------------------------------

DO $dump$
DECLARE
    t text;
    seq text;
BEGIN
    FOREACH t IN ARRAY ARRAY['sync_runs', 'sync_state', 'changes', 'audit_log', 'audit_heads', 'audit_pending',
                             'write_ops', 'bulk_jobs', 'bulk_job_items']
    LOOP
        PERFORM pg_catalog.pg_extension_config_dump(pg_catalog.format('billy.%I', t)::pg_catalog.regclass, '');
        FOR seq IN
            SELECT pg_catalog.pg_get_serial_sequence(pg_catalog.format('billy.%I', t), a.attname)
            FROM pg_catalog.pg_attribute a
            WHERE a.attrelid OPERATOR(pg_catalog.=) pg_catalog.format('billy.%I', t)::pg_catalog.regclass
              AND a.attidentity OPERATOR(pg_catalog.<>) ''
        LOOP
            PERFORM pg_catalog.pg_extension_config_dump(seq::pg_catalog.regclass, '');
        END LOOP;
    END LOOP;
END
$dump$;
