/*-------------------------------------------------------------------------
 *
 * cache.c
 *	  Reads that never wait, and say truly how fresh they are: billy.get_*
 *	  answers from the mirror with its freshness, confirms stale rows with
 *	  Billy first when the caller asks (max_age, billy.read_confirm), counts
 *	  every read in shared memory, and asks the worker to refresh what went
 *	  stale.  The list functions (50-cache.sql) call the helpers here.
 *
 * The cache in five files, top down:
 *
 *	  cache.c ........... the read path's SQL entry points and answers
 *	  cache_confirm.c ... confirming on demand, shared (singleflight)
 *	  cache_row.c ....... a mirror row and its effective confirmation
 *	  cache_counters.c .. the read counters in shared memory
 *	  cache_refresh.c ... the worker's side: flush, refresh planning,
 *						  cache_refresh jobs, billy.warm_cache
 *
 * and beside them freshness.c (windows) and clock.c (the clock ages are
 * measured by, which only a test speeds up).
 *
 * The mirror is the cache.  A row is fresh while its age is below its
 * window, and an answer says fresh only then:
 *
 *	  age = now - effective confirmation (cache_row.c)
 *	  window = the caller's max_age, else billy.freshness_window(class, change)
 *
 * The window comes from the row itself: its class (billy_cache_record_state:
 * open, draft, paid, ...), shortened when billy saw it change within the
 * hour, by the rules of billy.ttl_rules, which each backend keeps a copy of
 * (dropped by the table's relcache invalidation).  No per-row policy is
 * looked up, so a row never read before costs what a warm one does.
 *
 * A read:
 *
 *	  in the mirror, fresh ..................... answered, counted "fresh"
 *	  in the mirror, stale ..................... answered, counted "stale",
 *												 refresh wanted (worker woken)
 *	  stale, and the caller confirms ........... unpaid set: one hot scan here;
 *												 else one GET; on failure the
 *												 copy, flagged with the reason
 *	  not in the mirror ........................ one GET now (the miss), stored
 *												 as the sync stores it, answered
 *	  Billy unreachable (breaker open, failure,  the copy, flagged; an error only
 *	  budget spent)								 when there is no copy
 *
 * The caller confirms when it passed max_age or billy.read_confirm is on
 * (billy.mcp turns it on for its tool calls).  A spent API budget is one
 * reason among others, whoever asked: the copy answers, fresh: false,
 * stale_reason "budget_spent"; only a miss raises SQLSTATE 53400.
 *
 * The cache's module (billy_cache_module, module.h) is defined in
 * cache_refresh.c for all four files: their settings, the counters' shared
 * memory (tranche "billy cache"), the job kind cache_refresh and the
 * periodic flush.  The resources it serves are those of the catalog (src/resources.c) with a
 * read function.
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "breaker.h"
#include "cache.h"
#include "freshness.h"
#include "organizations.h"
#include "resources.h"
#include "sqlexec.h"
#include "visibility.h"
#include "mirror/mirror.h"
#include "clock.h"
#include "jobs.h"

PG_FUNCTION_INFO_V1(billy_get);
PG_FUNCTION_INFO_V1(billy_effective_confirmed_at);
PG_FUNCTION_INFO_V1(billy_cache_count_list);
PG_FUNCTION_INFO_V1(billy_cache_confirming);
PG_FUNCTION_INFO_V1(billy_cache_confirm_hot);
PG_FUNCTION_INFO_V1(billy_cache_confirm_rows);
PG_FUNCTION_INFO_V1(billy_cache_page);

/* the resources the read path serves: those of billy.resources with a read function */
typedef BillyResource CacheResource;

/* settings (billy_cache_define_settings) */
bool		billy_read_confirm = false;
int			billy_list_total_limit = 10000;

/* billy_cache_define_settings defines the read path's settings (cache_refresh.c's module calls it) */
void
billy_cache_define_settings(void)
{
	DefineCustomBoolVariable("billy.read_confirm",
							 "Whether reads (billy.get_*, billy.list_*) confirm a stale row with Billy before answering.",
							 "Off: a stale row is answered at once, flagged fresh: false, and refreshed by the worker. On: it is confirmed first in the fewest requests, shared by concurrent reads, as when the caller passes max_age. billy.mcp turns it on for its tool calls.",
							 &billy_read_confirm,
							 false,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("billy.list_total_limit",
							"How many matching rows past its page a list (billy.list_*) counts.",
							"When more match, the answer gives total_at_least (offset + limit + this) instead of total: an exact count of a large organization's rows read them all.",
							&billy_list_total_limit,
							10000, 1, INT_MAX,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
}


/*
 * billy_effective_confirmed_at: billy.effective_confirmed_at(resource text,
 * row_confirmed_at timestamptz, is_paid boolean, last_complete_scan_at
 * timestamptz, last_hot_scan_at timestamptz) RETURNS timestamptz
 */
Datum
billy_effective_confirmed_at(PG_FUNCTION_ARGS)
{
	char	   *resource;
	TimestampTz row = PG_ARGISNULL(1) ? 0 : PG_GETARG_TIMESTAMPTZ(1);
	TimestampTz complete = PG_ARGISNULL(3) ? 0 : PG_GETARG_TIMESTAMPTZ(3);
	TimestampTz hot = PG_ARGISNULL(4) ? 0 : PG_GETARG_TIMESTAMPTZ(4);
	TimestampTz result;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("resource must not be null")));
	resource = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (billy_sync_table(resource) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown resource \"%s\"", resource),
				 errhint("Use Billy's plural name, e.g. invoices or bankPayments.")));
	result = billy_cache_effective_confirmed(resource, row, !PG_ARGISNULL(2),
											 PG_ARGISNULL(2) ? false : PG_GETARG_BOOL(2),
											 complete, hot);
	if (result == 0)
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(result);
}

/* interval_us turns an interval into microseconds (a month is 30 days) */
static int64
interval_us(Interval *iv)
{
	return iv->time + (int64) iv->day * USECS_PER_DAY +
		(int64) iv->month * DAYS_PER_MONTH * USECS_PER_DAY;
}

/* window_of is a mirror row's window */
static int64
window_of(const CacheResource *cr, BillyMirrorRow *row)
{
	return billy_cache_window_us(billy_cache_record_state(cr->name, row->raw), row->changed_at);
}

/*
 * billy_cache_confirming: billy._cache_confirming(max_age interval)
 * RETURNS boolean: whether a read confirms stale rows before answering.
 */
Datum
billy_cache_confirming(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(!PG_ARGISNULL(0) || billy_read_confirm);
}

/* resource_by_name: the read path's resource, or an error naming it */
static const CacheResource *
resource_by_name(const char *name)
{
	const CacheResource *cr = billy_resource(name);

	if (cr != NULL && cr->read_function != NULL)
		return cr;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown resource \"%s\"", name),
			 errhint("Use Billy's plural name, e.g. invoices or bankPayments.")));
	return NULL;
}

static Datum
reason_datum(FunctionCallInfo fcinfo, const char *reason)
{
	if (reason == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(reason));
}

/*
 * billy_cache_confirm_hot: billy._cache_confirm_hot(org, res, max_age)
 * RETURNS text: a list read's confirmation of the unpaid set, before it
 * selects its rows (a payment changes which rows match).
 */
Datum
billy_cache_confirm_hot(PG_FUNCTION_ARGS)
{
	char	   *org = text_to_cstring(PG_GETARG_TEXT_PP(0));
	const CacheResource *cr = resource_by_name(text_to_cstring(PG_GETARG_TEXT_PP(1)));
	int64		window = PG_ARGISNULL(2) ? billy_cache_hot_window_us() : interval_us(PG_GETARG_INTERVAL_P(2));
	BillyCacheCounts counts = {0};
	const char *reason;

	billy_require_preload();
	if (!(billy_read_confirm || !PG_ARGISNULL(2)) || !billy_sync_in_hot_set(cr->name, false, false))
		PG_RETURN_NULL();
	reason = billy_cache_confirm_unpaid(org, cr->name, window, &counts.api_calls, NULL);
	if (counts.api_calls > 0)
		billy_cache_count(org, cr->name, "", &counts, false);
	return reason_datum(fcinfo, reason);
}

/*
 * billy_cache_confirm_rows: billy._cache_confirm_rows(org, res, ids)
 * RETURNS text: confirms a list's stale rows in the fewest requests
 * (billy_cache_confirm_ids).
 */
Datum
billy_cache_confirm_rows(PG_FUNCTION_ARGS)
{
	char	   *org = text_to_cstring(PG_GETARG_TEXT_PP(0));
	const CacheResource *cr = resource_by_name(text_to_cstring(PG_GETARG_TEXT_PP(1)));
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	char	  **ids;
	int			nids = 0;
	BillyCacheCounts counts = {0};
	const char *reason;

	billy_require_preload();
	if (PG_ARGISNULL(2))
		PG_RETURN_NULL();
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(2), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	ids = palloc(sizeof(char *) * Max(n, 1));
	for (int i = 0; i < n; i++)
		if (!nulls[i])
			ids[nids++] = TextDatumGetCString(elems[i]);
	reason = billy_cache_confirm_ids(org, cr->name, ids, nids, &counts.api_calls);
	if (counts.api_calls > 0)
		billy_cache_count(org, cr->name, "", &counts, false);
	return reason_datum(fcinfo, reason);
}

static void
push_key(JsonbParseState **st, const char *key)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) key;
	v.val.string.len = strlen(key);
	pushJsonbValue(st, WJB_KEY, &v);
}

static void
push_string(JsonbParseState **st, const char *key, const char *value)
{
	JsonbValue	v;

	push_key(st, key);
	if (value == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvString;
		v.val.string.val = (char *) value;
		v.val.string.len = strlen(value);
	}
	pushJsonbValue(st, WJB_VALUE, &v);
}

static void
push_bool(JsonbParseState **st, const char *key, bool value)
{
	JsonbValue	v;

	push_key(st, key);
	v.type = jbvBool;
	v.val.boolean = value;
	pushJsonbValue(st, WJB_VALUE, &v);
}

static void
push_seconds(JsonbParseState **st, const char *key, int64 us)
{
	JsonbValue	v;
	char		buf[64];

	push_key(st, key);
	snprintf(buf, sizeof(buf), "%.3f", (double) us / USECS_PER_SEC);
	v.type = jbvNumeric;
	v.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(buf),
														ObjectIdGetDatum(InvalidOid),
														Int32GetDatum(-1)));
	pushJsonbValue(st, WJB_VALUE, &v);
}

/* what an answer says about itself */
typedef struct Freshness
{
	const char *source;			/* "mirror" or "api" */
	bool		fresh;
	TimestampTz confirmed_at;
	int64		age_us;
	int64		max_age_us;		/* the window the answer is fresh within */
	const char *refresh;		/* "queued", or NULL */
	const char *stale_reason;	/* why Billy was not asked, or failed */
	const char *error;
	bool		not_stored;
} Freshness;

/* append_container adds a jsonb's root container, int-aligned, to buf; returns its JEntry */
static JEntry
append_container(StringInfo buf, Jsonb *jb)
{
	int			base = buf->len;
	int			pad = INTALIGN(buf->len) - buf->len;

	appendStringInfoSpaces(buf, pad);
	memset(buf->data + base, 0, pad);
	appendBinaryStringInfo(buf, (char *) &jb->root, VARSIZE(jb) - VARHDRSZ);
	return JENTRY_ISCONTAINER | (buf->len - base);
}

/*
 * pair_object builds the jsonb {k1: v1, k2: v2} from two jsonb values
 * without taking them apart: their containers are copied as they are
 * (jsonb's containers are position-independent; each is int-aligned, as
 * convertToJsonb would place it).  An answer's record is most of its
 * bytes, and this is the read path's cost.
 */
static Jsonb *
pair_object(const char *k1, Jsonb *v1, const char *k2, Jsonb *v2)
{
	StringInfoData buf;
	const char *keys[2];
	Jsonb	   *vals[2];
	JEntry		entries[4];
	uint32		header = 2 | JB_FOBJECT;
	int			entries_at;
	uint32		total = 0;
	int			l1 = strlen(k1);
	int			l2 = strlen(k2);
	bool		swap = l1 > l2 || (l1 == l2 && memcmp(k1, k2, l1) > 0);

	/* jsonb orders keys by length, then bytes */
	keys[0] = swap ? k2 : k1;
	keys[1] = swap ? k1 : k2;
	vals[0] = swap ? v2 : v1;
	vals[1] = swap ? v1 : v2;

	initStringInfo(&buf);
	appendStringInfoSpaces(&buf, VARHDRSZ);
	appendBinaryStringInfo(&buf, (char *) &header, sizeof(header));
	entries_at = buf.len;
	appendStringInfoSpaces(&buf, sizeof(entries));
	for (int i = 0; i < 2; i++)
	{
		int			len = strlen(keys[i]);

		appendBinaryStringInfo(&buf, keys[i], len);
		total += len;
		entries[i] = JENTRY_ISSTRING | (i == 0 ? (total | JENTRY_HAS_OFF) : (uint32) len);
	}
	for (int i = 0; i < 2; i++)
	{
		entries[2 + i] = append_container(&buf, vals[i]);
		total += JBE_OFFLENFLD(entries[2 + i]);
	}
	memcpy(buf.data + entries_at, entries, sizeof(entries));
	SET_VARSIZE(buf.data, buf.len);
	return (Jsonb *) buf.data;
}

/* answer builds {"<singular>": record, "freshness": {...}} */
static Jsonb *
answer(const char *singular, Jsonb *record, Freshness *fr)
{
	JsonbParseState *st = NULL;
	JsonbValue *res;
	char		buf[MAXDATELEN + 1];

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	push_string(&st, "source", fr->source);
	push_bool(&st, "fresh", fr->fresh);
	push_string(&st, "confirmed_at", fr->confirmed_at ?
				JsonEncodeDateTime(buf, TimestampTzGetDatum(fr->confirmed_at), TIMESTAMPTZOID, NULL) : NULL);
	push_seconds(&st, "age_seconds", Max(fr->age_us, 0));
	push_seconds(&st, "max_age_seconds", fr->max_age_us);
	if (fr->refresh)
		push_string(&st, "refresh", fr->refresh);
	if (fr->stale_reason)
		push_string(&st, "stale_reason", fr->stale_reason);
	if (fr->error)
		push_string(&st, "error", fr->error);
	if (fr->not_stored)
		push_bool(&st, "stored", false);
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return pair_object(singular, record, "freshness", JsonbValueToJsonb(res));
}

/*
 * array_of builds the jsonb array [v1, ..., vn] of objects without taking
 * them apart, as pair_object does: each container copied as it is.
 */
static Jsonb *
array_of(Jsonb **vals, int n)
{
	StringInfoData buf;
	uint32		header = (uint32) n | JB_FARRAY;
	JEntry	   *entries = palloc(sizeof(JEntry) * Max(n, 1));
	int			entries_at;
	uint32		total = 0;

	initStringInfo(&buf);
	appendStringInfoSpaces(&buf, VARHDRSZ);
	appendBinaryStringInfo(&buf, (char *) &header, sizeof(header));
	entries_at = buf.len;
	appendStringInfoSpaces(&buf, sizeof(JEntry) * n);
	for (int i = 0; i < n; i++)
	{
		JEntry		e;

		if (JB_ROOT_IS_SCALAR(vals[i]))
			elog(ERROR, "billy: a mirror row's JSON is not an object");
		e = append_container(&buf, vals[i]);
		total += JBE_OFFLENFLD(e);

		/*
		 * every JB_OFFSET_STRIDE-th entry holds the end offset, as
		 * convertJsonbArray writes
		 */
		entries[i] = i % JB_OFFSET_STRIDE == 0 ? (JENTRY_ISCONTAINER | JENTRY_HAS_OFF | total) : e;
	}
	if (n > 0)
		memcpy(buf.data + entries_at, entries, sizeof(JEntry) * n);
	SET_VARSIZE(buf.data, buf.len);
	return (Jsonb *) buf.data;
}

/*
 * billy_cache_page: billy._cache_page(org, res, ids text[], max_age
 * interval) RETURNS (rows jsonb, n_stale integer, stale_ids text[],
 * confirmed_at timestamptz, age interval, win interval).  A list page's
 * rows from the mirror in the order of ids (those the caller may read),
 * with their freshness: each row's effective confirmation and window
 * (max_age when given, else its class's); the row with the least time
 * left in its window speaks for the page.  By index probes as the caller
 * (billy_cache_read_row) with no query planned, and the rows' JSON copied
 * into the array as it is: the list functions' cost was planning a query
 * per call and taking every row's JSON apart twice.
 */
Datum
billy_cache_page(PG_FUNCTION_ARGS)
{
	char	   *org;
	const CacheResource *cr;
	int64		max_age = PG_ARGISNULL(3) ? -1 : interval_us(PG_GETARG_INTERVAL_P(3));
	Datum	   *elems = NULL;
	bool	   *nulls = NULL;
	int			n = 0;
	Jsonb	  **raws;
	Datum	   *stale;
	int			nrows = 0;
	int			nstale = 0;
	bool		have_best = false;
	int64		best_left = 0;
	TimestampTz best_eff = 0;
	int64		best_age = 0;
	int64		best_win = 0;
	TupleDesc	desc;
	Datum		values[6];
	bool		isnull[6] = {0};

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("org and res must not be null")));
	org = text_to_cstring(PG_GETARG_TEXT_PP(0));
	cr = resource_by_name(text_to_cstring(PG_GETARG_TEXT_PP(1)));
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "billy: _cache_page must return a record");
	if (!PG_ARGISNULL(2))
		deconstruct_array(PG_GETARG_ARRAYTYPE_P(2), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	raws = palloc(sizeof(Jsonb *) * Max(n, 1));
	stale = palloc(sizeof(Datum) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		BillyMirrorRow row;
		char	   *id;
		int64		age;
		int64		win;

		if (nulls[i])
			continue;
		id = TextDatumGetCString(elems[i]);
		if (id[0] == '\0' || strlen(id) >= BILLY_MAX_ID)
			continue;
		billy_cache_read_row(cr->name, org, id, &row, false);
		if (!row.found)
			continue;
		raws[nrows++] = row.raw;
		age = row.effective ? billy_cache_age_us(row.effective) : PG_INT64_MAX;
		win = max_age >= 0 ? max_age : window_of(cr, &row);
		if (age >= win)
			stale[nstale++] = elems[i];
		/* the least time left in its window; the first of equals */
		if (!have_best || (row.effective ? win - age : PG_INT64_MIN) < best_left)
		{
			have_best = true;
			best_left = row.effective ? win - age : PG_INT64_MIN;
			best_eff = row.effective;
			best_age = age;
			best_win = win;
		}
	}
	values[0] = JsonbPGetDatum(array_of(raws, nrows));
	values[1] = Int32GetDatum(nstale);
	if (nstale > 0)
		values[2] = PointerGetDatum(construct_array(stale, nstale, TEXTOID, -1, false, TYPALIGN_INT));
	else
		isnull[2] = true;
	isnull[3] = !have_best || best_eff == 0;
	isnull[4] = isnull[3];
	isnull[5] = !have_best;
	if (!isnull[3])
	{
		Interval   *a = palloc0(sizeof(Interval));

		a->time = best_age;
		values[3] = TimestampTzGetDatum(best_eff);
		values[4] = IntervalPGetDatum(a);
	}
	if (have_best)
	{
		Interval   *w = palloc0(sizeof(Interval));

		w->time = best_win;
		values[5] = IntervalPGetDatum(w);
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, isnull)));
}

/*
 * cache_get is every billy.get_<resource>(org text, id text, max_age
 * interval DEFAULT NULL) RETURNS jsonb: see the file header.
 */
static Datum
cache_get(FunctionCallInfo fcinfo, const CacheResource *cr)
{
	char	   *org;
	char	   *id;
	int64		max_age = -1;
	BillyMirrorRow row;
	Freshness	fr = {0};
	BillyCacheCounts counts = {0};
	const char *singular = billy_sync_singular(cr->name);
	Jsonb	   *result;
	bool		want_refresh = false;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("id must not be null"),
				 errhint("Pass the %s's Billy id.", cr->noun)));
	id = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (id[0] == '\0' || strlen(id) >= BILLY_MAX_ID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("id must be a Billy id of 1 to %d characters", BILLY_MAX_ID - 1)));
	if (!PG_ARGISNULL(2))
	{
		max_age = interval_us(PG_GETARG_INTERVAL_P(2));
		if (max_age < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("max_age must not be negative"),
					 errhint("Use '0' to always ask Billy, NULL to accept the cache's own freshness.")));
	}
	billy_require_preload();

	/* the organization: an id found with the row, else resolved (names, NULL) */
	org = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (org != NULL)
		billy_cache_read_row(cr->name, org, id, &row, false);
	if (org == NULL || !row.found)
	{
		char	   *resolved = billy_resolve_organization(org);

		if (org == NULL || strcmp(resolved, org) != 0)
			billy_cache_read_row(cr->name, resolved, id, &row, false);
		org = resolved;
	}

	counts.reads = 1;
	if (row.found && row.deleted)
	{
		char		buf[MAXDATELEN + 1];

		billy_cache_count(org, cr->name, id, &counts, false);
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("%s \"%s\" was deleted in Billy", cr->noun, id),
				 errdetail("billy found it gone at %s.",
						   JsonEncodeDateTime(buf, TimestampTzGetDatum(row.deleted_at), TIMESTAMPTZOID, NULL))));
	}

	if (row.found)
	{
		int64		window = max_age >= 0 ? max_age : window_of(cr, &row);
		int64		age = row.effective ? billy_cache_age_us(row.effective) : PG_INT64_MAX;
		bool		confirm = max_age >= 0 || billy_read_confirm;

		fr.source = "mirror";
		fr.confirmed_at = row.effective;
		fr.age_us = age;
		fr.max_age_us = window;
		fr.fresh = age < window;

		if (!fr.fresh && confirm)
		{
			/*
			 * The caller wants it confirmed: an unpaid document by the hot
			 * scan that confirms every unpaid one (the next reads of unpaid
			 * ones cost nothing); anything else, max_age 0 ("ask Billy now"),
			 * or when the scan cannot run, by one GET.  Either is shared: a
			 * read that finds the same confirmation under way waits for it
			 * and reads what it stored.
			 */
			const char *reason = NULL;
			char	   *error = NULL;
			bool		waited = false;

			if (row.hot && max_age != 0)
			{
				reason = billy_cache_confirm_unpaid(org, cr->name, window, &counts.api_calls, &error);
				if (reason == NULL)
				{
					BillyMirrorRow again;

					billy_cache_read_row(cr->name, org, id, &again, true);
					if (again.found)
						row = again;	/* the scan may have found it gone */
				}
			}
			age = row.effective ? billy_cache_age_us(row.effective) : PG_INT64_MAX;
			if (age >= window && !row.deleted && billy_cache_singleflight(org, cr->name, id, &waited) && waited)
			{
				BillyMirrorRow again;

				billy_cache_read_row(cr->name, org, id, &again, true);
				if (again.found)
					row = again;
				age = row.effective ? billy_cache_age_us(row.effective) : PG_INT64_MAX;
			}
			if (row.deleted)
			{
				billy_cache_count(org, cr->name, id, &counts, false);
				ereport(ERROR,
						(errcode(ERRCODE_NO_DATA_FOUND),
						 errmsg("%s \"%s\" was deleted in Billy", cr->noun, id),
						 errdetail("billy found it gone just now.")));
			}
			if (age < window)
			{
				counts.refetches = 1;
				fr.confirmed_at = row.effective;
				fr.age_us = age;
				fr.fresh = true;
			}
			else
			{
				/*
				 * the caller wants it younger than the cache has it: ask
				 * Billy
				 */
				BillyFetched f;

				/*
				 * a spent budget: the copy, flagged (only a miss raises
				 * 53400)
				 */
				billy_cache_fetch_one(cr->name, org, id, &f, false);
				if (f.called)
					counts.api_calls += 1;
				if (f.outcome == BILLY_RECORD_STORED || f.outcome == BILLY_RECORD_UNCHANGED)
				{
					counts.refetches = 1;
					billy_cache_count(org, cr->name, id, &counts, false);
					fr.source = "api";
					fr.fresh = true;

					/*
					 * Billy's answer, as it arrived (the mirror keeps when it
					 * asked)
					 */
					fr.confirmed_at = GetCurrentTimestamp();
					fr.age_us = 0;
					fr.not_stored = !f.stored;
					PG_RETURN_JSONB_P(answer(singular, f.record, &fr));
				}
				if (f.outcome == BILLY_RECORD_GONE)
				{
					counts.refetches = 1;
					billy_cache_count(org, cr->name, id, &counts, false);
					ereport(ERROR,
							(errcode(ERRCODE_NO_DATA_FOUND),
							 errmsg("%s \"%s\" was deleted in Billy", cr->noun, id),
							 errdetail("Billy answered 404 just now%s.",
									   f.stored ? "; the mirror marks it deleted" : "")));
				}
				/* Billy could not be asked: the copy, flagged */
				fr.fresh = false;
				fr.stale_reason = f.reason ? f.reason : reason;
				fr.error = f.error.message ? f.error.message : error;
				want_refresh = true;
			}
		}
		else if (!fr.fresh)
		{
			TimestampTz retry_at;

			want_refresh = true;
			if (billy_breaker_is_open(org, &retry_at))
				fr.stale_reason = "breaker_open";
		}
		if (fr.fresh)
			counts.fresh = 1;
		else
			counts.stale = 1;
		if (billy_cache_count(org, cr->name, id, &counts, want_refresh))
			billy_wake_worker();
		if (want_refresh)
			fr.refresh = "queued";
		result = answer(singular, row.raw, &fr);
		PG_RETURN_JSONB_P(result);
	}

	/* not in the mirror: one GET */
	{
		BillyFetched f;

		billy_cache_fetch_one(cr->name, org, id, &f, true);
		counts.misses = 1;
		counts.api_calls = f.called ? 1 : 0;
		billy_cache_count(org, cr->name, id, &counts, false);
		if (f.outcome == BILLY_RECORD_GONE)
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA_FOUND),
					 errmsg("%s \"%s\" does not exist in Billy", cr->noun, id),
					 errdetail("It is not in the mirror, and Billy answered 404.")));
		if (f.outcome == BILLY_RECORD_FAILED)
		{
			if (f.reason && strcmp(f.reason, "breaker_open") == 0)
				ereport(ERROR,
						(errcode(ERRCODE_CONNECTION_FAILURE),
						 errmsg("%s \"%s\" is not in the mirror and Billy is not being called", cr->noun, id),
						 errdetail("The circuit breaker of organization \"%s\" is open after repeated failures.", org),
						 errhint("billy.breaker_status() says when it tries again.")));
			if (f.reason && strcmp(f.reason, "not_connected") == 0)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("%s \"%s\" is not in the mirror and organization \"%s\" is not connected", cr->noun, id, org),
						 errhint("Call billy.connect() with an access token for it.")));
			ereport(ERROR,
					(errcode(f.error.sqlerrcode),
					 errmsg("%s \"%s\" is not in the mirror and Billy could not be asked: %s",
							cr->noun, id, f.error.message),
					 f.error.detail ? errdetail("%s", f.error.detail) : 0,
					 errhint("billy.read_through_timeout_ms bounds the wait; the next sync brings the record if it exists."),
					 errhidestmt(true)));
		}
		fr.source = "api";
		fr.fresh = true;
		fr.confirmed_at = GetCurrentTimestamp();
		fr.age_us = 0;
		fr.max_age_us = max_age >= 0 ? max_age : billy_cache_window_us(f.record ? billy_cache_record_state(cr->name, f.record) : NULL, 0);
		fr.not_stored = !f.stored;
		PG_RETURN_JSONB_P(answer(singular, f.record, &fr));
	}
}

/*
 * billy_get is every billy.get_<resource>(org, id, max_age): the resource
 * is the one the SQL function is named after (found once per call site).
 */
Datum
billy_get(PG_FUNCTION_ARGS)
{
	const CacheResource *cr = fcinfo->flinfo->fn_extra;

	if (cr == NULL)
	{
		char	   *name = get_func_name(fcinfo->flinfo->fn_oid);

		cr = name ? billy_resource_read_by(name) : NULL;
		if (cr == NULL)
			elog(ERROR, "billy: no resource is read by function %s", name ? name : "?");
		/* a copy as long-lived as the call site (the catalog may change) */
		cr = billy_resource_copy(cr, fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = (void *) cr;
	}
	return cache_get(fcinfo, cr);
}

/* ------------------------------------------------------------------------
 * Helpers the SQL side calls
 * ------------------------------------------------------------------------
 */

/*
 * billy_cache_count_list: billy._cache_count_list(org text, resource text,
 * stale_ids text[]) RETURNS void.  A list read: one read of the resource
 * (record id empty), and a refresh wanted for each stale row it returned.
 *
 * Any reader can call it (the list functions run as the caller), so it
 * counts only what a real list read could: a resource billy caches, of an
 * organization the caller sees, and ids that are rows of that organization
 * in the mirror (read as the caller).  Otherwise made-up names and ids would
 * fill the shared table, and real counts would be dropped.
 */
Datum
billy_cache_count_list(PG_FUNCTION_ARGS)
{
	char	   *org;
	char	   *resource;
	BillyCacheCounts counts = {0};
	bool		wake = false;
	bool		known = false;

	billy_require_preload();
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_VOID();
	org = text_to_cstring(PG_GETARG_TEXT_PP(0));
	resource = text_to_cstring(PG_GETARG_TEXT_PP(1));
	{
		const CacheResource *cr = billy_resource(resource);

		known = cr != NULL && cr->read_function != NULL;
	}
	if (!known || strlen(org) >= BILLY_MAX_ID || !billy_org_visible(org))
		PG_RETURN_VOID();
	counts.reads = 1;
	if (!PG_ARGISNULL(2))
	{
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(2);
		Datum	   *elems = NULL;
		bool	   *nulls = NULL;
		int			n = 0;
		bool		isnull = true;
		Datum		found = (Datum) 0;
		Oid			types[2] = {TEXTOID, TEXTARRAYOID};
		Datum		values[2] = {PG_GETARG_DATUM(0), PG_GETARG_DATUM(2)};

		/* only the ids that are rows of this organization's mirror */
		if (ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr)) > 0)
			found = billy_sql_datum(psprintf("SELECT pg_catalog.array_agg(m.id) FROM billy.%s m "
											 "WHERE m.organization_id OPERATOR(pg_catalog.=) $1 "
											 "AND m.id OPERATOR(pg_catalog.=) ANY ($2)",
											 quote_identifier(billy_sync_table(resource))),
									2, types, values, NULL, &isnull);
		if (!isnull)
			deconstruct_array(DatumGetArrayTypeP(found), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		counts.stale = n > 0 ? 1 : 0;
		for (int i = 0; i < n; i++)
		{
			BillyCacheCounts none = {0};

			if (!nulls[i])
				wake |= billy_cache_count(org, resource, TextDatumGetCString(elems[i]), &none, true);
		}
	}
	if (counts.stale == 0)
		counts.fresh = 1;
	billy_cache_count(org, resource, "", &counts, false);
	if (wake)
		billy_wake_worker();
	PG_RETURN_VOID();
}
