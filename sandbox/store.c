/*
 * store.c - tables, the id index, organization lookup, the sandbox clock
 * and change sets.  See store.h for the locking contract.
 */
#include "store.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

Sandbox		sb;

/*
 * The currencies every organization knows.  Rates are DKK for one unit on
 * the data horizon; generated documents use rates that drift around them.
 */
const Currency currencies[CUR__COUNT] = {
	{"DKK", "Danish Krone", 1000000},
	{"EUR", "Euro", 7460400},
	{"SEK", "Swedish Krona", 690000},
	{"USD", "US Dollar", 6850000},
	{"NOK", "Norwegian Krone", 640000},
	{"GBP", "British Pound", 8720000},
};

static const uint32_t rec_sizes[RK__TABLES] = {
	[RK_ACCOUNT] = sizeof(Account),
	[RK_TAX_RATE] = sizeof(TaxRate),
	[RK_RULESET] = sizeof(Ruleset),
	[RK_RULE] = sizeof(Rule),
	[RK_CONTACT] = sizeof(Contact),
	[RK_CONTACT_PERSON] = sizeof(ContactPerson),
	[RK_PRODUCT] = sizeof(Product),
	[RK_PRODUCT_PRICE] = sizeof(ProductPrice),
	[RK_INVOICE] = sizeof(Invoice),
	[RK_INVOICE_LINE] = sizeof(InvoiceLine),
	[RK_BILL] = sizeof(Bill),
	[RK_BILL_LINE] = sizeof(BillLine),
	[RK_BANK_PAYMENT] = sizeof(BankPayment),
	[RK_BALANCE_MODIFIER] = sizeof(BalanceModifier),
	[RK_SALES_TAX_RETURN] = sizeof(SalesTaxReturn),
	[RK_TRANSACTION] = sizeof(Transaction),
	[RK_POSTING] = sizeof(Posting),
	[RK_DAYBOOK] = sizeof(Daybook),
	[RK_DAYBOOK_TXN] = sizeof(DaybookTxn),
	[RK_DAYBOOK_LINE] = sizeof(DaybookLine),
	[RK_BANK_LINE] = sizeof(BankLine),
	[RK_BANK_MATCH] = sizeof(BankMatch),
	[RK_BANK_SUBJECT] = sizeof(BankSubject),
	[RK_FILE] = sizeof(File),
	[RK_ATTACHMENT] = sizeof(Attachment),
	[RK_ACCOUNT_GROUP] = sizeof(AccountGroup),
};

/* org_init_tables prepares an empty org: locks, tables and id index */
void
org_init_tables(Org *o)
{
	pthread_rwlockattr_t attr;

	pthread_rwlockattr_init(&attr);
	/* writers must not starve under a steady stream of list requests */
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&o->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	pthread_mutex_init(&o->cache_lock, NULL);
	for (int rk = 0; rk < RK__TABLES; rk++)
		o->tab[rk].size = rec_sizes[rk];
	o->ids.cap = 1024;
	o->ids.slots = xmalloc(sizeof(IdSlot) * o->ids.cap);
	memset(o->ids.slots, 0xFF, sizeof(IdSlot) * o->ids.cap);
}

/* org_free releases an organization and everything in it */
void
org_free(Org *o)
{
	for (int32_t i = 0; i < o->tab[RK_FILE].n; i++)
		if (!FILEREC(o, i)->generated)
			free((void *) FILEREC(o, i)->bytes);
	for (int rk = 0; rk < RK__TABLES; rk++)
		free(o->tab[rk].v);
	free(o->ids.slots);
	for (int i = 0; i < ORDER_CACHE; i++)
		if (o->cache[i])
		{
			free(o->cache[i]->idx);
			free(o->cache[i]);
		}
	arena_free(&o->arena);
	pthread_rwlock_destroy(&o->lock);
	pthread_mutex_destroy(&o->cache_lock);
	free(o);
}

/* id_hash hashes a 22-character id */
static inline uint32_t
id_hash(const char *id)
{
	return (uint32_t) hash_bytes(id, ID_LEN);
}

/* ids_insert_slot puts a (hash, ref) into the first free slot */
static void
ids_insert_slot(IdIndex *ix, uint32_t h, uint32_t ref)
{
	uint32_t	mask = ix->cap - 1;
	uint32_t	pos = h & mask;

	while (ix->slots[pos].ref != 0xFFFFFFFF)
		pos = (pos + 1) & mask;
	ix->slots[pos].hash = h;
	ix->slots[pos].ref = ref;
	ix->n++;
}

/* ids_grow doubles the open-addressing table and re-inserts every slot */
static void
ids_grow(IdIndex *ix)
{
	IdSlot	   *old = ix->slots;
	uint32_t	oldcap = ix->cap;

	ix->cap *= 2;
	ix->n = 0;
	ix->slots = xmalloc(sizeof(IdSlot) * ix->cap);
	memset(ix->slots, 0xFF, sizeof(IdSlot) * ix->cap);
	for (uint32_t i = 0; i < oldcap; i++)
		if (old[i].ref != 0xFFFFFFFF)
			ids_insert_slot(ix, old[i].hash, old[i].ref);
	free(old);
}

/*
 * ids_insert_new registers a new record's id in one probe sequence: false
 * (nothing inserted) if the id is taken already.  The table has room.
 */
static bool
ids_insert_new(Org *o, const char *id, uint32_t ref)
{
	IdIndex    *ix = &o->ids;
	uint32_t	h = id_hash(id),
				mask = ix->cap - 1,
				pos = h & mask;

	while (ix->slots[pos].ref != 0xFFFFFFFF)
	{
		if (ix->slots[pos].hash == h)
		{
			uint32_t	r = ix->slots[pos].ref;

			if (memcmp(rec_head(&o->tab[r & 31], (int32_t) (r >> 5))->id, id, ID_LEN) == 0)
				return false;
		}
		pos = (pos + 1) & mask;
	}
	ix->slots[pos].hash = h;
	ix->slots[pos].ref = ref;
	ix->n++;
	return true;
}

/*
 * id_lookup finds the record with this id in the org, dead or alive.
 */
bool
id_lookup(const Org *o, const char *id, RK *rk, int32_t *idx)
{
	const IdIndex *ix = &o->ids;
	uint32_t	h,
				mask = ix->cap - 1,
				pos;

	if (id == NULL || strlen(id) != ID_LEN)
		return false;
	h = id_hash(id);
	pos = h & mask;
	while (ix->slots[pos].ref != 0xFFFFFFFF)
	{
		if (ix->slots[pos].hash == h)
		{
			uint32_t	ref = ix->slots[pos].ref;
			int			k = (int) (ref & 31);
			int32_t		i = (int32_t) (ref >> 5);

			if (memcmp(rec_head(&o->tab[k], i)->id, id, ID_LEN) == 0)
			{
				*rk = (RK) k;
				*idx = i;
				return true;
			}
		}
		pos = (pos + 1) & mask;
	}
	return false;
}

/* id_find_any finds a record of kind rk by id, dead or alive; -1 if none */
int32_t
id_find_any(const Org *o, RK rk, const char *id)
{
	RK			k;
	int32_t		i;

	if (!id_lookup(o, id, &k, &i) || k != rk)
		return -1;
	return i;
}

/* id_find finds a live record of kind rk by id; -1 if none */
int32_t
id_find(const Org *o, RK rk, const char *id)
{
	int32_t		i = id_find_any(o, rk, id);

	if (i < 0 || rec_head(&o->tab[rk], i)->dead)
		return -1;
	return i;
}

/*
 * rec_new appends a zeroed record of kind rk with a fresh id from the org's
 * generator, registers the id and returns the index.  Pointers into the
 * table are invalid afterwards (the table may move).
 */
int32_t
rec_new(Org *o, RK rk)
{
	return rec_new_from(o, rk, &o->rng);
}

/*
 * rec_new_from is rec_new with ids from generator r: the books draw their
 * ids from their own stream so that adding them changes no other record.
 */
int32_t
rec_new_from(Org *o, RK rk, Rng *r)
{
	Table	   *t = &o->tab[rk];
	RecHead    *h;

	if (t->n == t->cap)
	{
		t->cap = t->cap ? t->cap * 2 : 64;
		t->v = xrealloc(t->v, (size_t) t->cap * t->size);
	}
	h = rec_head(t, t->n);
	memset(h, 0, t->size);
	if ((o->ids.n + 1) * 4 > o->ids.cap * 3)
		ids_grow(&o->ids);
	do
		rng_id(r, h->id);
	while (!ids_insert_new(o, h->id, ((uint32_t) t->n << 5) | (uint32_t) rk));
	t->version++;
	return t->n++;
}

/* rec_kill marks a record dead (deleted or replaced) */
void
rec_kill(Org *o, RK rk, int32_t i)
{
	RecHead    *h = rec_head(&o->tab[rk], i);

	if (!h->dead)
	{
		h->dead = true;
		o->tab[rk].dead++;
		o->tab[rk].version++;
	}
}

/*
 * rec_kill_block marks dead the live records of a block [start, start +
 * count) of a table (a document's lines, a contact's persons) and notes
 * each in the change set
 */
void
rec_kill_block(Org *o, RK rk, int32_t start, int32_t count, ChangeSet *cs)
{
	for (int32_t i = start; i < start + count; i++)
		if (!rec_head(&o->tab[rk], i)->dead)
		{
			rec_kill(o, rk, i);
			cs_add(cs, rk, i, OP_DELETED);
		}
}

/* touch bumps a table's version after a change */
void
touch(Org *o, RK rk)
{
	o->tab[rk].version++;
}

/* org_by_token and org_by_id: callers hold sb.lock */
Org *
org_by_token(const char *token)
{
	if (token == NULL)
		return NULL;
	for (int i = 0; i < sb.n_orgs; i++)
		if (strcmp(sb.orgs[i]->token, token) == 0)
			return sb.orgs[i];
	return NULL;
}

/* org_by_id finds an organization by id (caller holds sb.lock) */
Org *
org_by_id(const char *id)
{
	if (id == NULL)
		return NULL;
	for (int i = 0; i < sb.n_orgs; i++)
		if (strcmp(sb.orgs[i]->id, id) == 0)
			return sb.orgs[i];
	return NULL;
}

/* cur_by_code: the index of a currency code, or -1 */
int
cur_by_code(const char *code)
{
	if (code == NULL)
		return -1;
	for (int i = 0; i < CUR__COUNT; i++)
		if (strcmp(currencies[i].id, code) == 0)
			return i;
	return -1;
}

/*
 * The clock.  With --today the clock is logical: it starts at 17:00:00 UTC
 * on that day (generated records are all earlier) and advances one second
 * per successful write or mutation, so runs with the same requests give
 * the same createdTime/approvedTime.  Otherwise it is the wall clock.
 */
static bool clock_logical;
static Time clock_base;
static _Atomic int64_t clock_ticks;

/* clock_init chooses the logical or the wall clock */
void
clock_init(bool logical, Date today)
{
	clock_logical = logical;
	clock_base = time_from_date(today, 17, 0, 0);
	atomic_store(&clock_ticks, 0);
}

/* clock_reset puts the logical clock back to its start */
void
clock_reset(void)
{
	atomic_store(&clock_ticks, 0);
}

/* clock_now reads the clock */
Time
clock_now(void)
{
	if (clock_logical)
		return clock_base + atomic_load(&clock_ticks);
	return (Time) time(NULL);
}

/* clock_tick advances the logical clock by a second and reads it */
Time
clock_tick(void)
{
	if (clock_logical)
		return clock_base + atomic_fetch_add(&clock_ticks, 1) + 1;
	return (Time) time(NULL);
}

/*
 * cs_add records that a record was created, updated or deleted.  Entries
 * after cs->mark are merged: created-then-updated stays created, anything
 * then deleted is deleted (created-then-deleted disappears).
 */
void
cs_add(ChangeSet *cs, RK rk, int32_t idx, int op)
{
	for (int i = cs->mark; i < cs->n; i++)
	{
		Change	   *c = &cs->v[i];

		if (c->rk != rk || c->idx != idx)
			continue;
		if (op == OP_DELETED)
		{
			if (c->op == OP_CREATED)
			{
				memmove(c, c + 1, sizeof(Change) * (size_t) (cs->n - i - 1));
				cs->n--;
			}
			else
				c->op = OP_DELETED;
		}
		return;
	}
	if (cs->n == cs->cap)
	{
		cs->cap = cs->cap ? cs->cap * 2 : 16;
		cs->v = xrealloc(cs->v, sizeof(Change) * (size_t) cs->cap);
	}
	cs->v[cs->n].rk = (uint8_t) rk;
	cs->v[cs->n].op = (uint8_t) op;
	cs->v[cs->n].idx = idx;
	cs->v[cs->n].kind = NULL;
	cs->n++;
}

/* cs_free releases a change set */
void
cs_free(ChangeSet *cs)
{
	free(cs->v);
	memset(cs, 0, sizeof(*cs));
}
