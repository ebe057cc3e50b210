/*-------------------------------------------------------------------------
 *
 * cache_row.c
 *	  A mirror row read as the caller, with its effective confirmation, by
 *	  index probes and no query planned: the read path's cost per row.
 *
 * A row's effective confirmation (billy.effective_confirmed_at, the one
 * place that formula is written):
 *
 *	  greatest(row.confirmed_at, the last complete scan of its resource,
 *			   the last hot scan, if the row is in the hot set)
 *
 * A read is one probe of the row's table and, when its snapshot sees
 * something else than the backend's copy of the resource's scans did, one
 * of billy.sync_state.  The tables' OIDs and the columns' positions are
 * kept per backend too.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "billy.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "cache.h"
#include "sync.h"
#include "visibility.h"

/*
 * billy_cache_effective_confirmed is when a mirror row was last known to
 * equal Billy's record: its own confirmation (written or looked up), the
 * last complete scan of its resource (which confirms every unchanged
 * record without writing it), and the last hot scan when the row is in the
 * hot set.  0 when nothing is known.
 */
TimestampTz
billy_cache_effective_confirmed(const char *resource, TimestampTz row_confirmed,
								bool is_paid_known, bool is_paid,
								TimestampTz complete_scan, TimestampTz hot_scan)
{
	TimestampTz result = row_confirmed;

	if (complete_scan > result)
		result = complete_scan;
	if (hot_scan > result && billy_sync_in_hot_set(resource, is_paid_known, is_paid))
		result = hot_scan;
	return result;
}

/*
 * The tables a read looks in, by name: their OIDs found once per backend
 * and forgotten on any invalidation of their relcache entries (a table
 * dropped with the extension, say), so that a read costs no catalog
 * look-ups.
 */
#define TABLE_SPOTS 8
typedef struct TableSpot
{
	char		name[NAMEDATALEN];
	Oid			relid;
} TableSpot;

static TableSpot table_spots[TABLE_SPOTS];
static bool table_spots_watched;

static void
forget_tables(Datum arg, Oid relid)
{
	for (int i = 0; i < TABLE_SPOTS; i++)
		if (relid == InvalidOid || table_spots[i].relid == relid)
			table_spots[i].relid = InvalidOid;
}

/* table_relid: the OID of billy.<table>, InvalidOid when there is none */
static Oid
table_relid(const char *table)
{
	Oid			relid;
	int			free_spot = -1;

	for (int i = 0; i < TABLE_SPOTS; i++)
	{
		if (table_spots[i].relid == InvalidOid)
		{
			if (free_spot < 0)
				free_spot = i;
		}
		else if (strcmp(table_spots[i].name, table) == 0)
			return table_spots[i].relid;
	}
	if (!table_spots_watched)
	{
		CacheRegisterRelcacheCallback(forget_tables, (Datum) 0);
		table_spots_watched = true;
	}
	relid = get_relname_relid(table, get_namespace_oid("billy", false));
	if (OidIsValid(relid) && free_spot >= 0 && strlen(table) < NAMEDATALEN)
	{
		strlcpy(table_spots[free_spot].name, table, NAMEDATALEN);
		table_spots[free_spot].relid = relid;
	}
	return relid;
}

/*
 * Where lookup_row's columns are in a table: found once per (table, column
 * list) and checked by name on each use, so a table altered since (a
 * column added or dropped by an upgrade) is looked up again.  The column
 * lists are the callers' static arrays.
 */
#define COLUMN_SPOTS 4
#define COLUMN_SPOT_MAX 8
typedef struct ColumnSpot
{
	Oid			relid;
	const char *const *cols;
	int			ncols;
	AttrNumber	atts[COLUMN_SPOT_MAX];
	AttrNumber	last;			/* the highest of atts */
} ColumnSpot;

static ColumnSpot column_spots[COLUMN_SPOTS];
static int	column_spot_next;

/* spot_valid: whether spot still names the columns where desc has them */
static bool
spot_valid(const ColumnSpot *spot, TupleDesc desc)
{
	for (int c = 0; c < spot->ncols; c++)
	{
		Form_pg_attribute fa;

		if (spot->atts[c] > desc->natts)
			return false;
		fa = TupleDescAttr(desc, spot->atts[c] - 1);
		if (fa->attisdropped || strcmp(NameStr(fa->attname), spot->cols[c]) != 0)
			return false;
	}
	return true;
}

/* column_spot: the attribute numbers of cols in rel */
static const ColumnSpot *
column_spot(Relation rel, const char *table, int ncols, const char *const *cols)
{
	TupleDesc	desc = RelationGetDescr(rel);
	ColumnSpot *spot;

	Assert(ncols <= COLUMN_SPOT_MAX);
	for (int i = 0; i < COLUMN_SPOTS; i++)
	{
		spot = &column_spots[i];
		if (spot->relid == RelationGetRelid(rel) && spot->cols == cols && spot->ncols == ncols &&
			spot_valid(spot, desc))
			return spot;
	}
	spot = &column_spots[column_spot_next];
	column_spot_next = (column_spot_next + 1) % COLUMN_SPOTS;
	spot->relid = InvalidOid;
	spot->last = 0;
	for (int c = 0; c < ncols; c++)
	{
		AttrNumber	att = InvalidAttrNumber;

		for (int a = 0; a < desc->natts; a++)
			if (!TupleDescAttr(desc, a)->attisdropped &&
				strcmp(NameStr(TupleDescAttr(desc, a)->attname), cols[c]) == 0)
				att = a + 1;
		if (att == InvalidAttrNumber)
			elog(ERROR, "billy: column %s of billy.%s is missing", cols[c], table);
		spot->atts[c] = att;
		spot->last = Max(spot->last, att);
	}
	spot->cols = cols;
	spot->ncols = ncols;
	spot->relid = RelationGetRelid(rel);
	return spot;
}

/*
 * lookup_row finds the row of billy.<table> (relid) with the given primary
 * key values by a direct index scan (a read is a handful of index probes,
 * no executor), and copies the named columns into the caller's memory.
 * The caller checks privileges (read_row).  Returns false when there is
 * none.
 */
static bool
lookup_row(Oid relid, const char *table, int nkeys, const char *const *keys,
		   int ncols, const char *const *cols, Datum *out, bool *isnull)
{
	Relation	rel;
	Relation	idx;
	IndexScanDesc scan;
	ScanKeyData skey[3];
	TupleTableSlot *slot;
	bool		found = false;

	if (!OidIsValid(relid))
		elog(ERROR, "billy: table billy.%s is missing", table);
	rel = table_open(relid, AccessShareLock);
	idx = index_open(RelationGetPrimaryKeyIndex(rel), AccessShareLock);
	for (int i = 0; i < nkeys; i++)
	{
		ScanKeyInit(&skey[i], i + 1, BTEqualStrategyNumber, F_TEXTEQ, CStringGetTextDatum(keys[i]));
		skey[i].sk_collation = idx->rd_indcollation[i];
	}
	slot = table_slot_create(rel, NULL);
	scan = index_beginscan(rel, idx, GetActiveSnapshot(), nkeys, 0);
	index_rescan(scan, skey, nkeys, NULL, 0);
	if (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		const ColumnSpot *spot = column_spot(rel, table, ncols, cols);

		found = true;
		/* only as far as the last column wanted: a mirror row is wide */
		slot_getsomeattrs(slot, spot->last);
		for (int c = 0; c < ncols; c++)
		{
			int			a = spot->atts[c] - 1;

			isnull[c] = slot->tts_isnull[a];
			if (!isnull[c])
			{
				Form_pg_attribute fa = TupleDescAttr(RelationGetDescr(rel), a);

				out[c] = fa->attlen == -1 ?
					PointerGetDatum(PG_DETOAST_DATUM_COPY(slot->tts_values[a])) :
					datumCopy(slot->tts_values[a], fa->attbyval, fa->attlen);
			}
		}
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(idx, AccessShareLock);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * When a resource's last scans completed, kept between reads for as long as
 * a read cannot see anything else: a snapshot with the same bounds and the
 * same transactions in progress (those it cannot see) sees exactly what the
 * one that looked them up saw, and a transaction that has written nothing
 * has not changed them itself.  Otherwise, and for reads that want the
 * latest data, they are looked up.  A read of one row is then one index
 * probe where it was two.
 */
#define SCAN_SPOTS 16
#define SCAN_SPOT_XIDS 16
typedef struct ScanSpot
{
	char		org[BILLY_MAX_ID];
	char		resource[NAMEDATALEN];
	bool		used;
	/* the snapshot they were looked up in */
	TransactionId xmin;
	TransactionId xmax;
	int			nxids;
	TransactionId xids[SCAN_SPOT_XIDS]; /* xip, then subxip */
	int			nsubxids;
	TimestampTz complete;
	TimestampTz hot;
} ScanSpot;

static ScanSpot scan_spots[SCAN_SPOTS];
static int	scan_spot_next;

/* scans_snapshot: the active snapshot, NULL when what was kept may not be used or kept */
static Snapshot
scans_snapshot(bool latest)
{
	Snapshot	snap;

	if (latest || !ActiveSnapshotSet() || TransactionIdIsValid(GetTopTransactionIdIfAny()))
		return NULL;
	snap = GetActiveSnapshot();
	if (snap->snapshot_type != SNAPSHOT_MVCC || snap->suboverflowed || snap->takenDuringRecovery ||
		snap->xcnt + snap->subxcnt > SCAN_SPOT_XIDS)
		return NULL;
	return snap;
}

/* same_snapshot: whether snap sees what spot's snapshot saw */
static bool
same_snapshot(const ScanSpot *spot, Snapshot snap)
{
	return spot->xmin == snap->xmin && spot->xmax == snap->xmax &&
		spot->nxids == (int) snap->xcnt + snap->subxcnt && spot->nsubxids == snap->subxcnt &&
		(snap->xcnt == 0 || memcmp(spot->xids, snap->xip, sizeof(TransactionId) * snap->xcnt) == 0) &&
		(snap->subxcnt == 0 ||
		 memcmp(spot->xids + snap->xcnt, snap->subxip, sizeof(TransactionId) * snap->subxcnt) == 0);
}

static bool
scans_kept(const char *org, const char *resource, bool latest, TimestampTz *complete, TimestampTz *hot)
{
	Snapshot	snap = scans_snapshot(latest);

	if (snap == NULL)
		return false;
	for (int i = 0; i < SCAN_SPOTS; i++)
	{
		ScanSpot   *spot = &scan_spots[i];

		if (spot->used && strcmp(spot->org, org) == 0 && strcmp(spot->resource, resource) == 0 &&
			same_snapshot(spot, snap))
		{
			*complete = spot->complete;
			*hot = spot->hot;
			return true;
		}
	}
	return false;
}

static void
keep_scans(const char *org, const char *resource, bool latest, TimestampTz complete, TimestampTz hot)
{
	Snapshot	snap = scans_snapshot(latest);
	ScanSpot   *spot;

	if (snap == NULL || strlen(org) >= BILLY_MAX_ID || strlen(resource) >= NAMEDATALEN)
		return;
	/* the same organization and resource's spot, else the next in turn */
	spot = &scan_spots[scan_spot_next];
	for (int i = 0; i < SCAN_SPOTS; i++)
		if (scan_spots[i].used && strcmp(scan_spots[i].org, org) == 0 && strcmp(scan_spots[i].resource, resource) == 0)
			spot = &scan_spots[i];
	if (spot == &scan_spots[scan_spot_next])
		scan_spot_next = (scan_spot_next + 1) % SCAN_SPOTS;
	strlcpy(spot->org, org, BILLY_MAX_ID);
	strlcpy(spot->resource, resource, NAMEDATALEN);
	spot->xmin = snap->xmin;
	spot->xmax = snap->xmax;
	spot->nxids = snap->xcnt + snap->subxcnt;
	spot->nsubxids = snap->subxcnt;
	if (snap->xcnt > 0)
		memcpy(spot->xids, snap->xip, sizeof(TransactionId) * snap->xcnt);
	if (snap->subxcnt > 0)
		memcpy(spot->xids + snap->xcnt, snap->subxip, sizeof(TransactionId) * snap->subxcnt);
	spot->complete = complete;
	spot->hot = hot;
	spot->used = true;
}

/*
 * billy_cache_scan_times: when org's last complete and hot scans of
 * resource started (0: none), as the active snapshot sees billy.sync_state
 * (latest: a snapshot of the latest data the caller pushed, never the copy)
 */
void
billy_cache_scan_times(const char *org, const char *resource, bool latest, TimestampTz *complete, TimestampTz *hot)
{
	static const char *const scan_cols[] = {"last_complete_scan_at", "last_hot_scan_at"};
	const char *keys[2] = {org, resource};
	Datum		sv[2];
	bool		sn[2];

	if (scans_kept(org, resource, latest, complete, hot))
		return;
	*complete = 0;
	*hot = 0;
	if (lookup_row(table_relid("sync_state"), "sync_state", 2, keys, 2, scan_cols, sv, sn))
	{
		*complete = sn[0] ? 0 : DatumGetTimestampTz(sv[0]);
		*hot = sn[1] ? 0 : DatumGetTimestampTz(sv[1]);
	}
	keep_scans(org, resource, latest, *complete, *hot);
}

/*
 * may_read says whether the caller may read billy.<table>'s rows of org:
 * SELECT on the table, and row-level security's rule when it applies to
 * the caller.
 */
static bool
may_read(Oid relid, const char *table, const char *org)
{
	AclResult	acl = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);

	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, table);
	if (check_enable_rls(relid, InvalidOid, true) != RLS_ENABLED)
		return true;
	return billy_org_visible(org);
}

/*
 * billy_cache_read_row looks a record up in the mirror with what its freshness needs:
 * the row and its resource's sync state; its window comes from the row
 * itself (cache.c), so a row never read before costs what a warm one
 * does.  As the caller: privileges and row-level security's rule apply.
 * With latest, it sees what other transactions committed since the
 * statement began (after waiting for a confirmation someone else made).
 */
void
billy_cache_read_row(const char *resource, const char *org, const char *id, BillyMirrorRow *row, bool latest)
{
	static const char *const doc_cols[] = {"raw", "confirmed_at", "deleted_at", "changed_at", "first_seen_at", "is_paid"};
	const char *table = billy_sync_table(resource);
	Oid			relid = table_relid(table);
	const BillyResource *res = billy_resource(resource);

	/* a resource with hot scans has is_paid: its hot_where reads it */
	bool		has_paid = res != NULL && res->hot_where != NULL;
	const char *keys[2] = {org, id};
	Datum		v[6];
	bool		n[6];
	TimestampTz complete;
	TimestampTz hot;
	bool		is_paid;

	memset(row, 0, sizeof(*row));
	if (!OidIsValid(relid))
		elog(ERROR, "billy: table billy.%s is missing", table);
	if (!may_read(relid, table, org))
		return;
	if (latest)
	{
		CommandCounterIncrement();
		PushActiveSnapshot(GetLatestSnapshot());
	}
	PG_TRY();
	{
		if (lookup_row(relid, table, 2, keys, has_paid ? 6 : 5, doc_cols, v, n))
		{
			row->found = true;
			row->raw = DatumGetJsonbP(v[0]);
			row->deleted = !n[2];
			row->deleted_at = n[2] ? 0 : DatumGetTimestampTz(v[2]);
			/* a change, not the first sight (a sync's insert) */
			if (!n[3] && (n[4] || DatumGetTimestampTz(v[3]) > DatumGetTimestampTz(v[4])))
				row->changed_at = DatumGetTimestampTz(v[3]);
			is_paid = has_paid && !n[5] && DatumGetBool(v[5]);
			row->hot = billy_sync_in_hot_set(resource, has_paid && !n[5], is_paid);
			billy_cache_scan_times(org, resource, latest, &complete, &hot);
			row->effective = billy_cache_effective_confirmed(resource, n[1] ? 0 : DatumGetTimestampTz(v[1]),
															 has_paid && !n[5], is_paid, complete, hot);
		}
	}
	PG_FINALLY();
	{
		if (latest)
			PopActiveSnapshot();
	}
	PG_END_TRY();
}
