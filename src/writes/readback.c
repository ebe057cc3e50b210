/*-------------------------------------------------------------------------
 *
 * readback.c
 *	  The mirror after a write: the records Billy's answer names (and the
 *	  documents a payment touched) read again with GET /<resource>/<id> and
 *	  stored exactly as the sync would, deleted ones marked deleted, and
 *	  listeners told (NOTIFY billy_changes).
 *
 * Which records a write's answer touched is billy._write_affected's to say
 * (81-writes.sql); this file only reads them back and stores them through
 * the mirror (billy_sync_store_answer: the sync's hash and apply function),
 * so a sync that later reads them unchanged writes nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "nodes/pg_list.h"
#include "utils/array.h"

#include "json.h"
#include "organizations.h"
#include "resources.h"
#include "mirror/mirror.h"
#include "writes/writes_internal.h"

/*
 * writes_refresh_mirror reads each changed record again (with its children
 * embedded) and stores it; deleted ones are marked deleted.  Returns the
 * changed ids per resource as JSON text.  A record that cannot be read now
 * is left to the next sync.
 */
char *
writes_refresh_mirror(const char *org, const char *base_url, const char *token, const char *response)
{
	Oid			types[2] = {JSONBOID, TEXTOID};
	Datum		values[2];
	List	   *resources = NIL;
	List	   *ids = NIL;
	List	   *gone_res = NIL;
	List	   *gone_ids = NIL;
	bool		organization = false;
	BillyHttpRequest **reqs;
	int			n = 0;
	ListCell   *a,
			   *b;
	char	   *changed;

	values[0] = PointerGetDatum(billy_jsonb_parse(response, strlen(response), "Billy's answer to a write"));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "billy: SPI_connect failed");
	if (SPI_execute_with_args("SELECT resource, record_id, deleted FROM billy._write_affected($1)",
							  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "billy: could not read a write's answer");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		MemoryContext old = MemoryContextSwitchTo(CurTransactionContext);
		char	   *r = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		char	   *id = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		char	   *d = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3);

		if (d[0] == 't')
		{
			gone_res = lappend(gone_res, pstrdup(r));
			gone_ids = lappend(gone_ids, pstrdup(id));
		}
		else
		{
			resources = lappend(resources, pstrdup(r));
			ids = lappend(ids, pstrdup(id));
		}
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	organization = strstr(response, "\"organizations\"") != NULL;

	reqs = palloc(sizeof(BillyHttpRequest *) * Max(list_length(ids), 1));
	forboth(a, resources, b, ids)
	{
		const BillyResource *res = billy_resource(lfirst(a));

		if (res == NULL)
			continue;
		reqs[n] = billy_http_request_new(BILLY_GET, base_url, billy_record_path(res, lfirst(b)), token);
		reqs[n]->arg = lfirst(a);
		n++;
	}
	billy_http_run(reqs, n, 4, NULL, NULL);
	for (int i = 0; i < n; i++)
	{
		if (reqs[i]->failure == BILLY_HTTP_OK)
			/* confirmed when it was asked for */
			(void) billy_sync_store_answer(org, reqs[i]->arg, reqs[i]->response.data, reqs[i]->response.len,
										   reqs[i]->started_at);
		else if (reqs[i]->failure == BILLY_HTTP_STATUS && reqs[i]->status == 404)
		{
			char	   *path = reqs[i]->path;
			char	   *id = strrchr(path, '/') + 1;
			char	   *q = strchr(id, '?');

			gone_res = lappend(gone_res, reqs[i]->arg);
			gone_ids = lappend(gone_ids, q ? pnstrdup(id, q - id) : pstrdup(id));
		}
		else
			ereport(WARNING,
					(errmsg("billy: could not read %s back after a write; the next sync stores it", reqs[i]->path)));
	}
	forboth(a, gone_res, b, gone_ids)
	{
		Oid			t[3] = {TEXTOID, TEXTOID, TEXTARRAYOID};
		Datum		v[3];
		Datum		one[1];
		const char *s1,
				   *s2,
				   *s3;

		one[0] = CStringGetTextDatum(lfirst(b));
		v[0] = CStringGetTextDatum(org);
		v[1] = CStringGetTextDatum(lfirst(a));
		v[2] = PointerGetDatum(construct_array(one, 1, TEXTOID, -1, false, TYPALIGN_INT));
		if (billy_sync_resource(lfirst(a), &s1, &s2, &s3))
			sql_owner("SELECT billy._mark_deleted($1, $2, NULL, $3)", 3, t, v, NULL);
	}
	if (organization)
		billy_refresh_organization(org);

	values[1] = CStringGetTextDatum(org);
	changed = sql_text("SELECT pg_catalog.jsonb_object_agg(r, ids)::pg_catalog.text FROM ("
					   "SELECT resource AS r, pg_catalog.jsonb_agg(record_id ORDER BY record_id) AS ids "
					   "FROM billy._write_affected($1) GROUP BY resource) x",
					   1, types, values, NULL);
	/* tell listeners, as the sync does */
	if (changed)
	{
		Oid			nt[2] = {TEXTOID, TEXTOID};
		Datum		nv[2] = {CStringGetTextDatum(org), CStringGetTextDatum(changed)};

		billy_sql_exec("SELECT pg_catalog.pg_notify('billy_changes', pg_catalog.jsonb_build_object("
					   "'organization_id', $1, 'write', true, 'changed', $2::pg_catalog.jsonb)::pg_catalog.text)",
					   2, nt, nv, NULL);
	}
	return changed;
}
