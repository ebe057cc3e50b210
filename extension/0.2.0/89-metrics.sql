------------------------------------------------------------------------------
-- Metrics for Prometheus (the HTTP bridge serves them at /metrics)
------------------------------------------------------------------------------

CREATE FUNCTION billy.metrics() RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    out text := '';
    w record;
    extra text;
    f regprocedure := to_regprocedure('billy.cache_performance(text,interval)');
    t regclass := to_regclass('billy.write_ops');
BEGIN
    out := out || E'# HELP billy_sync_lag_seconds Seconds since the last successful sync of a resource.\n# TYPE billy_sync_lag_seconds gauge\n';
    out := out || coalesce((SELECT string_agg(format(E'billy_sync_lag_seconds{organization="%s",resource="%s"} %s\n',
                                                      billy._prom_label(s.organization_id), billy._prom_label(s.resource),
                                                      coalesce(round(extract(epoch FROM now() - s.last_success_at), 3)::text, '+Inf')),
                                               '' ORDER BY s.organization_id, s.resource)
                            FROM billy.sync_state s), '');
    out := out || E'# HELP billy_sync_consecutive_failures Failed syncs in a row of a resource.\n# TYPE billy_sync_consecutive_failures gauge\n';
    out := out || coalesce((SELECT string_agg(format(E'billy_sync_consecutive_failures{organization="%s",resource="%s"} %s\n',
                                                      billy._prom_label(s.organization_id), billy._prom_label(s.resource),
                                                      s.consecutive_failures), '' ORDER BY s.organization_id, s.resource)
                            FROM billy.sync_state s), '');
    out := out || E'# HELP billy_sync_runs Sync runs kept in billy.sync_runs, by organization and state.\n# TYPE billy_sync_runs gauge\n';
    out := out || coalesce((SELECT string_agg(format(E'billy_sync_runs{organization="%s",state="%s"} %s\n',
                                                      billy._prom_label(r.organization_id), r.state, r.n), '' ORDER BY r.organization_id, r.state)
                            FROM (SELECT organization_id, state, count(*) AS n FROM billy.sync_runs GROUP BY 1, 2) r), '');
    out := out || E'# HELP billy_api_requests Requests to Billy''s API made by the sync runs kept in billy.sync_runs.\n# TYPE billy_api_requests gauge\n';
    out := out || coalesce((SELECT string_agg(format(E'billy_api_requests{organization="%s"} %s\n',
                                                      billy._prom_label(r.organization_id), r.n), '' ORDER BY r.organization_id)
                            FROM (SELECT organization_id, sum(requests) AS n FROM billy.sync_runs GROUP BY 1) r), '');
    out := out || E'# HELP billy_api_failed_runs Sync runs that failed on an API error, by organization and cause.\n# TYPE billy_api_failed_runs gauge\n';
    out := out || coalesce((SELECT string_agg(format(E'billy_api_failed_runs{organization="%s",cause="%s"} %s\n',
                                                      billy._prom_label(r.organization_id), billy._prom_label(r.cause), r.n), '' ORDER BY r.organization_id, r.cause)
                            FROM (SELECT organization_id, coalesce(error_cause, 'unknown') AS cause, count(*) AS n
                                  FROM billy.sync_runs WHERE state = 'failed' GROUP BY 1, 2) r), '');
    out := out || E'# HELP billy_breaker_open Whether the circuit breaker of an organization is open (1) or half open (0.5).\n# TYPE billy_breaker_open gauge\n';
    out := out || coalesce((SELECT string_agg(format(E'billy_breaker_open{organization="%s"} %s\n',
                                                      billy._prom_label(b.organization_id),
                                                      CASE b.state WHEN 'open' THEN '1' WHEN 'half_open' THEN '0.5' ELSE '0' END),
                                               '' ORDER BY b.organization_id)
                            FROM billy.breaker_status() b
                            WHERE (SELECT billy._sees_all()) OR b.organization_id = ANY ((SELECT billy._visible_orgs())::text[])), '');
    out := out || E'# HELP billy_breaker_failures_total Failed scans counted by the circuit breaker since the server started.\n# TYPE billy_breaker_failures_total counter\n';
    out := out || coalesce((SELECT string_agg(format(E'billy_breaker_failures_total{organization="%s"} %s\n',
                                                      billy._prom_label(b.organization_id), b.failures_total), '' ORDER BY b.organization_id)
                            FROM billy.breaker_status() b
                            WHERE (SELECT billy._sees_all()) OR b.organization_id = ANY ((SELECT billy._visible_orgs())::text[])), '');
    SELECT * INTO w FROM billy.worker_status();
    out := out || E'# HELP billy_worker_up Whether the background worker runs.\n# TYPE billy_worker_up gauge\n'
        || format(E'billy_worker_up %s\n', CASE WHEN w.running THEN 1 ELSE 0 END)
        || E'# HELP billy_queue_depth Jobs queued for the background worker.\n# TYPE billy_queue_depth gauge\n'
        || format(E'billy_queue_depth %s\n', coalesce(w.queued, 0))
        || E'# HELP billy_worker_jobs_total Jobs the worker finished since it started, by outcome.\n# TYPE billy_worker_jobs_total counter\n'
        || format(E'billy_worker_jobs_total{outcome="done"} %s\nbilly_worker_jobs_total{outcome="failed"} %s\n',
                  coalesce(w.jobs_done, 0), coalesce(w.jobs_failed, 0));
    -- the cache (issue 5) and the writes (issue 8) add their figures when installed
    IF f IS NOT NULL AND has_function_privilege(f, 'EXECUTE') THEN
        BEGIN
            EXECUTE $q$
                SELECT string_agg(format(E'billy_cache_hit_ratio{organization="%s"} %s\n',
                                         billy._prom_label(o.id), coalesce((c ->> 'hit_rate')::numeric, 0)), '' ORDER BY o.id)
                FROM billy.organizations o, LATERAL (SELECT to_jsonb(x) AS c FROM billy.cache_performance(o.id, '1 hour') x LIMIT 1) p(c)
                WHERE o.disconnected_at IS NULL$q$ INTO extra;
            out := out || E'# HELP billy_cache_hit_ratio Share of reads answered from the mirror in the last hour.\n# TYPE billy_cache_hit_ratio gauge\n'
                || coalesce(extra, '');
        EXCEPTION WHEN OTHERS THEN
            out := out || format(E'# billy_cache_hit_ratio unavailable: %s\n', replace(SQLERRM, E'\n', ' '));
        END;
    END IF;
    IF t IS NOT NULL AND has_table_privilege(t, 'SELECT') THEN
        BEGIN
            EXECUTE $q$
                SELECT string_agg(format(E'billy_write_ops{organization="%s",state="%s"} %s\n',
                                         billy._prom_label(organization_id), billy._prom_label(state), n), '' ORDER BY 1, 2)
                FROM (SELECT organization_id, state, count(*) AS n FROM billy.write_ops GROUP BY 1, 2) w$q$ INTO extra;
            out := out || E'# HELP billy_write_ops Writes to Billy by organization and outcome.\n# TYPE billy_write_ops gauge\n'
                || coalesce(extra, '');
        EXCEPTION WHEN OTHERS THEN
            out := out || format(E'# billy_write_ops unavailable: %s\n', replace(SQLERRM, E'\n', ' '));
        END;
    END IF;
    RETURN out;
END
$$;
COMMENT ON FUNCTION billy.metrics() IS
'billy''s figures in the Prometheus text format (what billy-mcp-bridge serves at /metrics): sync lag and failures per organization and resource, sync runs and API requests, failed runs by cause, circuit breakers, the worker and its queue depth, and, once installed, the cache hit rate and write outcomes. Shows only the organizations the caller sees.';

CREATE FUNCTION billy._prom_label(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN replace(replace(replace(coalesce(value, ''), E'\\', E'\\\\'), '"', E'\\"'), E'\n', E'\\n');
COMMENT ON FUNCTION billy._prom_label(text) IS 'A Prometheus label value, escaped. Internal.';

REVOKE ALL ON FUNCTION billy.metrics(), billy._prom_label(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION billy.metrics(), billy._prom_label(text) TO billy_reader;
