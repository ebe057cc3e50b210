------------------------------------------------------------------------------
-- What only tests and benchmarks call (src/testing.c): the faster clock, the
-- sync's floor, an immediate flush of the read counters.  Granted to nobody:
-- superusers only (the C functions check that too).
------------------------------------------------------------------------------

CREATE FUNCTION billy._set_clock_rate(rate double precision) RETURNS timestamptz
LANGUAGE C STRICT
AS 'MODULE_PATHNAME', 'billy_set_clock_rate';
COMMENT ON FUNCTION billy._set_clock_rate(double precision) IS
'TEST ONLY. From now on the cache''s clock runs rate times faster than the wall clock (1 restores it): TTLs, access and change rates, the API budget and the flush interval all follow it, so a benchmark can replay a day in minutes. Stored timestamps stay real. Superusers only; returns the cache''s now. Internal.';

CREATE FUNCTION billy._cache_flush_now() RETURNS void
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_cache_flush_now';
COMMENT ON FUNCTION billy._cache_flush_now() IS 'TEST ONLY. Asks the worker to flush the read counters now, for tests and benchmarks. Superusers only. Internal.';

CREATE FUNCTION billy._sync_floor(org text, res text, parse boolean DEFAULT true,
                                  OUT pages integer, OUT bytes bigint, OUT page_count integer,
                                  OUT ms double precision)
RETURNS record
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_sync_floor';
COMMENT ON FUNCTION billy._sync_floor(text, text, boolean) IS
'Downloads every page of a resource as a full sync does (same paths, page size and concurrency) and, with parse, parses each into jsonb, storing nothing: the floor bench/sync measures the sync against. Superusers only. Internal.';

REVOKE ALL ON FUNCTION billy._set_clock_rate(double precision) FROM PUBLIC;
REVOKE ALL ON FUNCTION billy._cache_flush_now() FROM PUBLIC;
REVOKE ALL ON FUNCTION billy._sync_floor(text, text, boolean) FROM PUBLIC;
