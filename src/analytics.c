/*-------------------------------------------------------------------------
 *
 * analytics.c
 *	  The aggregates of billy's analytics that SQL does poorly: sets of
 *	  customers as bitmaps, and receivables aging buckets in integer øre.
 *
 * Customer sets.  "How many customers did we invoice between A and B" is a
 * distinct count, and distinct counts do not add up across days.  The
 * rollup billy.analytics_customer_days keeps, per organization and day, the
 * set of customers invoiced that day as a bitmap over small per-organization
 * contact numbers (billy.analytics_contacts.ordinal); the distinct count of
 * any range is then the population count of the union of its days: O(days),
 * whatever the number of invoices.  A bitmap is a bytea, bit n in byte n / 8
 * at position n % 8 (least significant first), with no trailing zero bytes,
 * so equal sets are equal values and the empty set is the empty bytea.
 *
 * Documents.  billy._document_fact() says what one invoice or bill row
 * contributes to the rollups (NULL when it does not count).  The rollup
 * triggers call it once per row a statement wrote, so it is C: a SQL
 * function per row cost as much as the rest of the maintenance together.
 *
 * Aging.  billy._aging(due_date, amount, as_of) sums amounts into the
 * buckets not due, 1-30, 31-60, 61-90 and over 90 days past due, and counts
 * them, in one pass with int64 øre (no numeric additions per row).  It
 * returns numeric[10]: the five amounts, then the five counts.
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "port/pg_bitutils.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/numeric.h"

PG_FUNCTION_INFO_V1(billy_bitmap_from);
PG_FUNCTION_INFO_V1(billy_bitmap_apply);
PG_FUNCTION_INFO_V1(billy_bitmap_union_step);
PG_FUNCTION_INFO_V1(billy_bitmap_count);
PG_FUNCTION_INFO_V1(billy_bitmap_andnot);
PG_FUNCTION_INFO_V1(billy_bitmap_and);
PG_FUNCTION_INFO_V1(billy_document_fact);
PG_FUNCTION_INFO_V1(billy_aging_step);
PG_FUNCTION_INFO_V1(billy_aging_final);

/* contact numbers are dense per organization; this bounds a bitmap's size */
#define BITMAP_MAX_MEMBER (64 * 1024 * 1024)

/* trimmed_length is the length of a bitmap without its trailing zero bytes */
static int
trimmed_length(const uint8 *bits, int len)
{
	while (len > 0 && bits[len - 1] == 0)
		len--;
	return len;
}

/* make_bitmap returns a bytea holding len bytes of bits */
static bytea *
make_bitmap(const uint8 *bits, int len)
{
	bytea	   *result = palloc(VARHDRSZ + len);

	SET_VARSIZE(result, VARHDRSZ + len);
	if (len > 0)
		memcpy(VARDATA(result), bits, len);
	return result;
}

/*
 * int_members returns the non-null elements of an int4[] (NULL array: none),
 * checking that each may be a member of a bitmap.
 */
static int32 *
int_members(ArrayType *arr, int *n, int32 *max)
{
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int32	   *result;
	int			k = 0;

	*n = 0;
	if (arr == NULL)
		return NULL;
	if (ARR_ELEMTYPE(arr) != INT4OID)
		elog(ERROR, "billy: a bitmap's members must be integer");
	deconstruct_array(arr, INT4OID, 4, true, TYPALIGN_INT, &elems, &nulls, &nelems);
	result = palloc(sizeof(int32) * Max(nelems, 1));
	for (int i = 0; i < nelems; i++)
	{
		int32		v;

		if (nulls[i])
			continue;
		v = DatumGetInt32(elems[i]);
		if (v < 0 || v >= BITMAP_MAX_MEMBER)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("bitmap member %d is out of range", v),
					 errdetail("Members are from 0 to %d.", BITMAP_MAX_MEMBER - 1)));
		if (v > *max)
			*max = v;
		result[k++] = v;
	}
	*n = k;
	return result;
}

/*
 * billy_bitmap_from returns the set of the (non-null) members of an int4[]:
 * billy._bitmap_from(members int[]) RETURNS bytea.
 */
Datum
billy_bitmap_from(PG_FUNCTION_ARGS)
{
	ArrayType  *arr = PG_ARGISNULL(0) ? NULL : PG_GETARG_ARRAYTYPE_P(0);
	int32		max = -1;
	int			n;
	int32	   *members = int_members(arr, &n, &max);
	int			len = max >= 0 ? max / 8 + 1 : 0;
	uint8	   *bits = palloc0(Max(len, 1));

	for (int i = 0; i < n; i++)
		bits[members[i] / 8] |= (uint8) (1 << (members[i] % 8));
	PG_RETURN_BYTEA_P(make_bitmap(bits, len));
}

/*
 * billy_bitmap_apply returns (bitmap OR set_bits) AND NOT clear_bits; any
 * argument may be NULL, the empty set:
 * billy._bitmap_apply(bitmap bytea, set_bits bytea, clear_bits bytea).
 */
Datum
billy_bitmap_apply(PG_FUNCTION_ARGS)
{
	bytea	   *a = PG_ARGISNULL(0) ? NULL : PG_GETARG_BYTEA_PP(0);
	bytea	   *set = PG_ARGISNULL(1) ? NULL : PG_GETARG_BYTEA_PP(1);
	bytea	   *clear = PG_ARGISNULL(2) ? NULL : PG_GETARG_BYTEA_PP(2);
	int			alen = a ? VARSIZE_ANY_EXHDR(a) : 0;
	int			setlen = set ? VARSIZE_ANY_EXHDR(set) : 0;
	int			clearlen = clear ? VARSIZE_ANY_EXHDR(clear) : 0;
	int			len = Max(alen, setlen);
	uint8	   *bits = palloc0(Max(len, 1));

	if (alen > 0)
		memcpy(bits, VARDATA_ANY(a), alen);
	for (int i = 0; i < setlen; i++)
		bits[i] |= ((const uint8 *) VARDATA_ANY(set))[i];
	for (int i = 0; i < Min(clearlen, len); i++)
		bits[i] &= (uint8) ~((const uint8 *) VARDATA_ANY(clear))[i];
	PG_RETURN_BYTEA_P(make_bitmap(bits, trimmed_length(bits, len)));
}

/*
 * billy_bitmap_union_step is the transition function of the aggregate
 * billy._bitmap_union(bytea): the union of the bitmaps aggregated.  The state
 * lives in the aggregate's context and is updated in place.
 */
Datum
billy_bitmap_union_step(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	bytea	   *state = PG_ARGISNULL(0) ? NULL : PG_GETARG_BYTEA_P(0);
	bytea	   *next;
	int			statelen;
	int			nextlen;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "billy: _bitmap_union_step called outside an aggregate");
	if (PG_ARGISNULL(1))
	{
		if (state == NULL)
			PG_RETURN_NULL();
		PG_RETURN_BYTEA_P(state);
	}
	next = PG_GETARG_BYTEA_PP(1);
	nextlen = VARSIZE_ANY_EXHDR(next);
	statelen = state ? VARSIZE(state) - VARHDRSZ : -1;
	if (nextlen > statelen)
	{
		/* grow: a new state in the aggregate's context */
		bytea	   *grown = MemoryContextAllocZero(aggcxt, VARHDRSZ + nextlen);

		SET_VARSIZE(grown, VARHDRSZ + nextlen);
		if (statelen > 0)
			memcpy(VARDATA(grown), VARDATA(state), statelen);
		state = grown;
	}
	{
		uint8	   *s = (uint8 *) VARDATA(state);
		const uint8 *b = (const uint8 *) VARDATA_ANY(next);

		for (int i = 0; i < nextlen; i++)
			s[i] |= b[i];
	}
	PG_RETURN_BYTEA_P(state);
}

/* billy_bitmap_count is the number of members of a bitmap */
Datum
billy_bitmap_count(PG_FUNCTION_ARGS)
{
	bytea	   *b;

	if (PG_ARGISNULL(0))
		PG_RETURN_INT32(0);
	b = PG_GETARG_BYTEA_PP(0);
	PG_RETURN_INT32((int32) pg_popcount(VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b)));
}

/*
 * combine applies a AND b (keep_b) or a AND NOT b to two bitmaps, either of
 * which may be NULL (the empty set).
 */
static Datum
combine(FunctionCallInfo fcinfo, bool keep_b)
{
	bytea	   *a = PG_ARGISNULL(0) ? NULL : PG_GETARG_BYTEA_PP(0);
	bytea	   *b = PG_ARGISNULL(1) ? NULL : PG_GETARG_BYTEA_PP(1);
	int			alen = a ? VARSIZE_ANY_EXHDR(a) : 0;
	int			blen = b ? VARSIZE_ANY_EXHDR(b) : 0;
	uint8	   *bits = palloc0(Max(alen, 1));

	if (alen > 0)
		memcpy(bits, VARDATA_ANY(a), alen);
	for (int i = 0; i < alen; i++)
	{
		uint8		other = i < blen ? ((const uint8 *) VARDATA_ANY(b))[i] : 0;

		bits[i] &= keep_b ? other : (uint8) ~other;
	}
	PG_RETURN_BYTEA_P(make_bitmap(bits, trimmed_length(bits, alen)));
}

/* billy_bitmap_andnot: the members of a that are not in b */
Datum
billy_bitmap_andnot(PG_FUNCTION_ARGS)
{
	return combine(fcinfo, false);
}

/* billy_bitmap_and: the members of both a and b */
Datum
billy_bitmap_and(PG_FUNCTION_ARGS)
{
	return combine(fcinfo, true);
}

/* documents */

/* text_equals says whether a text argument equals a C string */
static bool
text_equals(text *t, const char *s)
{
	size_t		len = strlen(s);

	return VARSIZE_ANY_EXHDR(t) == len && memcmp(VARDATA_ANY(t), s, len) == 0;
}

/*
 * billy_document_fact: billy._document_fact(org, doc_id, is_bill, doc_type,
 * doc_state, deleted, entry, due, contact, currency, rate, amount, tax,
 * balance, sign) returns the billy._analytics_document of an invoice or bill
 * row: NULL unless it is approved, not deleted and dated; its kind (invoice,
 * creditNote, bill, billCreditNote); the due date falling back to the entry
 * date; currency 'XXX', rate 1 and amounts 0 where the row has none.
 */
Datum
billy_document_fact(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[12];
	bool		nulls[12] = {0};
	bool		credit;
	const char *kind;

	if (PG_ARGISNULL(4) || !text_equals(PG_GETARG_TEXT_PP(4), "approved") ||
		!PG_ARGISNULL(5) || PG_ARGISNULL(6))
		PG_RETURN_NULL();
	if (fcinfo->flinfo->fn_extra == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE || desc->natts != 12)
			elog(ERROR, "billy: _document_fact must return billy._analytics_document");
		fcinfo->flinfo->fn_extra = BlessTupleDesc(CreateTupleDescCopy(desc));
		MemoryContextSwitchTo(old);
	}
	desc = (TupleDesc) fcinfo->flinfo->fn_extra;

	credit = !PG_ARGISNULL(3) && text_equals(PG_GETARG_TEXT_PP(3), "creditNote");
	if (!PG_ARGISNULL(2) && PG_GETARG_BOOL(2))
		kind = credit ? "billCreditNote" : "bill";
	else
		kind = credit ? "creditNote" : "invoice";

	values[0] = PG_GETARG_DATUM(0);
	nulls[0] = PG_ARGISNULL(0);
	values[1] = PG_GETARG_DATUM(1);
	nulls[1] = PG_ARGISNULL(1);
	values[2] = CStringGetTextDatum(kind);
	values[3] = PG_ARGISNULL(14) ? Int32GetDatum(1) : PG_GETARG_DATUM(14);
	values[4] = PG_GETARG_DATUM(6);
	values[5] = PG_ARGISNULL(7) ? PG_GETARG_DATUM(6) : PG_GETARG_DATUM(7);
	values[6] = PG_GETARG_DATUM(8);
	nulls[6] = PG_ARGISNULL(8);
	values[7] = PG_ARGISNULL(9) ? CStringGetTextDatum("XXX") : PG_GETARG_DATUM(9);
	values[8] = PG_ARGISNULL(10) ? NumericGetDatum(int64_to_numeric(1)) : PG_GETARG_DATUM(10);
	for (int i = 0; i < 3; i++)
		values[9 + i] = PG_ARGISNULL(11 + i) ? NumericGetDatum(int64_to_numeric(0)) : PG_GETARG_DATUM(11 + i);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

/* aging */

#define AGING_BUCKETS 5

typedef struct AgingState
{
	int64		amount[AGING_BUCKETS];	/* øre */
	int64		count[AGING_BUCKETS];
} AgingState;

/*
 * numeric_to_ore converts an amount to integer øre, rounding half away
 * from zero beyond the second decimal (amounts in base currency are
 * rounded to øre before they get here).
 */
static int64
numeric_to_ore(Numeric n)
{
	Datum		hundred = DirectFunctionCall1(int4_numeric, Int32GetDatum(100));
	Datum		scaled = DirectFunctionCall2(numeric_mul, NumericGetDatum(n), hundred);

	return DatumGetInt64(DirectFunctionCall1(numeric_int8, scaled));
}

/* ore_to_numeric converts integer øre to a numeric with two decimals */
static Datum
ore_to_numeric(int64 ore)
{
	char		buf[48];
	uint64		mag = ore < 0 ? (uint64) (-(ore + 1)) + 1 : (uint64) ore;

	snprintf(buf, sizeof(buf), "%s" UINT64_FORMAT ".%02d", ore < 0 ? "-" : "",
			 mag / 100, (int) (mag % 100));
	return DirectFunctionCall3(numeric_in, CStringGetDatum(buf),
							   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}

/*
 * billy_aging_step is the transition function of billy._aging(due_date date,
 * amount numeric, as_of date): adds the amount to the bucket of its days past
 * due (as_of - due_date: 0 or less is not due).  Rows with a NULL amount or
 * due date are skipped.
 */
Datum
billy_aging_step(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	AgingState *state;
	DateADT		due;
	DateADT		as_of;
	int			days;
	int			bucket;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "billy: _aging_step called outside an aggregate");
	if (PG_ARGISNULL(0))
		state = MemoryContextAllocZero(aggcxt, sizeof(AgingState));
	else
		state = (AgingState *) PG_GETARG_POINTER(0);
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_POINTER(state);
	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("as_of must not be NULL"),
				 errhint("Pass the date the receivables are aged at.")));
	due = PG_GETARG_DATEADT(1);
	as_of = PG_GETARG_DATEADT(3);
	if (DATE_NOT_FINITE(due) || DATE_NOT_FINITE(as_of))
		PG_RETURN_POINTER(state);
	days = as_of - due;
	if (days <= 0)
		bucket = 0;
	else if (days <= 30)
		bucket = 1;
	else if (days <= 60)
		bucket = 2;
	else if (days <= 90)
		bucket = 3;
	else
		bucket = 4;
	state->amount[bucket] += numeric_to_ore(PG_GETARG_NUMERIC(2));
	state->count[bucket] += 1;
	PG_RETURN_POINTER(state);
}

/* billy_aging_final returns {not due, 1-30, 31-60, 61-90, over 90, and their counts} */
Datum
billy_aging_final(PG_FUNCTION_ARGS)
{
	AgingState	empty = {{0}, {0}};
	AgingState *state = PG_ARGISNULL(0) ? &empty : (AgingState *) PG_GETARG_POINTER(0);
	Datum		elems[2 * AGING_BUCKETS];

	for (int i = 0; i < AGING_BUCKETS; i++)
	{
		elems[i] = ore_to_numeric(state->amount[i]);
		elems[AGING_BUCKETS + i] = DirectFunctionCall1(int8_numeric, Int64GetDatum(state->count[i]));
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, 2 * AGING_BUCKETS, NUMERICOID, -1, false, TYPALIGN_INT));
}
