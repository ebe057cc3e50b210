------------------------------------------------------------------------------
-- Last of every version: PUBLIC gets nothing of billy, whatever the files
-- before created.  (Grants to billy's roles are made next to each object.)
------------------------------------------------------------------------------

REVOKE ALL ON ALL TABLES IN SCHEMA billy FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA billy FROM PUBLIC;
REVOKE ALL ON ALL ROUTINES IN SCHEMA billy FROM PUBLIC;
