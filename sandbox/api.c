/*
 * api.c - the Billy API v2 routes: routing and the order of checks
 * (unknown route 404, closed method 405, bad body 400, then auth 401),
 * lists with filters, sorting, paging and includes, GET of one record, and
 * dispatch of writes to write.c.
 *
 * A list is computed from an "order" (all live records of the kind in the
 * requested sort order, cached per table version), then filtered and cut
 * into the page.  Default order is creation order.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ledger.h"
#include "refdata.h"
#include "render.h"
#include "request.h"
#include "write.h"

#define MAX_PAGE_SIZE 1000

static const char *const help_url = "https://www.billy.dk/support/";

/* req_arg returns the first value of a query parameter, or NULL */
const char *
req_arg(const Request *rq, const char *key)
{
	for (int i = 0; i < rq->nargs; i++)
		if (strcmp(rq->args[i].key, key) == 0)
			return rq->args[i].value;
	return NULL;
}

/* is_write_method: POST, PUT, PATCH and DELETE change things */
bool
is_write_method(const char *m)
{
	return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 ||
		strcmp(m, "PATCH") == 0 || strcmp(m, "DELETE") == 0;
}

/* resp_json_begin starts a success body: {"meta":{...} left open for paging */
void
resp_json_begin(Response *rs, int status)
{
	rs->status = status;
	rs->body.len = 0;
	buf_printf(&rs->body, "{\"meta\":{\"statusCode\":%d,\"success\":true,\"time\":0", status);
}

/* error_head writes the error envelope without its closing brace */
static void
error_head(Response *rs, int status, const char *code, const char *message)
{
	char		t[20];

	rs->status = status;
	rs->body.len = 0;
	fmt_datetime(t, clock_now());
	buf_printf(&rs->body, "{\"meta\":{\"statusCode\":%d,\"success\":false},\"errorCode\":", status);
	json_str(&rs->body, code);
	buf_lit(&rs->body, ",\"errorMessage\":");
	json_str(&rs->body, message);
	buf_lit(&rs->body, ",\"errorTime\":\"");
	buf_puts(&rs->body, t);
	buf_lit(&rs->body, "\",\"helpUrl\":");
	json_str(&rs->body, help_url);
}

/* resp_error writes Billy's error envelope (spec §2) */
void
resp_error(Response *rs, int status, const char *code, const char *message)
{
	error_head(rs, status, code, message);
	buf_putc(&rs->body, '}');
}

/* verr_add records one validation problem (key, attribute, message) */
void
verr_add(VErr *v, const char *key, const char *attr, const char *fmt,...)
{
	va_list		ap;

	if (v->n >= lengthof(v->e))
		return;
	snprintf(v->e[v->n].key, sizeof(v->e[v->n].key), "%s", key);
	snprintf(v->e[v->n].attr, sizeof(v->e[v->n].attr), "%s", attr ? attr : "");
	va_start(ap, fmt);
	vsnprintf(v->e[v->n].msg, sizeof(v->e[v->n].msg), fmt, ap);
	va_end(ap);
	if (v->n == 0)
		snprintf(v->message, sizeof(v->message), "%s", v->e[0].msg);
	v->n++;
}

/*
 * resp_validation writes a 422: errorCode VALIDATION_ERROR, errorMessage
 * (the first problem), and validationErrors keyed by the record's
 * _clientId (or its resource name), each with a message and per-attribute
 * messages.
 */
void
resp_validation(Response *rs, const VErr *v)
{
	bool		done[lengthof(v->e)] = {false};

	error_head(rs, 422, "VALIDATION_ERROR", v->n ? v->message : "Validation failed.");
	buf_lit(&rs->body, ",\"validationErrors\":{");
	for (int i = 0; i < v->n; i++)
	{
		bool		first_attr = true;

		if (done[i])
			continue;
		if (i)
			buf_putc(&rs->body, ',');
		json_str(&rs->body, v->e[i].key);
		buf_lit(&rs->body, ":{\"message\":");
		json_str(&rs->body, v->e[i].msg);
		buf_lit(&rs->body, ",\"attributes\":{");
		for (int j = i; j < v->n; j++)
		{
			if (strcmp(v->e[j].key, v->e[i].key) != 0)
				continue;
			done[j] = true;
			if (!v->e[j].attr[0])
				continue;
			if (!first_attr)
				buf_putc(&rs->body, ',');
			first_attr = false;
			json_str(&rs->body, v->e[j].attr);
			buf_putc(&rs->body, ':');
			json_str(&rs->body, v->e[j].msg);
		}
		buf_lit(&rs->body, "}}");
	}
	buf_lit(&rs->body, "}}");
}

/* resp_unprocessable answers a 422 with a single problem */
void
resp_unprocessable(Response *rs, const char *key, const char *attr, const char *msg)
{
	VErr		v = {0};

	verr_add(&v, key, attr, "%s", msg);
	resp_validation(rs, &v);
}

/* parse_body_object parses the body as a JSON object; NULL and a 400 if it is not one */
json_t *
parse_body_object(const Request *rq, Response *rs)
{
	json_t	   *j;
	json_error_t err;

	if (rq->body == NULL || rq->body_len == 0 || rq->body_too_large ||
		(j = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &err)) == NULL)
	{
		resp_error(rs, 400, "INVALID_REQUEST_BODY", "The request body must be a JSON object.");
		return NULL;
	}
	if (!json_is_object(j))
	{
		json_decref(j);
		resp_error(rs, 400, "INVALID_REQUEST_BODY", "The request body must be a JSON object.");
		return NULL;
	}
	return j;
}

/* route templates for stats, one per resource */
static char list_routes[RK__COUNT][48];
static char one_routes[RK__COUNT][56];

/* api_init builds the route templates; called once before serving */
void
api_init(void)
{
	for (int rk = 0; rk < RK__COUNT; rk++)
	{
		snprintf(list_routes[rk], sizeof(list_routes[rk]), "/v2/%s", res_defs[rk].plural);
		snprintf(one_routes[rk], sizeof(one_routes[rk]), "/v2/%s/:id", res_defs[rk].plural);
	}
}

/* ---------------------------------------------------------------- lists */

typedef enum SortKey
{
	SK_NONE,
	SK_ENTRY_DATE,
	SK_DUE_DATE,
	SK_CREATED,
	SK_INVOICE_NO,
	SK_LINE_DESC,
	SK_AMOUNT,
	SK_GROSS,
	SK_BALANCE,
	SK_CONTACT_NAME,
	SK_APPROVED,
	SK_ORDER_NO,
	SK_VOUCHER_NO,
	SK_SUPPLIERS_NO,
	SK_NAME,
	SK_ACCOUNT_NO,
	SK_PRODUCT_NO,
	SK_CONTACT_NO
} SortKey;

typedef struct SortProp
{
	RK			rk;
	const char *name;
	SortKey		key;
} SortProp;

/* the documented sort properties (spec §4), plus a few natural ones */
static const SortProp sort_props[] = {
	{RK_INVOICE, "entryDate", SK_ENTRY_DATE}, {RK_INVOICE, "dueDate", SK_DUE_DATE},
	{RK_INVOICE, "createdTime", SK_CREATED}, {RK_INVOICE, "invoiceNo", SK_INVOICE_NO},
	{RK_INVOICE, "lineDescription", SK_LINE_DESC}, {RK_INVOICE, "amount", SK_AMOUNT},
	{RK_INVOICE, "grossAmount", SK_GROSS}, {RK_INVOICE, "balance", SK_BALANCE},
	{RK_INVOICE, "contact.name", SK_CONTACT_NAME}, {RK_INVOICE, "approvedTime", SK_APPROVED},
	{RK_INVOICE, "orderNo", SK_ORDER_NO},
	{RK_BILL, "entryDate", SK_ENTRY_DATE}, {RK_BILL, "dueDate", SK_DUE_DATE},
	{RK_BILL, "createdTime", SK_CREATED}, {RK_BILL, "lineDescription", SK_LINE_DESC},
	{RK_BILL, "amount", SK_AMOUNT}, {RK_BILL, "grossAmount", SK_GROSS},
	{RK_BILL, "balance", SK_BALANCE}, {RK_BILL, "contact.name", SK_CONTACT_NAME},
	{RK_BILL, "voucherNo", SK_VOUCHER_NO}, {RK_BILL, "suppliersInvoiceNo", SK_SUPPLIERS_NO},
	{RK_BILL, "attachments", SK_NONE},
	{RK_CONTACT, "name", SK_NAME}, {RK_CONTACT, "createdTime", SK_CREATED},
	{RK_CONTACT, "contactNo", SK_CONTACT_NO},
	{RK_PRODUCT, "name", SK_NAME}, {RK_PRODUCT, "productNo", SK_PRODUCT_NO},
	{RK_ACCOUNT, "accountNo", SK_ACCOUNT_NO}, {RK_ACCOUNT, "name", SK_NAME},
	{RK_BANK_PAYMENT, "entryDate", SK_ENTRY_DATE}, {RK_BANK_PAYMENT, "createdTime", SK_CREATED},
};

/* natcmp compares strings with digit runs compared as numbers ("9" < "10") */
static int
natcmp(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a != NULL) - (b != NULL);
	while (*a && *b)
	{
		if (isdigit((unsigned char) *a) && isdigit((unsigned char) *b))
		{
			const char *sa = a,
					   *sb2 = b;
			size_t		la,
						lb;

			while (*sa == '0')
				sa++;
			while (*sb2 == '0')
				sb2++;
			a = sa;
			b = sb2;
			while (isdigit((unsigned char) *a))
				a++;
			while (isdigit((unsigned char) *b))
				b++;
			la = (size_t) (a - sa);
			lb = (size_t) (b - sb2);
			if (la != lb)
				return la < lb ? -1 : 1;
			{
				int			c = memcmp(sa, sb2, la);

				if (c)
					return c;
			}
			continue;
		}
		if (*a != *b)
			return (unsigned char) *a < (unsigned char) *b ? -1 : 1;
		a++;
		b++;
	}
	return (*a != 0) - (*b != 0);
}

/* strcmp_null orders NULL before any string */
static int
strcmp_null(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a != NULL) - (b != NULL);
	return strcmp(a, b);
}

typedef struct SortCtx
{
	Org		   *o;
	RK			rk;
	SortKey		key;
	char	  **strkeys;		/* precomputed lineDescription */
} SortCtx;

/* cmp64 compares two integers for qsort */
static inline int
cmp64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

/* cmp_key compares two records on the sort key alone */
static int
cmp_key(const SortCtx *c, int32_t x, int32_t y)
{
	Org		   *o = c->o;

	if (c->strkeys)
		return strcmp(c->strkeys[x], c->strkeys[y]);
	switch (c->rk)
	{
		case RK_INVOICE:
			{
				Invoice    *a = INVOICE(o, x),
						   *b = INVOICE(o, y);

				switch (c->key)
				{
					case SK_ENTRY_DATE:
						return cmp64(a->entry_date, b->entry_date);
					case SK_DUE_DATE:
						return cmp64(a->due_date, b->due_date);
					case SK_CREATED:
						return cmp64(a->created, b->created);
					case SK_APPROVED:
						return cmp64(a->approved, b->approved);
					case SK_INVOICE_NO:
						return natcmp(a->invoice_no, b->invoice_no);
					case SK_ORDER_NO:
						return natcmp(a->order_no, b->order_no);
					case SK_AMOUNT:
						return cmp64(a->amount, b->amount);
					case SK_GROSS:
						return cmp64(a->gross, b->gross);
					case SK_BALANCE:
						return cmp64(a->balance, b->balance);
					case SK_CONTACT_NAME:
						return strcmp_null(CONTACT(o, a->contact)->name, CONTACT(o, b->contact)->name);
					default:
						return 0;
				}
			}
		case RK_BILL:
			{
				Bill	   *a = BILL(o, x),
						   *b = BILL(o, y);

				switch (c->key)
				{
					case SK_ENTRY_DATE:
						return cmp64(a->entry_date, b->entry_date);
					case SK_DUE_DATE:
						return cmp64(a->due_date, b->due_date);
					case SK_CREATED:
						return cmp64(a->created, b->created);
					case SK_AMOUNT:
						return cmp64(a->amount, b->amount);
					case SK_GROSS:
						return cmp64(a->gross, b->gross);
					case SK_BALANCE:
						return cmp64(a->balance, b->balance);
					case SK_CONTACT_NAME:
						return strcmp_null(CONTACT(o, a->contact)->name, CONTACT(o, b->contact)->name);
					case SK_VOUCHER_NO:
						return natcmp(a->voucher_no, b->voucher_no);
					case SK_SUPPLIERS_NO:
						return natcmp(a->suppliers_invoice_no, b->suppliers_invoice_no);
					default:
						return 0;
				}
			}
		case RK_CONTACT:
			{
				Contact    *a = CONTACT(o, x),
						   *b = CONTACT(o, y);

				if (c->key == SK_NAME)
					return strcmp_null(a->name, b->name);
				if (c->key == SK_CREATED)
					return cmp64(a->created, b->created);
				if (c->key == SK_CONTACT_NO)
					return natcmp(a->contact_no, b->contact_no);
				return 0;
			}
		case RK_PRODUCT:
			if (c->key == SK_NAME)
				return strcmp_null(PRODUCT(o, x)->name, PRODUCT(o, y)->name);
			if (c->key == SK_PRODUCT_NO)
				return natcmp(PRODUCT(o, x)->product_no, PRODUCT(o, y)->product_no);
			return 0;
		case RK_ACCOUNT:
			if (c->key == SK_ACCOUNT_NO)
				return cmp64(ACCOUNT(o, x)->account_no, ACCOUNT(o, y)->account_no);
			if (c->key == SK_NAME)
				return strcmp_null(ACCOUNT(o, x)->name, ACCOUNT(o, y)->name);
			return 0;
		case RK_BANK_PAYMENT:
			if (c->key == SK_ENTRY_DATE)
				return cmp64(PAYMENT(o, x)->entry_date, PAYMENT(o, y)->entry_date);
			if (c->key == SK_CREATED)
				return cmp64(PAYMENT(o, x)->created, PAYMENT(o, y)->created);
			return 0;
		default:
			return 0;
	}
}

/* ties are broken by id, so any sort is a total order */
static int
cmp_records(const void *pa, const void *pb, void *arg)
{
	const SortCtx *c = arg;
	int32_t		x = *(const int32_t *) pa,
				y = *(const int32_t *) pb;
	int			r = cmp_key(c, x, y);

	if (r)
		return r;
	return strcmp(rec_head(&c->o->tab[c->rk], x)->id, rec_head(&c->o->tab[c->rk], y)->id);
}

/* order_version: what a cached order depends on */
static uint64_t
order_version(Org *o, RK rk, SortKey key)
{
	uint64_t	v = o->tab[rk].version;

	if (key == SK_CONTACT_NAME)
		v = v * 1000003u + o->tab[RK_CONTACT].version;
	if (key == SK_LINE_DESC)
		v = v * 1000003u + o->tab[rk == RK_INVOICE ? RK_INVOICE_LINE : RK_BILL_LINE].version;
	return v;
}

/* order_release drops a reference to a cached order */
static void
order_release(Org *o, Order *ord)
{
	if (ord == NULL)
		return;
	pthread_mutex_lock(&o->cache_lock);
	if (--ord->refs == 0)
	{
		free(ord->idx);
		free(ord);
	}
	pthread_mutex_unlock(&o->cache_lock);
}

/* line_desc_key: an invoice's or bill's lineDescription, for sorting, in an arena */
static char *
line_desc_key(Arena *a, Org *o, RK rk, int32_t i)
{
	char		tmp[1024];
	size_t		n = 0;
	int32_t		start = rk == RK_INVOICE ? INVOICE(o, i)->line_start : BILL(o, i)->line_start;
	int32_t		count = rk == RK_INVOICE ? INVOICE(o, i)->line_count : BILL(o, i)->line_count;

	for (int32_t k = start; k < start + count && n < sizeof(tmp) - 1; k++)
	{
		const char *d = rk == RK_INVOICE ? ILINE(o, k)->description : BLINE(o, k)->description;

		if (d && d[0])
			n += (size_t) snprintf(tmp + n, sizeof(tmp) - n, "%s%s", n ? ", " : "", d);
	}
	n = Min(n, sizeof(tmp) - 1);
	return (char *) arena_strndup(a, tmp, n);
}

/*
 * get_order returns the live records of a kind in the requested order, or
 * NULL when that is plain creation order without dead records (callers
 * then walk indexes directly).  Orders are cached per table version; the
 * caller releases what it gets.  Called with the org lock held shared.
 */
static Order *
get_order(Org *o, RK rk, SortKey key, bool desc)
{
	Table	   *t = &o->tab[rk];
	uint64_t	ver;
	Order	   *ord = NULL;
	int			slot = -1;
	uint64_t	oldest = UINT64_MAX;

	if (key == SK_NONE && !desc && t->dead == 0)
		return NULL;
	ver = order_version(o, rk, key);
	pthread_mutex_lock(&o->cache_lock);
	for (int i = 0; i < ORDER_CACHE; i++)
	{
		Order	   *c = o->cache[i];

		if (c && c->rk == (int) rk && c->key == (int) key && c->desc == desc && c->version == (uint32_t) ver)
		{
			c->refs++;
			c->last_used = ++o->cache_tick;
			pthread_mutex_unlock(&o->cache_lock);
			return c;
		}
	}
	/* build it (holding the cache lock keeps builders from duplicating work) */
	ord = xcalloc(1, sizeof(Order));
	ord->rk = rk;
	ord->key = key;
	ord->desc = desc;
	ord->version = (uint32_t) ver;
	ord->idx = xmalloc(sizeof(int32_t) * (size_t) Max(t->n, 1));
	for (int32_t i = 0; i < t->n; i++)
		if (!rec_head(t, i)->dead)
			ord->idx[ord->n++] = i;
	if (key != SK_NONE)
	{
		SortCtx		c = {o, rk, key, NULL};

		Arena		keys = {0};

		if (key == SK_LINE_DESC)
		{
			c.strkeys = xcalloc((size_t) Max(t->n, 1), sizeof(char *));
			for (int32_t k = 0; k < ord->n; k++)
				c.strkeys[ord->idx[k]] = line_desc_key(&keys, o, rk, ord->idx[k]);
		}
		qsort_r(ord->idx, (size_t) ord->n, sizeof(int32_t), cmp_records, &c);
		free(c.strkeys);
		arena_free(&keys);
	}
	if (desc)
		for (int32_t a = 0, b = ord->n - 1; a < b; a++, b--)
		{
			int32_t		tmp = ord->idx[a];

			ord->idx[a] = ord->idx[b];
			ord->idx[b] = tmp;
		}
	for (int i = 0; i < ORDER_CACHE; i++)
	{
		if (o->cache[i] == NULL)
		{
			slot = i;
			break;
		}
		if (o->cache[i]->version != order_version(o, o->cache[i]->rk, o->cache[i]->key))
		{
			slot = i;
			break;
		}
		if (o->cache[i]->last_used < oldest)
		{
			oldest = o->cache[i]->last_used;
			slot = i;
		}
	}
	if (o->cache[slot] && --o->cache[slot]->refs == 0)
	{
		free(o->cache[slot]->idx);
		free(o->cache[slot]);
	}
	o->cache[slot] = ord;
	ord->refs = 2;				/* the cache's and the caller's */
	ord->last_used = ++o->cache_tick;
	pthread_mutex_unlock(&o->cache_lock);
	return ord;
}

/* ---------------------------------------------------------------- filters */

#define UNSET -2

typedef struct Filter
{
	bool		none;			/* a filter names something that does not
								 * exist */
	int32_t		contact;
	int32_t		parent;			/* invoiceId, billId, contactId, productId,
								 * rulesetId */
	Rel			parent_rel;
	int32_t		credited;
	int			state;
	int			is_paid;
	int			currency;
	int			is_customer;
	int			is_supplier;
	int			is_archived;
	int			is_bank;
	int			is_payment;
	Date		min_entry;
	Date		max_entry;
	Date		min_due;
	Date		max_due;
	const char *invoice_no;
	const char *external_id;
	const char *suppliers_no;
	const char *contact_no;
	const char *registration_no;
	const char *product_no;
	int			subj_kind;
	int32_t		subj_idx;
	int			mod_kind;
	int32_t		mod_idx;
	int32_t		account;		/* accountId (books) */
	int32_t		daybook;
	int32_t		file;
	int			is_matched;
	int			is_approved;
	bool		has_q;
	char		q[256];
	bool		q_is_amount;
	int64_t		q_amount;
	bool		active;			/* any filter at all */
} Filter;

/* parse_bool_arg reads true/false (or 1/0) */
static bool
parse_bool_arg(const char *v, int *out)
{
	if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		*out = 1;
	else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		*out = 0;
	else
		return false;
	return true;
}

/*
 * parse_period turns an entryDatePeriod value into a date range:
 * all | dates:A...B | day:D | month:YYYY-MM | quarter:YYYY-Q |
 * halfYear:YYYY-H | year:YYYY | fiscalYear:YYYY (the fiscal year that ends
 * in YYYY).
 */
static bool
parse_period(Org *o, const char *v, Date *from, Date *to)
{
	int			y,
				n;
	char		tail;

	if (strcmp(v, "all") == 0)
	{
		*from = *to = DATE_NONE;
		return true;
	}
	if (strncmp(v, "dates:", 6) == 0)
	{
		const char *dots = strstr(v + 6, "...");
		char		a[16];

		if (dots == NULL || dots - (v + 6) >= (long) sizeof(a))
			return false;
		memcpy(a, v + 6, (size_t) (dots - (v + 6)));
		a[dots - (v + 6)] = '\0';
		return date_parse(a, from) && date_parse(dots + 3, to) && *from <= *to;
	}
	if (strncmp(v, "day:", 4) == 0)
	{
		if (!date_parse(v + 4, from))
			return false;
		*to = *from;
		return true;
	}
	if (strncmp(v, "month:", 6) == 0)
	{
		if (sscanf(v + 6, "%4d-%2d%c", &y, &n, &tail) != 2 || strlen(v + 6) != 7 || n < 1 || n > 12)
			return false;
		*from = date_from_ymd(y, n, 1);
		*to = date_add_months(*from, 1) - 1;
		return true;
	}
	if (strncmp(v, "quarter:", 8) == 0)
	{
		if (sscanf(v + 8, "%4d-%1d%c", &y, &n, &tail) != 2 || strlen(v + 8) != 6 || n < 1 || n > 4)
			return false;
		*from = date_from_ymd(y, (n - 1) * 3 + 1, 1);
		*to = date_add_months(*from, 3) - 1;
		return true;
	}
	if (strncmp(v, "halfYear:", 9) == 0)
	{
		if (sscanf(v + 9, "%4d-%1d%c", &y, &n, &tail) != 2 || strlen(v + 9) != 6 || n < 1 || n > 2)
			return false;
		*from = date_from_ymd(y, (n - 1) * 6 + 1, 1);
		*to = date_add_months(*from, 6) - 1;
		return true;
	}
	if (strncmp(v, "year:", 5) == 0)
	{
		if (sscanf(v + 5, "%4d%c", &y, &tail) != 1 || strlen(v + 5) != 4)
			return false;
		*from = date_from_ymd(y, 1, 1);
		*to = date_from_ymd(y, 12, 31);
		return true;
	}
	if (strncmp(v, "fiscalYear:", 11) == 0)
	{
		int			em = o->fiscal_end_month;

		if (sscanf(v + 11, "%4d%c", &y, &tail) != 1 || strlen(v + 11) != 4)
			return false;
		*to = date_add_months(date_from_ymd(y, em, 1), 1) - 1;
		*from = date_add_months(*to + 1, -12);
		return true;
	}
	return false;
}

/* parse_amount reads "46.11" / "46,11" / "-3" as øre */
static bool
parse_amount(const char *s, int64_t *out)
{
	int64_t		ip = 0,
				fp = 0;
	int			fd = 0;
	bool		neg = false,
				any = false;

	if (*s == '-')
	{
		neg = true;
		s++;
	}
	for (; isdigit((unsigned char) *s); s++, any = true)
	{
		ip = ip * 10 + (*s - '0');
		if (ip > 1000000000000LL)
			return false;
	}
	if (*s == '.' || *s == ',')
		for (s++; isdigit((unsigned char) *s); s++)
		{
			if (fd >= 2)
				return false;
			fp = fp * 10 + (*s - '0');
			fd++;
			any = true;
		}
	if (*s || !any)
		return false;
	if (fd == 1)
		fp *= 10;
	*out = (ip * 100 + fp) * (neg ? -1 : 1);
	return true;
}

/* parse_ref reads "invoice:ID" / "bill:ID" / "bankPayment:ID" */
static void
parse_ref(Org *o, const char *v, int *kind, int32_t *idx)
{
	const char *colon = strchr(v, ':');
	RK			k;

	*idx = -1;
	if (colon == NULL)
	{
		*kind = RK_INVOICE;
		return;
	}
	if (strncmp(v, "invoice:", 8) == 0)
		k = RK_INVOICE;
	else if (strncmp(v, "bill:", 5) == 0)
		k = RK_BILL;
	else if (strncmp(v, "bankPayment:", 12) == 0)
		k = RK_BANK_PAYMENT;
	else if (strncmp(v, "daybookTransaction:", 19) == 0)
		k = RK_DAYBOOK_TXN;
	else
	{
		*kind = RK_INVOICE;
		return;
	}
	*kind = k;
	*idx = id_find_any(o, k, colon + 1);
}

/* find_ref looks up an id for a filter; an unknown id makes the list empty */
static int32_t
find_ref(Org *o, RK rk, const char *id, Filter *f)
{
	int32_t		i = id_find_any(o, rk, id);

	if (i < 0)
		f->none = true;
	f->active = true;
	return i;
}

/*
 * filter_parse reads the documented filters of a resource from the query;
 * filters of other resources and unknown parameters are ignored.  Returns
 * false (with a 422 in rs) for a malformed value.
 */
static bool
filter_parse(Org *o, RK rk, const Request *rq, Filter *f, Response *rs)
{
	const char *v;
	const char *key = res_defs[rk].singular;

	memset(f, 0, sizeof(*f));
	f->contact = f->parent = f->credited = UNSET;
	f->state = f->is_paid = f->currency = f->is_customer = f->is_supplier = UNSET;
	f->is_archived = f->is_bank = f->is_payment = UNSET;
	f->min_entry = f->max_entry = f->min_due = f->max_due = DATE_NONE;
	f->subj_kind = f->mod_kind = UNSET;
	f->account = f->daybook = f->file = UNSET;
	f->is_matched = f->is_approved = UNSET;

#define BOOL_FILTER(name, field) \
	if ((v = req_arg(rq, name)) != NULL) \
	{ \
		if (!parse_bool_arg(v, &f->field)) \
		{ \
			resp_unprocessable(rs, key, name, "Must be true or false."); \
			return false; \
		} \
		f->active = true; \
	}
#define STATE_FILTER() \
	if ((v = req_arg(rq, "state")) != NULL) \
	{ \
		f->state = strcmp(v, "draft") == 0 ? ST_DRAFT : strcmp(v, "approved") == 0 ? ST_APPROVED \
			: strcmp(v, "voided") == 0 ? ST_VOIDED : -1; \
		if (f->state < 0) \
		{ \
			resp_unprocessable(rs, key, "state", "Must be draft, approved or voided."); \
			return false; \
		} \
		f->active = true; \
	}
#define DATE_FILTER(name, field) \
	if ((v = req_arg(rq, name)) != NULL) \
	{ \
		if (!date_parse(v, &f->field)) \
		{ \
			resp_unprocessable(rs, key, name, "Must be a date (YYYY-MM-DD)."); \
			return false; \
		} \
		f->active = true; \
	}
#define STR_FILTER(name, field) \
	if ((v = req_arg(rq, name)) != NULL) \
	{ \
		f->field = v; \
		f->active = true; \
	}

	switch (rk)
	{
		case RK_INVOICE:
		case RK_BILL:
			if ((v = req_arg(rq, "contactId")) != NULL)
				f->contact = find_ref(o, RK_CONTACT, v, f);
			STATE_FILTER();
			BOOL_FILTER("isPaid", is_paid);
			DATE_FILTER("minEntryDate", min_entry);
			DATE_FILTER("maxEntryDate", max_entry);
			DATE_FILTER("minDueDate", min_due);
			DATE_FILTER("maxDueDate", max_due);
			if ((v = req_arg(rq, "entryDatePeriod")) != NULL)
			{
				Date		a,
							b;

				if (!parse_period(o, v, &a, &b))
				{
					resp_unprocessable(rs, key, "entryDatePeriod", "Invalid period.");
					return false;
				}
				if (a != DATE_NONE)
				{
					f->min_entry = f->min_entry == DATE_NONE ? a : Max(a, f->min_entry);
					f->max_entry = f->max_entry == DATE_NONE ? b : Min(b, f->max_entry);
					f->active = true;
				}
			}
			if ((v = req_arg(rq, "currencyId")) != NULL)
			{
				f->currency = cur_by_code(v);
				if (f->currency < 0)
					f->none = true;
				f->active = true;
			}
			if ((v = req_arg(rq, "q")) != NULL && v[0])
			{
				fold_lower(f->q, sizeof(f->q), v);
				f->has_q = true;
				f->q_is_amount = parse_amount(v, &f->q_amount);
				f->active = true;
			}
			if (rk == RK_INVOICE)
			{
				STR_FILTER("invoiceNo", invoice_no);
				STR_FILTER("externalId", external_id);
				if ((v = req_arg(rq, "creditedInvoiceId")) != NULL)
					f->credited = find_ref(o, RK_INVOICE, v, f);
			}
			else
			{
				STR_FILTER("suppliersInvoiceNo", suppliers_no);
				if ((v = req_arg(rq, "creditedBillId")) != NULL)
					f->credited = find_ref(o, RK_BILL, v, f);
			}
			break;
		case RK_CONTACT:
			BOOL_FILTER("isCustomer", is_customer);
			BOOL_FILTER("isSupplier", is_supplier);
			BOOL_FILTER("isArchived", is_archived);
			STR_FILTER("contactNo", contact_no);
			STR_FILTER("registrationNo", registration_no);
			if ((v = req_arg(rq, "q")) != NULL && v[0])
			{
				fold_lower(f->q, sizeof(f->q), v);
				f->has_q = f->active = true;
			}
			break;
		case RK_PRODUCT:
			STR_FILTER("productNo", product_no);
			BOOL_FILTER("isArchived", is_archived);
			if ((v = req_arg(rq, "q")) != NULL && v[0])
			{
				fold_lower(f->q, sizeof(f->q), v);
				f->has_q = f->active = true;
			}
			break;
		case RK_ACCOUNT:
			BOOL_FILTER("isBankAccount", is_bank);
			BOOL_FILTER("isPaymentEnabled", is_payment);
			BOOL_FILTER("isArchived", is_archived);
			if ((v = req_arg(rq, "q")) != NULL && v[0])
			{
				fold_lower(f->q, sizeof(f->q), v);
				f->has_q = f->active = true;
			}
			break;
		case RK_INVOICE_LINE:
			if ((v = req_arg(rq, "invoiceId")) != NULL)
			{
				f->parent = find_ref(o, RK_INVOICE, v, f);
				f->parent_rel = REL_INVOICE_LINES;
			}
			break;
		case RK_BILL_LINE:
			if ((v = req_arg(rq, "billId")) != NULL)
			{
				f->parent = find_ref(o, RK_BILL, v, f);
				f->parent_rel = REL_BILL_LINES;
			}
			break;
		case RK_CONTACT_PERSON:
			if ((v = req_arg(rq, "contactId")) != NULL)
			{
				f->parent = find_ref(o, RK_CONTACT, v, f);
				f->parent_rel = REL_CONTACT_PERSONS;
			}
			break;
		case RK_PRODUCT_PRICE:
			if ((v = req_arg(rq, "productId")) != NULL)
			{
				f->parent = find_ref(o, RK_PRODUCT, v, f);
				f->parent_rel = REL_PRODUCT_PRICES;
			}
			break;
		case RK_RULE:
			if ((v = req_arg(rq, "rulesetId")) != NULL)
			{
				f->parent = find_ref(o, RK_RULESET, v, f);
				f->parent_rel = REL_RULESET_RULES;
			}
			break;
		case RK_BALANCE_MODIFIER:
			if ((v = req_arg(rq, "subjectReference")) != NULL)
			{
				parse_ref(o, v, &f->subj_kind, &f->subj_idx);
				if (f->subj_idx < 0)
					f->none = true;
				f->active = true;
			}
			if ((v = req_arg(rq, "modifierReference")) != NULL)
			{
				parse_ref(o, v, &f->mod_kind, &f->mod_idx);
				if (f->mod_idx < 0)
					f->none = true;
				f->active = true;
			}
			break;
		case RK_POSTING:
			if ((v = req_arg(rq, "transactionId")) != NULL)
			{
				f->parent = find_ref(o, RK_TRANSACTION, v, f);
				f->parent_rel = REL_TXN_POSTINGS;
			}
			if ((v = req_arg(rq, "accountId")) != NULL)
				f->account = find_ref(o, RK_ACCOUNT, v, f);
			BOOL_FILTER("isBankMatched", is_matched);
			DATE_FILTER("minEntryDate", min_entry);
			DATE_FILTER("maxEntryDate", max_entry);
			break;
		case RK_TRANSACTION:
			if ((v = req_arg(rq, "originatorReference")) != NULL)
			{
				parse_ref(o, v, &f->subj_kind, &f->subj_idx);
				if (f->subj_idx < 0)
					f->none = true;
				f->active = true;
			}
			DATE_FILTER("minEntryDate", min_entry);
			DATE_FILTER("maxEntryDate", max_entry);
			break;
		case RK_DAYBOOK_TXN:
			if ((v = req_arg(rq, "daybookId")) != NULL)
				f->daybook = find_ref(o, RK_DAYBOOK, v, f);
			STATE_FILTER();
			DATE_FILTER("minEntryDate", min_entry);
			DATE_FILTER("maxEntryDate", max_entry);
			break;
		case RK_DAYBOOK_LINE:
			if ((v = req_arg(rq, "daybookTransactionId")) != NULL)
			{
				f->parent = find_ref(o, RK_DAYBOOK_TXN, v, f);
				f->parent_rel = REL_DBT_LINES;
			}
			break;
		case RK_BANK_LINE:
			if ((v = req_arg(rq, "matchId")) != NULL)
			{
				f->parent = find_ref(o, RK_BANK_MATCH, v, f);
				f->parent_rel = REL_MATCH_LINES;
			}
			else if ((v = req_arg(rq, "accountId")) == NULL)
			{
				/* Billy requires it (spec §4) */
				resp_unprocessable(rs, key, "accountId", "accountId is required: bank lines are listed per bank account.");
				return false;
			}
			if ((v = req_arg(rq, "accountId")) != NULL)
				f->account = find_ref(o, RK_ACCOUNT, v, f);
			BOOL_FILTER("isReconciled", is_matched);
			DATE_FILTER("minEntryDate", min_entry);
			DATE_FILTER("maxEntryDate", max_entry);
			break;
		case RK_BANK_MATCH:
			if ((v = req_arg(rq, "accountId")) != NULL)
				f->account = find_ref(o, RK_ACCOUNT, v, f);
			BOOL_FILTER("isApproved", is_approved);
			break;
		case RK_BANK_SUBJECT:
			if ((v = req_arg(rq, "matchId")) != NULL)
			{
				f->parent = find_ref(o, RK_BANK_MATCH, v, f);
				f->parent_rel = REL_MATCH_SUBJECTS;
			}
			break;
		case RK_ATTACHMENT:
			if ((v = req_arg(rq, "ownerReference")) != NULL)
			{
				parse_ref(o, v, &f->subj_kind, &f->subj_idx);
				if (f->subj_idx < 0)
					f->none = true;
				f->active = true;
			}
			if ((v = req_arg(rq, "fileId")) != NULL)
				f->file = find_ref(o, RK_FILE, v, f);
			break;
		default:
			break;
	}
	return true;
#undef BOOL_FILTER
#undef DATE_FILTER
#undef STATE_FILTER
#undef STR_FILTER
}

/* q_doc_match: does an invoice or bill match the q search? */
static bool
q_doc_match(Org *o, const Filter *f, RK line_rk, int32_t ls, int32_t lc,
			const char *no, const char *no2, int32_t contact,
			int64_t amount, int64_t gross, int64_t balance)
{
	if (f->q_is_amount && (amount == f->q_amount || gross == f->q_amount || balance == f->q_amount))
		return true;
	if (contains_folded(no, f->q) || contains_folded(no2, f->q))
		return true;
	if (contact >= 0 && contains_folded(CONTACT(o, contact)->name, f->q))
		return true;
	for (int32_t k = ls; k < ls + lc; k++)
		if (contains_folded(line_rk == RK_INVOICE_LINE ? ILINE(o, k)->description : BLINE(o, k)->description, f->q))
			return true;
	return false;
}

#define TRI(field, value) (f->field == UNSET || f->field == (int) (value))

/* filter_match: does record i pass every filter? */
static bool
filter_match(Org *o, RK rk, int32_t i, const Filter *f)
{
	switch (rk)
	{
		case RK_INVOICE:
			{
				Invoice    *v = INVOICE(o, i);

				if ((f->contact != UNSET && v->contact != f->contact) ||
					!TRI(state, v->state) ||
					!TRI(is_paid, v->state == ST_APPROVED && v->balance == 0) ||
					!TRI(currency, v->currency) ||
					(f->credited != UNSET && v->credited != f->credited) ||
					(f->min_entry != DATE_NONE && v->entry_date < f->min_entry) ||
					(f->max_entry != DATE_NONE && v->entry_date > f->max_entry) ||
					(f->min_due != DATE_NONE && v->due_date < f->min_due) ||
					(f->max_due != DATE_NONE && v->due_date > f->max_due) ||
					(f->invoice_no && strcmp_null(v->invoice_no, f->invoice_no) != 0) ||
					(f->external_id && strcmp_null(v->external_id, f->external_id) != 0))
					return false;
				if (f->has_q && !q_doc_match(o, f, RK_INVOICE_LINE, v->line_start, v->line_count,
											 v->invoice_no, v->order_no, v->contact,
											 v->amount, v->gross, v->balance))
					return false;
				return true;
			}
		case RK_BILL:
			{
				Bill	   *v = BILL(o, i);

				if ((f->contact != UNSET && v->contact != f->contact) ||
					!TRI(state, v->state) ||
					!TRI(is_paid, v->state == ST_APPROVED && v->balance == 0) ||
					!TRI(currency, v->currency) ||
					(f->credited != UNSET && v->credited != f->credited) ||
					(f->min_entry != DATE_NONE && v->entry_date < f->min_entry) ||
					(f->max_entry != DATE_NONE && v->entry_date > f->max_entry) ||
					(f->min_due != DATE_NONE && v->due_date < f->min_due) ||
					(f->max_due != DATE_NONE && v->due_date > f->max_due) ||
					(f->suppliers_no && strcmp_null(v->suppliers_invoice_no, f->suppliers_no) != 0))
					return false;
				if (f->has_q && !q_doc_match(o, f, RK_BILL_LINE, v->line_start, v->line_count,
											 v->suppliers_invoice_no, v->voucher_no, v->contact,
											 v->amount, v->gross, v->balance))
					return false;
				return true;
			}
		case RK_CONTACT:
			{
				Contact    *c = CONTACT(o, i);

				if (!TRI(is_customer, c->customer) || !TRI(is_supplier, c->supplier) ||
					!TRI(is_archived, c->archived) ||
					(f->contact_no && strcmp_null(c->contact_no, f->contact_no) != 0) ||
					(f->registration_no && strcmp_null(c->registration_no, f->registration_no) != 0))
					return false;
				if (f->has_q && !contains_folded(c->name, f->q) && !contains_folded(c->contact_no, f->q) &&
					!contains_folded(c->registration_no, f->q) && !contains_folded(c->city, f->q) &&
					!contains_folded(c->street, f->q))
					return false;
				return true;
			}
		case RK_PRODUCT:
			{
				Product    *p = PRODUCT(o, i);

				if (!TRI(is_archived, p->archived) ||
					(f->product_no && strcmp_null(p->product_no, f->product_no) != 0))
					return false;
				if (f->has_q && !contains_folded(p->name, f->q) && !contains_folded(p->product_no, f->q) &&
					!contains_folded(p->description, f->q))
					return false;
				return true;
			}
		case RK_ACCOUNT:
			{
				Account    *a = ACCOUNT(o, i);
				char		no[16];

				snprintf(no, sizeof(no), "%d", a->account_no);
				if (!TRI(is_bank, a->bank) || !TRI(is_payment, a->payment_enabled) || !TRI(is_archived, a->archived))
					return false;
				if (f->has_q && !contains_folded(a->name, f->q) && strstr(no, f->q) == NULL)
					return false;
				return true;
			}
		case RK_POSTING:
			{
				Posting    *p = POSTING(o, i);

				return (f->account == UNSET || p->account == f->account) &&
					TRI(is_matched, p->bank_matched) &&
					(f->min_entry == DATE_NONE || p->entry_date >= f->min_entry) &&
					(f->max_entry == DATE_NONE || p->entry_date <= f->max_entry);
			}
		case RK_TRANSACTION:
			{
				Transaction *t = TXN(o, i);

				return (f->subj_kind == UNSET || (t->orig_kind == f->subj_kind && t->orig_idx == f->subj_idx)) &&
					(f->min_entry == DATE_NONE || t->entry_date >= f->min_entry) &&
					(f->max_entry == DATE_NONE || t->entry_date <= f->max_entry);
			}
		case RK_DAYBOOK_TXN:
			{
				DaybookTxn *d = DBTXN(o, i);

				return (f->daybook == UNSET || d->daybook == f->daybook) && TRI(state, d->state) &&
					(f->min_entry == DATE_NONE || d->entry_date >= f->min_entry) &&
					(f->max_entry == DATE_NONE || d->entry_date <= f->max_entry);
			}
		case RK_BANK_LINE:
			{
				BankLine   *l = BANKLINE(o, i);

				return (f->account == UNSET || l->account == f->account) &&
					TRI(is_matched, l->match >= 0 && BANKMATCH(o, l->match)->approved) &&
					(f->min_entry == DATE_NONE || l->entry_date >= f->min_entry) &&
					(f->max_entry == DATE_NONE || l->entry_date <= f->max_entry);
			}
		case RK_BANK_MATCH:
			return (f->account == UNSET || BANKMATCH(o, i)->account == f->account) &&
				TRI(is_approved, BANKMATCH(o, i)->approved);
		case RK_ATTACHMENT:
			{
				Attachment *a = ATTACH(o, i);

				return (f->subj_kind == UNSET || (a->owner_kind == f->subj_kind && a->owner_idx == f->subj_idx)) &&
					(f->file == UNSET || a->file == f->file);
			}
		case RK_BALANCE_MODIFIER:
			{
				BalanceModifier *m = MODIFIER(o, i);

				if (f->subj_kind != UNSET && (m->subj_kind != f->subj_kind || m->subj_idx != f->subj_idx))
					return false;
				if (f->mod_kind != UNSET && (m->mod_kind != f->mod_kind || m->mod_idx != f->mod_idx))
					return false;
				return true;
			}
		default:
			return true;
	}
}

/*
 * parse_include reads include=resource.property[:embed|:sideload],... and
 * keeps the relations of this resource kind; unqualified or foreign names
 * are ignored.
 */
static void
parse_include(const Request *rq, RK rk, Include *inc)
{
	const char *v = req_arg(rq, "include");
	char		buf[512];
	char	   *save = NULL;

	memset(inc, 0, sizeof(*inc));
	if (v == NULL)
		return;
	snprintf(buf, sizeof(buf), "%s", v);
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
	{
		char	   *colon = strchr(tok, ':');
		bool		embed = false;

		while (*tok == ' ')
			tok++;
		if (colon)
		{
			*colon = '\0';
			embed = strcmp(colon + 1, "embed") == 0;
		}
		for (int r = 0; r < REL__COUNT; r++)
			if (rel_defs[r].parent == rk && strcmp(rel_defs[r].qualified, tok) == 0)
			{
				if (embed)
					inc->embed |= 1u << r;
				else
					inc->side |= 1u << r;
			}
	}
}

/* url_encode writes a query component percent-encoded */
static void
url_encode(Buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ':' || c == ',')
			buf_putc(b, (char) c);
		else
		{
			buf_putc(b, '%');
			buf_putc(b, hex[c >> 4]);
			buf_putc(b, hex[c & 15]);
		}
	}
}

/* page_url writes the URL of another page of the same list, or null */
static void
page_url(Buf *b, const Request *rq, const char *plural, int64_t page, int size)
{
	if (page < 1)
	{
		buf_lit(b, "null");
		return;
	}
	buf_putc(b, '"');
	buf_puts(b, sb.base_url);
	buf_putc(b, '/');
	buf_puts(b, plural);
	buf_putc(b, '?');
	for (int i = 0; i < rq->nargs; i++)
	{
		if (strcmp(rq->args[i].key, "page") == 0 || strcmp(rq->args[i].key, "pageSize") == 0)
			continue;
		url_encode(b, rq->args[i].key);
		buf_putc(b, '=');
		url_encode(b, rq->args[i].value ? rq->args[i].value : "");
		buf_putc(b, '&');
	}
	buf_printf(b, "page=%lld&pageSize=%d\"", (long long) page, size);
}

/* int_arg reads a positive integer parameter, else the default */
static int64_t
int_arg(const Request *rq, const char *key, int64_t dflt)
{
	const char *v = req_arg(rq, key);
	char	   *end;
	long long	n;

	if (v == NULL || !*v)
		return dflt;
	n = strtoll(v, &end, 10);
	if (*end || n < 1)
		return dflt;
	return n;
}

/*
 * api_list answers GET /v2/<plural>.  pageSize defaults to and is clamped
 * at 1000; page is 1-based; a page past the end is empty.  pageCount is at
 * least 1.
 */
static void
api_list(Org *o, RK rk, const Request *rq, Response *rs)
{
	int64_t		page = int_arg(rq, "page", 1);
	int			size = (int) Min(int_arg(rq, "pageSize", MAX_PAGE_SIZE), MAX_PAGE_SIZE);
	const char *sp = req_arg(rq, "sortProperty");
	const char *sd = req_arg(rq, "sortDirection");
	bool		desc = sd && strcasecmp(sd, "DESC") == 0;
	SortKey		key = SK_NONE;
	Filter		f;
	Include		inc;
	Side		side = {0};
	int64_t		total = 0,
				first = (page - 1) * size,
				pages;
	int32_t    *rows = NULL;
	int			nrows = 0;
	Order	   *ord = NULL;
	const ResDef *rd = &res_defs[rk];

	if (sp)
		for (int i = 0; i < lengthof(sort_props); i++)
			if (sort_props[i].rk == rk && strcmp(sort_props[i].name, sp) == 0)
				key = sort_props[i].key;
	if (rk == RK_CURRENCY)
	{
		total = CUR__COUNT;
		rows = xmalloc(sizeof(int32_t) * CUR__COUNT);
		for (int i = 0; i < CUR__COUNT; i++)
		{
			int			c = desc ? CUR__COUNT - 1 - i : i;

			if (i >= first && i < first + size)
				rows[nrows++] = c;
		}
		memset(&inc, 0, sizeof(inc));
	}
	else
	{
		Table	   *t = &o->tab[rk];

		if (!filter_parse(o, rk, rq, &f, rs))
			return;
		parse_include(rq, rk, &inc);
		rows = xmalloc(sizeof(int32_t) * (size_t) Max(size, 1));
		if (f.none)
			total = 0;
		else if (f.parent != UNSET)
		{
			/* children of one parent: walk the parent's list */
			int32_t		buf[256],
					   *kids;
			int			n = rel_children(o, f.parent_rel, f.parent, buf, lengthof(buf), &kids);

			for (int k = 0; k < n; k++)
			{
				int			kk = desc ? n - 1 - k : k;

				if (total >= first && total < first + size)
					rows[nrows++] = kids[kk];
				total++;
			}
			if (kids != buf)
				free(kids);
		}
		else
		{
			ord = get_order(o, rk, key, desc);
			if (!f.active)
			{
				total = ord ? ord->n : t->n - t->dead;
				for (int64_t k = first; k < total && k < first + size; k++)
					rows[nrows++] = ord ? ord->idx[k] : (int32_t) k;
			}
			else
			{
				int32_t		n = ord ? ord->n : t->n;

				for (int32_t k = 0; k < n; k++)
				{
					int32_t		i = ord ? ord->idx[k] : k;

					if (!filter_match(o, rk, i, &f))
						continue;
					if (total >= first && total < first + size)
						rows[nrows++] = i;
					total++;
				}
			}
		}
	}

	pages = Max(1, (total + size - 1) / size);
	resp_json_begin(rs, 200);
	buf_printf(&rs->body, ",\"paging\":{\"page\":%lld,\"pageCount\":%lld,\"pageSize\":%d,\"total\":%lld,\"firstUrl\":",
			   (long long) page, (long long) pages, size, (long long) total);
	page_url(&rs->body, rq, rd->plural, 1, size);
	buf_lit(&rs->body, ",\"previousUrl\":");
	page_url(&rs->body, rq, rd->plural, page > 1 ? Min(page - 1, pages) : 0, size);
	buf_lit(&rs->body, ",\"nextUrl\":");
	page_url(&rs->body, rq, rd->plural, page < pages ? page + 1 : 0, size);
	buf_lit(&rs->body, ",\"lastUrl\":");
	page_url(&rs->body, rq, rd->plural, pages, size);
	buf_lit(&rs->body, "}},\"");
	buf_puts(&rs->body, rd->plural);
	buf_lit(&rs->body, "\":[");
	for (int k = 0; k < nrows; k++)
	{
		if (k)
			buf_putc(&rs->body, ',');
		if (rk == RK_CURRENCY)
			render_currency(&rs->body, rows[k]);
		else
			render_record(&rs->body, o, rk, rows[k], &inc, &side, true);
	}
	buf_putc(&rs->body, ']');
	render_side(&rs->body, o, &side, true);
	buf_putc(&rs->body, '}');
	side_free(&side);
	order_release(o, ord);
	free(rows);
}

/* not_found answers 404 RECORD_NOT_FOUND for an unknown id */
static void
not_found(Response *rs, const ResDef *rd, const char *id)
{
	char		msg[160];

	snprintf(msg, sizeof(msg), "No %s with ID %.40s was found.", rd->singular, id);
	resp_error(rs, 404, "RECORD_NOT_FOUND", msg);
}

/* api_get answers GET /v2/<plural>/<id> */
static void
api_get(Org *o, RK rk, const char *id, const Request *rq, Response *rs)
{
	const ResDef *rd = &res_defs[rk];
	Include		inc;
	Side		side = {0};

	if (rk == RK_CURRENCY)
	{
		int			c = cur_by_code(id);

		if (c < 0)
		{
			not_found(rs, rd, id);
			return;
		}
		resp_json_begin(rs, 200);
		buf_lit(&rs->body, "},\"currency\":");
		render_currency(&rs->body, c);
		buf_putc(&rs->body, '}');
		return;
	}
	{
		int32_t		i = id_find(o, rk, id);

		if (i < 0)
		{
			not_found(rs, rd, id);
			return;
		}
		parse_include(rq, rk, &inc);
		resp_json_begin(rs, 200);
		buf_lit(&rs->body, "},\"");
		buf_puts(&rs->body, rd->singular);
		buf_lit(&rs->body, "\":");
		render_record(&rs->body, o, rk, i, &inc, &side, true);
		render_side(&rs->body, o, &side, true);
		buf_putc(&rs->body, '}');
		side_free(&side);
	}
}

/* api_organization answers GET /v2/organization(s) */
static void
api_organization(Org *o, Response *rs, bool list)
{
	resp_json_begin(rs, 200);
	if (list)
	{
		buf_lit(&rs->body, ",\"paging\":{\"page\":1,\"pageCount\":1,\"pageSize\":1000,\"total\":1,\"firstUrl\":null,"
				"\"previousUrl\":null,\"nextUrl\":null,\"lastUrl\":null}},\"organizations\":[");
		render_organization(&rs->body, o);
		buf_lit(&rs->body, "]}");
	}
	else
	{
		buf_lit(&rs->body, "},\"organization\":");
		render_organization(&rs->body, o);
		buf_putc(&rs->body, '}');
	}
}

/* the writes each resource accepts */
static bool
can_create(int rk)
{
	return rk == RK_INVOICE || rk == RK_CONTACT || rk == RK_PRODUCT || rk == RK_BILL || rk == RK_BANK_PAYMENT ||
		rk == RK_DAYBOOK_TXN || rk == RK_BANK_LINE || rk == RK_BANK_MATCH || rk == RK_FILE || rk == RK_ATTACHMENT;
}

/* can_update: which records take PUT */
static bool
can_update(int rk)
{
	return rk == RK_INVOICE || rk == RK_CONTACT || rk == RK_PRODUCT || rk == RK_BILL || rk == RK_BANK_PAYMENT ||
		rk == RK_DAYBOOK_TXN;
}

/* can_delete: which records take DELETE (drafts, unmatched lines, matches, attachments, unused contacts and products) */
static bool
can_delete(int rk)
{
	return rk == RK_INVOICE || rk == RK_BILL || rk == RK_DAYBOOK_TXN || rk == RK_BANK_LINE ||
		rk == RK_BANK_MATCH || rk == RK_ATTACHMENT || rk == RK_CONTACT || rk == RK_PRODUCT;
}

/* can_delete_many: collection DELETE with ids[] */
static bool
can_delete_many(int rk)
{
	return rk == RK_INVOICE || rk == RK_BILL;
}

/* api_org_for_token copies the id of the token's organization into out (for fault selectors) */
const char *
api_org_for_token(const char *token, char out[ID_LEN + 1])
{
	Org		   *o;

	out[0] = '\0';
	pthread_rwlock_rdlock(&sb.lock);
	o = org_by_token(token);
	if (o)
		memcpy(out, o->id, ID_LEN + 1);
	pthread_rwlock_unlock(&sb.lock);
	return out[0] ? out : NULL;
}

typedef enum Target
{
	T_LIST,
	T_ONE,
	T_EMAILS,
	T_DOWNLOAD,					/* /v2/files/:id/download */
	T_ORG_SELF,					/* /v2/organization */
	T_ORGS,						/* /v2/organizations */
	T_ORG_ONE					/* /v2/organizations/:id */
} Target;

typedef struct Route
{
	Target		target;
	int			rk;				/* -1 for /v2/organization */
	const ResDef *rd;
	const char *tmpl;			/* route template for stats */
	bool		allowed;		/* is the method open on this route? */
	char		id[64];
} Route;

/*
 * parse_route maps a path to its route and says whether the method is
 * open there.  Returns false for an unknown route.
 */
static bool
parse_route(const char *method, const char *path, Route *rt)
{
	const char *p = path;
	const char *seg[4] = {0};
	size_t		len[4] = {0};
	int			nseg = 0;
	const char *m = method;
	bool		is_get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;

	memset(rt, 0, sizeof(*rt));
	rt->rk = -1;
	rt->tmpl = "(unknown)";
	if (strncmp(p, "/v2/", 4) != 0)
		return false;
	p += 4;
	while (*p && nseg < 4)
	{
		const char *s = strchr(p, '/');
		size_t		l = s ? (size_t) (s - p) : strlen(p);

		if (l == 0)
			break;
		seg[nseg] = p;
		len[nseg++] = l;
		p += l;
		if (*p == '/')
			p++;
	}
	if (nseg == 0 || *p || nseg > 3)
		return false;
	if (nseg >= 2)
		snprintf(rt->id, sizeof(rt->id), "%.*s", (int) Min(len[1], sizeof(rt->id) - 1), seg[1]);

	if (len[0] == 12 && memcmp(seg[0], "organization", 12) == 0 && nseg == 1)
	{
		rt->target = T_ORG_SELF;
		rt->tmpl = "/v2/organization";
		rt->allowed = is_get;
		return true;
	}
	rt->rd = res_by_plural(seg[0], len[0]);
	if (rt->rd == NULL ||
		(nseg == 3 && !(rt->rd->rk == RK_INVOICE && len[2] == 6 && memcmp(seg[2], "emails", 6) == 0) &&
		 !(rt->rd->rk == RK_FILE && len[2] == 8 && memcmp(seg[2], "download", 8) == 0)))
		return false;
	rt->rk = rt->rd->rk;
	if (rt->rk == RK_ORGANIZATION)
	{
		rt->target = nseg == 1 ? T_ORGS : T_ORG_ONE;
		rt->tmpl = nseg == 1 ? list_routes[rt->rk] : one_routes[rt->rk];
		rt->allowed = is_get || (nseg == 2 && strcmp(m, "PUT") == 0);
	}
	else if (nseg == 3 && rt->rk == RK_FILE)
	{
		rt->target = T_DOWNLOAD;
		rt->tmpl = "/v2/files/:id/download";
		rt->allowed = is_get;
	}
	else if (nseg == 3)
	{
		rt->target = T_EMAILS;
		rt->tmpl = "/v2/invoices/:id/emails";
		rt->allowed = strcmp(m, "POST") == 0;
	}
	else if (nseg == 2)
	{
		rt->target = T_ONE;
		rt->tmpl = one_routes[rt->rk];
		rt->allowed = is_get || (strcmp(m, "PUT") == 0 && can_update(rt->rk)) ||
			(strcmp(m, "DELETE") == 0 && can_delete(rt->rk));
	}
	else
	{
		rt->target = T_LIST;
		rt->tmpl = list_routes[rt->rk];
		rt->allowed = is_get || (strcmp(m, "POST") == 0 && can_create(rt->rk)) ||
			(strcmp(m, "DELETE") == 0 && can_delete_many(rt->rk));
	}
	return true;
}

/* api_route_template gives the stats route of a request without handling it */
const char *
api_route_template(const char *method, const char *path)
{
	Route		rt;

	parse_route(method, path, &rt);
	return rt.tmpl;
}

/*
 * api_handle answers one /v2 request.  Checks run in the order the live
 * API showed (spec §2): unknown route (404), closed method (405), body
 * not a JSON object (400, before auth), credentials (401), then the
 * organizationId parameter (422 if it is not the token's organization).
 */
void
api_handle(const Request *rq, Response *rs)
{
	Route		rt;
	const char *m = rq->method;
	bool		is_get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
	json_t	   *body = NULL;
	Org		   *o;
	int			rk;
	Target		target;
	const ResDef *rd;
	const char *id;

	if (!parse_route(m, rq->path, &rt))
	{
		rs->route = rt.tmpl;
		resp_error(rs, 404, "UNKNOWN_RESOURCE", "Unknown resource.");
		return;
	}
	rs->route = rt.tmpl;
	rk = rt.rk;
	target = rt.target;
	rd = rt.rd;
	id = rt.id;
	if (!rt.allowed)
	{
		resp_error(rs, 405, "METHOD_NOT_ALLOWED", "The method is not allowed for this resource.");
		return;
	}
	if ((strcmp(m, "POST") == 0 && rk != RK_FILE) || strcmp(m, "PUT") == 0)
	{
		body = parse_body_object(rq, rs);
		if (body == NULL)
			return;
	}
	if (rq->token == NULL || rq->token[0] == '\0')
	{
		resp_error(rs, 401, "AUTHENTICATION_REQUIRED",
				   "You must use Basic auth or an OAuth access token to make requests to the API.");
		json_decref(body);
		return;
	}

	pthread_rwlock_rdlock(&sb.lock);
	o = rq->revoked ? NULL : org_by_token(rq->token);
	if (o == NULL)
	{
		pthread_rwlock_unlock(&sb.lock);
		resp_error(rs, 401, "OAUTH_INVALID_ACCESS_TOKEN", "Invalid OAuth 2 access token.");
		json_decref(body);
		return;
	}
	{
		const char *oid = req_arg(rq, "organizationId");

		if (oid && strcmp(oid, o->id) != 0)
		{
			pthread_rwlock_unlock(&sb.lock);
			resp_unprocessable(rs, "organization", "organizationId",
							   "organizationId does not match the access token's organization.");
			json_decref(body);
			return;
		}
	}

	if (is_get)
	{
		pthread_rwlock_rdlock(&o->lock);
		switch (target)
		{
			case T_ORG_SELF:
				api_organization(o, rs, false);
				break;
			case T_ORGS:
				api_organization(o, rs, true);
				break;
			case T_ORG_ONE:
				if (strcmp(id, o->id) != 0)
					not_found(rs, rd, id);
				else
					api_organization(o, rs, false);
				break;
			case T_LIST:
				api_list(o, (RK) rk, rq, rs);
				break;
			case T_DOWNLOAD:
				books_file_download(o, id, rs);
				break;
			default:
				api_get(o, (RK) rk, id, rq, rs);
				break;
		}
		pthread_rwlock_unlock(&o->lock);
	}
	else
	{
		WriteCtx	w = {.o = o,.rq = rq,.rs = rs,.body = body,.rk = (RK) rk,.id = id};

		if (target == T_ORG_ONE)
			write_organization(&w);
		else if (rk == RK_FILE)
			books_file_upload(&w);
		else if (target == T_EMAILS)
			write_invoice_email(&w);
		else if (strcmp(m, "DELETE") == 0)
			write_delete(&w, target == T_LIST);
		else if (strcmp(m, "POST") == 0)
			write_create(&w);
		else
			write_update(&w);
	}
	pthread_rwlock_unlock(&sb.lock);
	json_decref(body);
}
