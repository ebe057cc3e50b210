/*-------------------------------------------------------------------------
 *
 * freshness.c
 *	  How long a mirror row counts as fresh: its window, by how likely the
 *	  record is to change.  A record's class (billy.cache_state: open,
 *	  draft, paid, old, voided, active, archived, booked) picks a rule of
 *	  billy.ttl_rules; a record billy saw change within the last hour gets
 *	  at most the 'recent' rule.  Every read computes its rows' windows here
 *	  (billy.freshness_window in SQL), from the row alone: no per-row
 *	  policy is looked up.
 *
 * The rules are copied into each backend on first use and dropped by a
 * relcache invalidation of billy.ttl_rules (its statement trigger,
 * billy._invalidate_cached), so an administrator's change reaches every
 * backend at commit.
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "clock.h"
#include "freshness.h"

PG_FUNCTION_INFO_V1(billy_cache_state);
PG_FUNCTION_INFO_V1(billy_freshness_window);
PG_FUNCTION_INFO_V1(billy_cache_state_keys);

typedef struct WindowRule
{
	char		state[32];
	int64		us;
} WindowRule;

static WindowRule *window_rules = NULL;
static int	window_nrules = 0;
static bool window_rules_valid = false;
static Oid	window_rules_relid = InvalidOid;
static bool window_callback_registered = false;

static void
window_rules_cb(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == window_rules_relid)
		window_rules_valid = false;
}

/*
 * load_window_rules copies billy.ttl_rules into this backend, as the
 * owner; the table's statement trigger (billy._invalidate_cached) sends
 * the relcache invalidation that makes every backend read it again.
 */
static void
load_window_rules(void)
{
	BillyOwner	owner;
	WindowRule *rules;
	int			n;

	if (!window_callback_registered)
	{
		CacheRegisterRelcacheCallback(window_rules_cb, (Datum) 0);
		window_callback_registered = true;
	}

	/*
	 * valid from here: an invalidation during the read makes the next one
	 * read again
	 */
	window_rules_valid = true;
	window_rules_relid = get_relname_relid("ttl_rules", get_namespace_oid("billy", false));
	billy_become_owner(&owner);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "billy: SPI_connect failed");
	if (SPI_execute("SELECT state, (pg_catalog.date_part('epoch', ttl) OPERATOR(pg_catalog.*) 1000000)::pg_catalog.int8 "
					"FROM billy.ttl_rules", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "billy: could not read billy.ttl_rules");
	n = (int) SPI_processed;
	rules = MemoryContextAllocZero(TopMemoryContext, sizeof(WindowRule) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		char	   *state = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		bool		isnull;
		Datum		us = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull);

		strlcpy(rules[i].state, state ? state : "", sizeof(rules[i].state));
		rules[i].us = isnull ? -1 : DatumGetInt64(us);
	}
	SPI_finish();
	billy_end_owner(&owner);
	if (window_rules)
		pfree(window_rules);
	window_rules = rules;
	window_nrules = n;
}

static int64
rule_us(const char *state)
{
	for (int i = 0; i < window_nrules; i++)
		if (strcmp(window_rules[i].state, state) == 0)
			return window_rules[i].us;
	return -1;
}

/*
 * billy_cache_window_us is the freshness window of a row of a class
 * (billy_cache_record_state) that billy saw change at changed_at (0:
 * unknown): its class's rule, else '*', at most the 'recent' rule when
 * the change is less than an hour old.  billy.freshness_window in SQL.
 */
int64
billy_cache_window_us(const char *state, TimestampTz changed_at)
{
	int64		w = -1;

	if (!window_rules_valid)
		load_window_rules();
	if (state)
		w = rule_us(state);
	if (w < 0)
		w = rule_us("*");
	if (w < 0)
		w = 120 * USECS_PER_SEC;
	if (changed_at != 0 && billy_cache_age_us(changed_at) < USECS_PER_HOUR)
	{
		int64		recent = rule_us("recent");

		if (recent >= 0 && recent < w)
			w = recent;
	}
	return w;
}

static bool
json_key(Jsonb *j, const char *key, JsonbValue *v)
{
	return JB_ROOT_IS_OBJECT(j) &&
		getKeyJsonValueFromContainer(&j->root, key, strlen(key), v) != NULL;
}

static bool
json_true(Jsonb *j, const char *key)
{
	JsonbValue	v;

	return json_key(j, key, &v) && v.type == jbvBool && v.val.boolean;
}

static bool
json_string_is(Jsonb *j, const char *key, const char *value)
{
	JsonbValue	v;

	return json_key(j, key, &v) && v.type == jbvString &&
		v.val.string.len == (int) strlen(value) && memcmp(v.val.string.val, value, v.val.string.len) == 0;
}

/* entered_over_a_year_ago: the record's entryDate is before current_date - 365 */
static bool
entered_over_a_year_ago(Jsonb *j)
{
	JsonbValue	v;
	char		buf[16];
	int			y,
				m,
				d;

	if (!json_key(j, "entryDate", &v) || v.type != jbvString || v.val.string.len >= (int) sizeof(buf))
		return false;
	memcpy(buf, v.val.string.val, v.val.string.len);
	buf[v.val.string.len] = '\0';
	if (sscanf(buf, "%d-%d-%d", &y, &m, &d) != 3 || m < 1 || m > 12 || d < 1 || d > 31 || y < 1 || y > 9999)
		return false;
	return date2j(y, m, d) - POSTGRES_EPOCH_JDATE < GetSQLCurrentDate() - 365;
}

/*
 * billy_cache_record_state is the class of a record its window depends on
 * (billy.cache_state in SQL): invoices and bills voided, paid, draft, old
 * (approved, unpaid, entered over a year ago) or open; contacts and
 * products archived or active; bank payments voided or booked.
 */
const char *
billy_cache_record_state(const char *resource, Jsonb *raw)
{
	if (strcmp(resource, "invoices") == 0 || strcmp(resource, "bills") == 0)
	{
		if (json_string_is(raw, "state", "voided"))
			return "voided";
		if (json_true(raw, "isPaid"))
			return "paid";
		if (json_string_is(raw, "state", "draft"))
			return "draft";
		if (entered_over_a_year_ago(raw))
			return "old";
		return "open";
	}
	if (strcmp(resource, "contacts") == 0 || strcmp(resource, "products") == 0)
		return json_true(raw, "isArchived") ? "archived" : "active";
	if (strcmp(resource, "bankPayments") == 0)
		return json_true(raw, "isVoided") ? "voided" : "booked";
	return NULL;
}

/*
 * record_state_keys are the keys of a record billy_cache_record_state
 * reads, NULL-terminated (none: a resource without classes).  Keep them
 * with the function above: billy._cache_state_sql builds the class of a
 * mirror row from the typed columns of these keys, not from raw.
 */
static const char *const *
record_state_keys(const char *resource)
{
	static const char *const documents[] = {"state", "isPaid", "entryDate", NULL};
	static const char *const archivable[] = {"isArchived", NULL};
	static const char *const voidable[] = {"isVoided", NULL};
	static const char *const none[] = {NULL};

	if (strcmp(resource, "invoices") == 0 || strcmp(resource, "bills") == 0)
		return documents;
	if (strcmp(resource, "contacts") == 0 || strcmp(resource, "products") == 0)
		return archivable;
	if (strcmp(resource, "bankPayments") == 0)
		return voidable;
	return none;
}

/* billy_cache_state_keys: billy._cache_state_keys(resource text) RETURNS text[] */
Datum
billy_cache_state_keys(PG_FUNCTION_ARGS)
{
	const char *const *keys = record_state_keys(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	Datum		elems[8];
	int			n = 0;

	while (keys[n] != NULL && n < (int) lengthof(elems))
	{
		elems[n] = CStringGetTextDatum(keys[n]);
		n++;
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/* billy_cache_state: billy.cache_state(resource text, record jsonb) RETURNS text */
Datum
billy_cache_state(PG_FUNCTION_ARGS)
{
	const char *state;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	state = billy_cache_record_state(text_to_cstring(PG_GETARG_TEXT_PP(0)), PG_GETARG_JSONB_P(1));
	if (state == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(state));
}

/*
 * billy_freshness_window: billy.freshness_window(state text, changed_at
 * timestamptz, first_seen_at timestamptz) RETURNS interval; changed_at
 * counts only when it is later than first_seen_at (a change, not the
 * insert that first stored the record).
 */
Datum
billy_freshness_window(PG_FUNCTION_ARGS)
{
	Interval   *result = palloc0(sizeof(Interval));
	TimestampTz changed = PG_ARGISNULL(1) ? 0 : PG_GETARG_TIMESTAMPTZ(1);

	if (!PG_ARGISNULL(2) && changed <= PG_GETARG_TIMESTAMPTZ(2))
		changed = 0;
	result->time = billy_cache_window_us(PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)), changed);
	PG_RETURN_INTERVAL_P(result);
}
