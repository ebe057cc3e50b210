/*-------------------------------------------------------------------------
 *
 * mirror/store.c
 *	  Storing Billy's records in the mirror: the mirror's content hashes of
 *	  a resource (all of them for a scan, some for a look-up), a page's
 *	  records compared with them, the changed ones handed to the resource's
 *	  apply function (billy._apply_<resource>) in one jsonb array, the
 *	  changes announced (NOTIFY billy_changes), unchanged ones confirmed.
 *
 * An unchanged record costs its share of a page and one hash lookup.  The
 * content hash is two chained runs of hash_bytes_extended (128 bits) over
 * the record's text without the value of downloadUrl (pagescan.c).
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"


#include "http.h"
#include "jobs.h"
#include "json.h"
#include "mirror/mirror.h"
#include "mirror/mirror_internal.h"
#include "module.h"
#include "pagescan.h"
#include "resources.h"
#include "sqlexec.h"

/*
 * mirror_load_known reads the mirror's ids and hashes of the resource; of a
 * resource listed per parent, those of the parents the scan lists
 * (scan->scopes): the rows its deletions may touch.
 */
void
mirror_load_known(SyncScan *scan)
{
	HASHCTL		ctl;
	Portal		portal;
	Oid			types[2] = {TEXTOID, TEXTARRAYOID};
	Datum		values[2] = {CStringGetTextDatum(scan->org), (Datum) 0};
	bool		scoped = scan->res->scope_param != NULL;
	char	   *sql;
	MemoryContext old;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = BILLY_MAX_ID;
	ctl.entrysize = sizeof(KnownEntry);
	ctl.hcxt = scan->cxt;
	scan->known = hash_create("billy sync known records", 4096, &ctl,
							  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	if (scoped && scan->res->scope_column == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("resource %s is scanned per %s, but no catalog column holds that key",
						scan->res->name, scan->res->scope_param),
				 errhint("Add a billy.resource_columns row of %s with json_key %s.",
						 scan->res->name, scan->res->scope_param)));
	sql = psprintf("SELECT id, content_hash FROM billy.%s "
				   "WHERE organization_id OPERATOR(pg_catalog.=) $1 AND deleted_at IS NULL%s%s%s%s%s",
				   scan->res->table,
				   scan->hot ? " AND " : "", scan->hot ? scan->res->hot_where : "",
				   scoped ? " AND " : "", scoped ? quote_identifier(scan->res->scope_column) : "",
				   scoped ? " OPERATOR(pg_catalog.=) ANY ($2)" : "");
	if (scoped)
		values[1] = mirror_ids_array(scan->scopes, scan->nscopes);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "billy: SPI_connect failed");
	portal = SPI_cursor_open_with_args(NULL, sql, scoped ? 2 : 1, types, values, NULL, true, 0);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, 10000);
		if (SPI_processed == 0)
			break;
		old = MemoryContextSwitchTo(scan->cxt);
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			bool		isnull;
			char	   *id = SPI_getvalue(tup, SPI_tuptable->tupdesc, 1);
			Datum		h = SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull);
			KnownEntry *e;
			char		key[BILLY_MAX_ID] = {0};

			if (id == NULL || strlen(id) >= BILLY_MAX_ID)
				continue;
			strlcpy(key, id, BILLY_MAX_ID);
			e = hash_search(scan->known, key, HASH_ENTER, NULL);
			e->stored = true;
			e->seen = false;
			e->pending_page = 0;
			memset(e->hash, 0, BILLY_HASH_BYTES);
			if (!isnull)
			{
				bytea	   *b = DatumGetByteaPP(h);

				if (VARSIZE_ANY_EXHDR(b) == BILLY_HASH_BYTES)
					memcpy(e->hash, VARDATA_ANY(b), BILLY_HASH_BYTES);
			}
		}
		MemoryContextSwitchTo(old);
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	SPI_finish();
}

/*
 * mirror_apply_records stores changed records (of a page, or looked up one by one):
 * one jsonb array, one call of the resource's apply function, as the
 * extension owner.  run_id 0 stores them outside any sync run.  asked is
 * when the requests that brought them were made: Billy held them then, so
 * it is their confirmation (not the transaction's start, which may come
 * before the request, or after it when pages are committed as they come).
 */
void
mirror_apply_records(const BillyResource *res, const char *org, int64 run_id,
					 BillyRecord **recs, int n, TimestampTz asked, int64 *inserted, int64 *updated)
{
	StringInfoData arr;
	Datum	   *hashes;
	ArrayType  *harr;
	Oid			types[5] = {TEXTOID, INT8OID, JSONBOID, BYTEAARRAYOID, TIMESTAMPTZOID};
	Datum		values[5];
	Datum		result;
	bool		isnull;
	BillyOwner	owner;
	char	   *sql;
	int			kept = 0;

	initStringInfo(&arr);
	appendStringInfoChar(&arr, '[');
	hashes = palloc(sizeof(Datum) * n);
	for (int i = 0; i < n; i++)
	{
		bytea	   *h;

		if (recs[i] == NULL)
			continue;			/* superseded by a later copy on the page */
		if (kept > 0)
			appendStringInfoChar(&arr, ',');
		appendBinaryStringInfo(&arr, recs[i]->json, recs[i]->len);
		h = palloc(VARHDRSZ + BILLY_HASH_BYTES);
		SET_VARSIZE(h, VARHDRSZ + BILLY_HASH_BYTES);
		memcpy(VARDATA(h), recs[i]->hash, BILLY_HASH_BYTES);
		hashes[kept++] = PointerGetDatum(h);
	}
	appendStringInfoChar(&arr, ']');
	if (kept == 0)
		return;

	harr = construct_array(hashes, kept, BYTEAOID, -1, false, TYPALIGN_INT);
	values[0] = CStringGetTextDatum(org);
	values[1] = Int64GetDatum(run_id);
	values[2] = PointerGetDatum(billy_jsonb_parse(arr.data, arr.len,
												  psprintf("the changed %s of a page", res->name)));
	values[3] = PointerGetDatum(harr);
	values[4] = TimestampTzGetDatum(asked);
	sql = psprintf("SELECT %s($1, $2, $3, $4, $5)", res->apply);

	billy_become_owner(&owner);
	result = billy_sql_datum(sql, 5, types, values, run_id ? NULL : " n   ", &isnull);
	billy_end_owner(&owner);

	if (!isnull)
	{
		ArrayType  *counts = DatumGetArrayTypeP(result);
		Datum	   *elems;
		bool	   *nulls;
		int			nelems;

		deconstruct_array(counts, INT4OID, 4, true, TYPALIGN_INT, &elems, &nulls, &nelems);
		if (nelems == 2)
		{
			*inserted += DatumGetInt32(elems[0]);
			*updated += DatumGetInt32(elems[1]);
		}
	}
}

/*
 * billy_sync_store_answer stores the one record of a GET /<resource>/<id>
 * answer (text, len) exactly as the sync would: its text and hash as a page
 * gives them, through the resource's apply function, outside any sync run,
 * confirmed at asked (when it was asked for).  A sync that later reads it
 * unchanged writes nothing.  Returns false when the answer is not one
 * record of a resource the sync mirrors.
 */
bool
billy_sync_store_answer(const char *org, const char *resource, const char *text, int len, TimestampTz asked)
{
	const BillyResource *res = billy_resource(resource);
	BillyPage	page;
	BillyRecord *rec;
	int64		inserted = 0;
	int64		updated = 0;

	if (res == NULL || billy_scan_page(text, len, res->singular, &page) != NULL || page.nrecords != 1)
		return false;
	rec = &page.records[0];
	mirror_apply_records(res, org, 0, &rec, 1, asked, &inserted, &updated);
	return true;
}

/* notify tells listeners (LISTEN billy_changes) what a commit changed */
void
mirror_notify_changes(const BillyResource *res, const char *org, int64 run_id,
					  int64 inserted, int64 updated, int64 deleted)
{
	StringInfoData payload;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	if (inserted + updated + deleted == 0)
		return;
	initStringInfo(&payload);
	appendStringInfoString(&payload, "{\"organization_id\":");
	escape_json(&payload, org);
	appendStringInfoString(&payload, ",\"resource\":");
	escape_json(&payload, res->name);
	appendStringInfo(&payload, ",\"inserted\":%lld,\"updated\":%lld,\"deleted\":%lld,\"sync_run_id\":",
					 (long long) inserted, (long long) updated, (long long) deleted);
	if (run_id != 0)
		appendStringInfo(&payload, "%lld}", (long long) run_id);
	else
		appendStringInfoString(&payload, "null}");
	values[0] = CStringGetTextDatum(payload.data);
	billy_sql_exec("SELECT pg_catalog.pg_notify('billy_changes', $1)", 1, types, values, NULL);
}

/*
 * mirror_refresh_statistics: the scan has written as many rows as the resource had
 * (at least SYNC_ANALYZE_MIN): billy._sync_analyze refreshes the statistics
 * of the tables it writes, so the plans of the apply and trigger functions
 * made for a near-empty mirror do not stay (see its comment).  Doubling each
 * time keeps it to O(log n) calls per first sync and none in a resync that
 * changes little.
 */
void
mirror_refresh_statistics(SyncScan *scan)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	BillyOwner	owner;

	values[0] = CStringGetTextDatum(scan->res->name);
	billy_become_owner(&owner);
	billy_sql_exec("SELECT billy._sync_analyze($1)", 1, types, values, NULL);
	billy_end_owner(&owner);
	scan->analyze_after = Max(SYNC_ANALYZE_MIN, (int64) hash_get_num_entries(scan->known));
	scan->written_since_analyze = 0;
}

/*
 * record_failed notes a record the mirror refused (a value it cannot store,
 * a constraint) in the scan's run, where billy.sync_status shows it, and
 * forgets its hash so that the next scan tries it again.
 */
static void
record_failed(SyncScan *scan, BillyRecord *rec, ErrorData *edata)
{
	Oid			types[4] = {INT8OID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	KnownEntry *e = hash_search(scan->known, rec->id, HASH_FIND, NULL);
	BillyOwner	owner;

	if (e != NULL)
		memset(e->hash, 0, BILLY_HASH_BYTES);
	scan->failed++;
	values[0] = Int64GetDatum(scan->run_id);
	values[1] = CStringGetTextDatum(rec->id);
	values[2] = CStringGetTextDatum(edata->message ? edata->message : "unknown error");
	values[3] = CStringGetTextDatum(unpack_sql_state(edata->sqlerrcode));
	if (scan->run_id == 0)
		return;
	billy_become_owner(&owner);
	billy_sql_exec("SELECT billy._sync_record_failed($1, $2, $3, $4)", 4, types, values, nulls);
	billy_end_owner(&owner);
	ereport(WARNING,
			(errmsg("billy: %s %s of organization \"%s\" was not stored: %s",
					scan->res->singular, rec->id, scan->org, edata->message ? edata->message : "unknown error"),
			 errhint("The rest of the page was; billy.sync_runs.failed_records lists it, and the next sync tries it again."),
			 errhidestmt(true)));
}

/*
 * apply_isolating stores changed records in a subtransaction; when the
 * mirror refuses them for their data (SQLSTATE classes 22 and 23: a value
 * it cannot store, a constraint), it retries them in halves, down to the
 * record that fails, which is noted (record_failed) and skipped: one bad
 * record no longer fails its page and every later sync of the resource.
 * Any other error fails the scan as before.
 */
static void
apply_isolating(SyncScan *scan, BillyRecord **recs, int n, TimestampTz asked)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		mirror_apply_records(scan->res, scan->org, scan->run_id, recs, n, asked, &scan->inserted, &scan->updated);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	if (edata == NULL)
		return;
	if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_DATA_EXCEPTION &&
		ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION)
		ReThrowError(edata);
	if (n == 1)
	{
		if (recs[0] != NULL)
			record_failed(scan, recs[0], edata);
		return;
	}
	apply_isolating(scan, recs, n / 2, asked);
	apply_isolating(scan, recs + n / 2, n - n / 2, asked);
}

/*
 * mirror_process_records compares a page's records with the mirror and stores the
 * changed ones.  A record seen twice on one page is stored once (its last
 * copy); one seen again on a later page is compared with what was stored.
 * asked: when the page was asked for.
 */
void
mirror_process_records(SyncScan *scan, BillyPage *page, int page_no, TimestampTz asked)
{
	BillyRecord **changed = palloc(sizeof(BillyRecord *) * Max(page->nrecords, 1));
	int			nchanged = 0;
	int64		before_ins = scan->inserted;
	int64		before_upd = scan->updated;

	for (int i = 0; i < page->nrecords; i++)
	{
		BillyRecord *rec = &page->records[i];
		KnownEntry *e;
		bool		found;

		e = hash_search(scan->known, rec->id, HASH_ENTER, &found);
		if (!found)
		{
			e->stored = false;
			e->seen = false;
			e->pending_page = 0;
		}
		if (!e->seen)
			scan->rows_seen++;
		e->seen = true;
		if (e->pending_page == page_no)
		{
			/* an earlier copy on this page: this one wins */
			changed[e->pending_index] = NULL;
		}
		else if (e->stored && memcmp(e->hash, rec->hash, BILLY_HASH_BYTES) == 0)
			continue;
		memcpy(e->hash, rec->hash, BILLY_HASH_BYTES);
		e->stored = true;
		e->pending_page = page_no;
		e->pending_index = nchanged;
		changed[nchanged++] = rec;
	}
	if (nchanged > 0)
	{
		apply_isolating(scan, changed, nchanged, asked);
		mirror_notify_changes(scan->res, scan->org, scan->run_id,
							  scan->inserted - before_ins, scan->updated - before_upd, 0);
		scan->written_since_analyze += nchanged;
		if (scan->written_since_analyze >= scan->analyze_after)
			mirror_refresh_statistics(scan);
	}
}

/* mirror_ids_array makes a text[] of n C strings */
Datum
mirror_ids_array(char **ids, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		elems[i] = CStringGetTextDatum(ids[i]);
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * mirror_load_hashes reads the mirror's content hashes of the given records (a
 * text[] of ids) into a hash table of KnownEntry in mcxt, as the owner.
 */
HTAB *
mirror_load_hashes(const BillyResource *res, const char *org, Datum ids, long nids, MemoryContext mcxt)
{
	HASHCTL		ctl;
	HTAB	   *known;
	Oid			types[2] = {TEXTOID, TEXTARRAYOID};
	Datum		values[2];
	BillyOwner	owner;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = BILLY_MAX_ID;
	ctl.entrysize = sizeof(KnownEntry);
	ctl.hcxt = mcxt;
	known = hash_create("billy looked-up records", Max(nids, 1), &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	values[0] = CStringGetTextDatum(org);
	values[1] = ids;
	billy_become_owner(&owner);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "billy: SPI_connect failed");
	if (SPI_execute_with_args(psprintf("SELECT id, content_hash FROM billy.%s "
									   "WHERE organization_id OPERATOR(pg_catalog.=) $1 "
									   "AND id OPERATOR(pg_catalog.=) ANY ($2) AND deleted_at IS NULL",
									   res->table),
							  2, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "billy: could not read the mirror's hashes");
	for (uint64 k = 0; k < SPI_processed; k++)
	{
		char	   *id = SPI_getvalue(SPI_tuptable->vals[k], SPI_tuptable->tupdesc, 1);
		bool		isnull;
		Datum		h = SPI_getbinval(SPI_tuptable->vals[k], SPI_tuptable->tupdesc, 2, &isnull);
		KnownEntry *e;

		if (id == NULL || strlen(id) >= BILLY_MAX_ID || isnull ||
			VARSIZE_ANY_EXHDR(DatumGetByteaPP(h)) != BILLY_HASH_BYTES)
			continue;
		e = hash_search(known, id, HASH_ENTER, NULL);
		memcpy(e->hash, VARDATA_ANY(DatumGetByteaPP(h)), BILLY_HASH_BYTES);
	}
	SPI_finish();
	billy_end_owner(&owner);
	return known;
}

/*
 * mirror_confirm_records sets confirmed_at of records found unchanged
 * upstream (looked up on their own, or in a filtered list) to when the
 * requests were sent (at), as the owner.  The time the confirmation was
 * made, not the transaction's start: a read that confirms inside a long
 * transaction must not make its confirmation look older than it is.
 */
void
mirror_confirm_records(const BillyResource *res, const char *org, Datum ids, TimestampTz at)
{
	Oid			types[3] = {TEXTOID, TEXTARRAYOID, TIMESTAMPTZOID};
	Datum		values[3];
	BillyOwner	owner;

	values[0] = CStringGetTextDatum(org);
	values[1] = ids;
	values[2] = TimestampTzGetDatum(at);
	billy_become_owner(&owner);
	billy_sql_exec(psprintf("UPDATE billy.%s SET confirmed_at = $3 "
							"WHERE organization_id OPERATOR(pg_catalog.=) $1 "
							"AND id OPERATOR(pg_catalog.=) ANY ($2) AND deleted_at IS NULL "
							"AND confirmed_at OPERATOR(pg_catalog.<) $3",
							res->table),
				   3, types, values, NULL);
	billy_end_owner(&owner);
}
