/*
 * write.c - the write endpoints.  A write unwraps the singular root
 * ({"invoice":{...}}), validates every field (collecting all problems into
 * one 422), then applies the change atomically under the org's exclusive
 * lock and answers 200 with plural root arrays of every changed record
 * and meta.deletedRecords for deletions (spec §2, §6).
 */
#include "write.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"
#include "ledger.h"
#include "refdata.h"
#include "render.h"

/* ------------------------------------------------------------ field readers */


/* fields_init prepares reading a record's fields: its validationErrors key and attribute prefix */
void
fields_init(Fields *f, Org *o, VErr *v, json_t *obj, const char *resource, const char *parent_key,
			const char *prefix)
{
	json_t	   *cid = json_object_get(obj, "_clientId");

	f->o = o;
	f->v = v;
	f->obj = obj;
	f->prefix[0] = '\0';
	if (json_is_string(cid))
		snprintf(f->key, sizeof(f->key), "%s", json_string_value(cid));
	else
	{
		snprintf(f->key, sizeof(f->key), "%s", parent_key ? parent_key : resource);
		if (prefix)
			snprintf(f->prefix, sizeof(f->prefix), "%s", prefix);
	}
}

/* ferr records a problem with one attribute of the record */
void
ferr(Fields *f, const char *attr, const char *msg)
{
	char		a[96];

	snprintf(a, sizeof(a), "%s%s", f->prefix, attr);
	verr_add(f->v, f->key, a, "%s", msg);
}

/* has: was the field sent at all? */
bool
has(Fields *f, const char *name)
{
	return json_object_get(f->obj, name) != NULL;
}

/* get_str: absent -> *present false; null -> NULL; string -> value */
bool
get_str(Fields *f, const char *name, const char **out, bool required)
{
	json_t	   *j = json_object_get(f->obj, name);

	if (j == NULL || json_is_null(j))
	{
		if (required)
		{
			char		m[96];

			snprintf(m, sizeof(m), "%s is required.", name);
			ferr(f, name, m);
		}
		if (j)
			*out = NULL;
		return j != NULL;
	}
	if (json_is_integer(j))
	{
		/*
		 * numbers are accepted where Billy has number-like strings (contactNo
		 * ...)
		 */
		*out = arena_printf(&f->o->arena, "%lld", (long long) json_integer_value(j));
		return true;
	}
	if (!json_is_string(j))
	{
		char		m[96];

		snprintf(m, sizeof(m), "%s must be a string.", name);
		ferr(f, name, m);
		return false;
	}
	*out = json_string_value(j);
	if (required && (*out)[0] == '\0')
	{
		char		m[96];

		snprintf(m, sizeof(m), "%s is required.", name);
		ferr(f, name, m);
	}
	return true;
}

/* get_scaled: a number (or numeric string) as an integer with 'scale' units */
bool
get_scaled(Fields *f, const char *name, int64_t scale, int64_t *out, bool required)
{
	json_t	   *j = json_object_get(f->obj, name);
	double		d;
	char		m[96];

	if (j == NULL || json_is_null(j))
	{
		if (required)
		{
			snprintf(m, sizeof(m), "%s is required.", name);
			ferr(f, name, m);
		}
		return false;
	}
	if (json_is_number(j))
		d = json_number_value(j);
	else if (json_is_string(j))
	{
		char	   *end;

		d = strtod(json_string_value(j), &end);
		if (*end || end == json_string_value(j))
		{
			snprintf(m, sizeof(m), "%s must be a number.", name);
			ferr(f, name, m);
			return false;
		}
	}
	else
	{
		snprintf(m, sizeof(m), "%s must be a number.", name);
		ferr(f, name, m);
		return false;
	}
	if (!double_to_scaled(d, scale, out))
	{
		snprintf(m, sizeof(m), "%s is out of range.", name);
		ferr(f, name, m);
		return false;
	}
	return true;
}

/* get_bool reads an optional boolean field */
bool
get_bool(Fields *f, const char *name, bool *out)
{
	json_t	   *j = json_object_get(f->obj, name);

	if (j == NULL || json_is_null(j))
		return false;
	if (!json_is_boolean(j))
	{
		char		m[96];

		snprintf(m, sizeof(m), "%s must be true or false.", name);
		ferr(f, name, m);
		return false;
	}
	*out = json_is_true(j);
	return true;
}

/* get_int reads an optional whole number within bounds */
bool
get_int(Fields *f, const char *name, int64_t lo, int64_t hi, int64_t *out)
{
	json_t	   *j = json_object_get(f->obj, name);

	if (j == NULL || json_is_null(j))
		return false;
	if (!json_is_integer(j) || json_integer_value(j) < lo || json_integer_value(j) > hi)
	{
		char		m[96];

		snprintf(m, sizeof(m), "%s must be a whole number from %lld to %lld.", name,
				 (long long) lo, (long long) hi);
		ferr(f, name, m);
		return false;
	}
	*out = json_integer_value(j);
	return true;
}

/* get_date reads a YYYY-MM-DD field */
bool
get_date(Fields *f, const char *name, Date *out, bool required)
{
	const char *s = NULL;

	if (!get_str(f, name, &s, required) || s == NULL)
		return false;
	if (!date_parse(s, out))
	{
		char		m[96];

		snprintf(m, sizeof(m), "%s must be a date (YYYY-MM-DD).", name);
		ferr(f, name, m);
		return false;
	}
	return true;
}

/* get_ref: an id of a live record of kind rk; null gives -1 */
bool
get_ref(Fields *f, const char *name, RK rk, int32_t *out, bool required)
{
	const char *s = NULL;

	if (!get_str(f, name, &s, required))
		return false;
	if (s == NULL || s[0] == '\0')
	{
		*out = -1;
		return !required;
	}
	*out = id_find(f->o, rk, s);
	if (*out < 0)
	{
		char		m[160];

		snprintf(m, sizeof(m), "No %s with ID %.40s exists.", res_defs[rk].singular, s);
		ferr(f, name, m);
		return false;
	}
	return true;
}

/* get_enum reads a string field that must be one of values */
bool
get_enum(Fields *f, const char *name, const char *const *values, int n, int *out)
{
	const char *s = NULL;

	if (!get_str(f, name, &s, false) || s == NULL)
		return false;
	for (int i = 0; i < n; i++)
		if (values[i] && strcmp(values[i], s) == 0)
		{
			*out = i;
			return true;
		}
	{
		char		m[160];
		int			len = snprintf(m, sizeof(m), "%s must be one of:", name);

		for (int i = 0; i < n && len < (int) sizeof(m); i++)
			if (values[i])
				len += snprintf(m + len, sizeof(m) - (size_t) len, " %s", values[i]);
		ferr(f, name, m);
	}
	return false;
}

/* adup copies a request string into the organization's arena */
const char *
adup(Org *o, const char *s)
{
	return s ? arena_strdup(&o->arena, s) : NULL;
}

static const char *const tax_modes[] = {"excl", "incl"};
static const char *const doc_states[] = {"draft", "approved", "voided"};
static const char *const disc_modes[] = {NULL, "cash", "percent"};
static const char *const contact_types[] = {"company", "person"};
static const char *const cash_sides[] = {"debit", "credit"};

/* root: the singular root object of a write body, or a 422 */
json_t *
root_object(WriteCtx *w, const char *name)
{
	json_t	   *j = json_object_get(w->body, name);

	if (!json_is_object(j))
	{
		char		m[96];

		snprintf(m, sizeof(m), "The request body must have a \"%s\" object.", name);
		resp_unprocessable(w->rs, name, NULL, m);
		return NULL;
	}
	return j;
}

/* check_org_id: organizationId, when sent, must be the token's organization */
bool
check_org_id(Fields *f)
{
	const char *s = NULL;

	if (get_str(f, "organizationId", &s, false) && s && strcmp(s, f->o->id) != 0)
	{
		ferr(f, "organizationId", "organizationId does not match the access token's organization.");
		return false;
	}
	return true;
}

/* check_immutable: sending an immutable field is fine if it does not change it */
static void
check_same_ref(Fields *f, const char *name, RK rk, int32_t current)
{
	const char *s = NULL;

	if (!get_str(f, name, &s, false))
		return;
	if ((s == NULL && current < 0) ||
		(s && current >= 0 && strcmp(s, rec_head(&f->o->tab[rk], current)->id) == 0))
		return;
	{
		char		m[96];

		snprintf(m, sizeof(m), "%s cannot be changed.", name);
		ferr(f, name, m);
	}
}

/* ------------------------------------------------------------ responses */

/*
 * write_respond answers a write: meta (with deletedRecords when something
 * was deleted), then one plural root array per kind of changed record,
 * the request's own kind first.
 */
void
write_respond(Response *rs, Org *o, const ChangeSet *cs, RK first)
{
	bool		any_deleted = false;
	int			order[RK__TABLES];
	int			n = 0;

	order[n++] = first;
	for (int rk = 0; rk < RK__TABLES; rk++)
		if (rk != (int) first)
			order[n++] = rk;
	resp_json_begin(rs, 200);
	for (int i = 0; i < cs->n; i++)
		any_deleted |= cs->v[i].op == OP_DELETED;
	if (any_deleted)
	{
		bool		first_kind = true;

		buf_lit(&rs->body, ",\"deletedRecords\":{");
		for (int k = 0; k < n; k++)
		{
			bool		open = false;

			for (int i = 0; i < cs->n; i++)
			{
				if (cs->v[i].rk != order[k] || cs->v[i].op != OP_DELETED)
					continue;
				if (!open)
				{
					if (!first_kind)
						buf_putc(&rs->body, ',');
					first_kind = false;
					buf_putc(&rs->body, '"');
					buf_puts(&rs->body, res_defs[order[k]].plural);
					buf_lit(&rs->body, "\":[");
					open = true;
				}
				else
					buf_putc(&rs->body, ',');
				json_str(&rs->body, rec_head(&o->tab[order[k]], cs->v[i].idx)->id);
			}
			if (open)
				buf_putc(&rs->body, ']');
		}
		buf_putc(&rs->body, '}');
	}
	buf_putc(&rs->body, '}');
	for (int k = 0; k < n; k++)
	{
		bool		open = false;

		for (int i = 0; i < cs->n; i++)
		{
			if (cs->v[i].rk != order[k] || cs->v[i].op == OP_DELETED)
				continue;
			if (!open)
			{
				buf_lit(&rs->body, ",\"");
				buf_puts(&rs->body, res_defs[order[k]].plural);
				buf_lit(&rs->body, "\":[");
				open = true;
			}
			else
				buf_putc(&rs->body, ',');
			render_record(&rs->body, o, (RK) order[k], cs->v[i].idx, NULL, NULL, true);
		}
		if (open)
			buf_putc(&rs->body, ']');
	}
	buf_putc(&rs->body, '}');
	rs->wrote = true;
}

/* write_not_found answers 404 RECORD_NOT_FOUND for an unknown id */
void
write_not_found(Response *rs, RK rk, const char *id)
{
	char		msg[160];

	snprintf(msg, sizeof(msg), "No %s with ID %.40s was found.", res_defs[rk].singular, id);
	resp_error(rs, 404, "RECORD_NOT_FOUND", msg);
}

/* ------------------------------------------------------------ invoices */

typedef struct LineIn
{
	int32_t		product;
	const char *description;
	const char *discount_text;
	int64_t		quantity;
	int64_t		unit_price;
	int			discount_mode;
	int64_t		discount_value;
	int32_t		priority;
} LineIn;

/* parse_invoice_lines validates "lines" (required, non-empty) */
static LineIn *
parse_invoice_lines(Fields *pf, int *n_out)
{
	json_t	   *arr = json_object_get(pf->obj, "lines");
	size_t		n;
	LineIn	   *out;

	*n_out = 0;
	if (!json_is_array(arr) || json_array_size(arr) == 0)
	{
		ferr(pf, "lines", "An invoice must have at least one line.");
		return NULL;
	}
	n = json_array_size(arr);
	out = xcalloc(n, sizeof(LineIn));
	for (size_t i = 0; i < n; i++)
	{
		json_t	   *lo = json_array_get(arr, i);
		Fields		f;
		char		prefix[32];
		int64_t		prio;
		int			mode = 0;

		snprintf(prefix, sizeof(prefix), "lines.%zu.", i);
		if (!json_is_object(lo))
		{
			ferr(pf, prefix, "Each line must be an object.");
			continue;
		}
		fields_init(&f, pf->o, pf->v, lo, "invoiceLine", pf->key, prefix);
		out[i].product = -1;
		get_ref(&f, "productId", RK_PRODUCT, &out[i].product, true);
		if (!get_scaled(&f, "unitPrice", 100, &out[i].unit_price, true))
			out[i].unit_price = 0;
		out[i].quantity = QTY_SCALE;
		if (has(&f, "quantity") && get_scaled(&f, "quantity", QTY_SCALE, &out[i].quantity, false) &&
			out[i].quantity == 0)
			ferr(&f, "quantity", "quantity must not be 0.");
		get_str(&f, "description", &out[i].description, false);
		get_str(&f, "discountText", &out[i].discount_text, false);
		if (get_enum(&f, "discountMode", disc_modes, 3, &mode))
			out[i].discount_mode = mode;
		if (out[i].discount_mode != DISC_NONE)
		{
			if (get_scaled(&f, "discountValue", QTY_SCALE, &out[i].discount_value, true))
			{
				if (out[i].discount_value < 0 ||
					(out[i].discount_mode == DISC_PERCENT && out[i].discount_value > 100 * QTY_SCALE))
					ferr(&f, "discountValue", "discountValue is out of range.");
			}
		}
		out[i].priority = (int32_t) i;
		if (get_int(&f, "priority", 0, 1000000, &prio))
			out[i].priority = (int32_t) prio;
	}
	*n_out = (int) n;
	return out;
}

/* store_invoice_lines appends a new block of lines and recomputes the invoice */
static void
store_invoice_lines(Org *o, int32_t inv, const LineIn *in, int n, ChangeSet *cs)
{
	Invoice    *v = INVOICE(o, inv);

	rec_kill_block(o, RK_INVOICE_LINE, v->line_start, v->line_count, cs);
	INVOICE(o, inv)->line_start = o->tab[RK_INVOICE_LINE].n;
	for (int i = 0; i < n; i++)
	{
		int32_t		ln = rec_new(o, RK_INVOICE_LINE);
		InvoiceLine *l = ILINE(o, ln);

		l->invoice = inv;
		l->product = in[i].product;
		l->description = in[i].description ? arena_strdup(&o->arena, in[i].description)
			: PRODUCT(o, in[i].product)->name;
		l->quantity = in[i].quantity;
		l->unit_price = in[i].unit_price;
		l->discount_mode = (uint8_t) in[i].discount_mode;
		l->discount_value = in[i].discount_mode ? in[i].discount_value : 0;
		l->discount_text = adup(o, in[i].discount_text);
		l->priority = in[i].priority;
		l->tax_rate = product_tax_rate(o, in[i].product, INVOICE(o, inv)->contact);
		cs_add(cs, RK_INVOICE_LINE, ln, OP_CREATED);
	}
	v = INVOICE(o, inv);
	v->line_count = n;
	invoice_recalc(o, inv);
	touch(o, RK_INVOICE);
}

/* invoice_create handles POST /v2/invoices */
static void
invoice_create(WriteCtx *w)
{
	Org		   *o = w->o;
	json_t	   *obj = root_object(w, "invoice");
	VErr		v = {0};
	Fields		f;
	int32_t		contact = -1,
				credited = -1,
				att = -1;
	Date		entry = 0;
	const char *cur_s = NULL,
			   *invoice_no = NULL,
			   *msg = NULL,
			   *order_no = NULL,
			   *external_id = NULL,
			   *type_s = NULL;
	int			cur = -1,
				tax_mode = o->default_tax_mode,
				state = ST_DRAFT,
				type = DOC_INVOICE;
	int64_t		rate = 0,
				days = -1;
	LineIn	   *lines = NULL;
	int			nlines = 0;
	ChangeSet	cs = {0};
	Time		now;
	int32_t		inv;

	if (obj == NULL)
		return;
	fields_init(&f, o, &v, obj, "invoice", NULL, NULL);
	check_org_id(&f);
	if (get_str(&f, "type", &type_s, false) && type_s)
	{
		if (strcmp(type_s, "creditNote") == 0)
			type = DOC_CREDIT_NOTE;
		else if (strcmp(type_s, "invoice") != 0)
			ferr(&f, "type", "type must be invoice or creditNote.");
	}
	get_ref(&f, "contactId", RK_CONTACT, &contact, true);
	get_date(&f, "entryDate", &entry, true);
	if (get_str(&f, "currencyId", &cur_s, true) && cur_s && (cur = cur_by_code(cur_s)) < 0)
		ferr(&f, "currencyId", "Unknown currency.");
	if (get_scaled(&f, "exchangeRate", RATE_SCALE, &rate, false) && rate <= 0)
		ferr(&f, "exchangeRate", "exchangeRate must be positive.");
	if (has(&f, "paymentTermsMode"))
	{
		const char *pm = NULL;

		if (get_str(&f, "paymentTermsMode", &pm, false) && pm && strcmp(pm, "net") != 0)
			ferr(&f, "paymentTermsMode", "Only paymentTermsMode net is supported.");
	}
	get_int(&f, "paymentTermsDays", 0, 3650, &days);
	get_enum(&f, "taxMode", tax_modes, 2, &tax_mode);
	if (get_enum(&f, "state", doc_states, 3, &state) && state == ST_VOIDED)
		ferr(&f, "state", "A new invoice must be draft or approved.");
	if (get_str(&f, "invoiceNo", &invoice_no, false) && invoice_no)
	{
		if (invoice_no[0] == '\0')
			invoice_no = NULL;
		else if (invoice_no_taken(o, invoice_no, -1))
			ferr(&f, "invoiceNo", "invoiceNo is already used by another invoice.");
	}
	if (get_ref(&f, "creditedInvoiceId", RK_INVOICE, &credited, false) && credited >= 0)
	{
		if (type != DOC_CREDIT_NOTE)
			ferr(&f, "creditedInvoiceId", "Only credit notes can credit an invoice.");
		else if (INVOICE(o, credited)->type != DOC_INVOICE)
			ferr(&f, "creditedInvoiceId", "A credit note can only credit an invoice.");
		else if (contact >= 0 && INVOICE(o, credited)->contact != contact)
			ferr(&f, "creditedInvoiceId", "The credited invoice belongs to another contact.");
		else if (cur >= 0 && INVOICE(o, credited)->currency != cur)
			ferr(&f, "creditedInvoiceId", "The credited invoice is in another currency.");
	}
	if (get_ref(&f, "attContactPersonId", RK_CONTACT_PERSON, &att, false) && att >= 0 &&
		contact >= 0 && PERSON(o, att)->contact != contact)
		ferr(&f, "attContactPersonId", "The contact person belongs to another contact.");
	get_str(&f, "contactMessage", &msg, false);
	get_str(&f, "orderNo", &order_no, false);
	get_str(&f, "externalId", &external_id, false);
	lines = parse_invoice_lines(&f, &nlines);
	if (v.n)
	{
		resp_validation(w->rs, &v);
		free(lines);
		return;
	}

	now = clock_tick();
	inv = rec_new(o, RK_INVOICE);
	{
		Invoice    *iv = INVOICE(o, inv);
		Contact    *ct = CONTACT(o, contact);

		iv->type = (uint8_t) type;
		iv->state = ST_DRAFT;
		iv->sent_state = SENT_UNSENT;
		iv->tax_mode = (uint8_t) tax_mode;
		iv->terms_mode = TERMS_NET;
		iv->currency = (uint8_t) cur;
		iv->terms_days = (int16_t) (days >= 0 ? days : ct->terms_days ? ct->terms_days : o->terms_days);
		iv->contact = contact;
		iv->att_person = att;
		iv->credited = credited;
		iv->entry_date = entry;
		iv->due_date = entry + iv->terms_days;
		iv->created = now;
		iv->approved = TIME_NONE;
		iv->rate6 = cur == CUR_DKK ? RATE_SCALE : rate > 0 ? rate : currencies[cur].rate6;
		iv->invoice_no = adup(o, invoice_no);
		iv->contact_message = adup(o, msg);
		iv->order_no = adup(o, order_no);
		iv->external_id = adup(o, external_id);
		iv->bm_head = iv->bm_tail = -1;
		iv->line_count = 0;
	}
	cs_add(&cs, RK_INVOICE, inv, OP_CREATED);
	store_invoice_lines(o, inv, lines, nlines, &cs);
	if (state == ST_APPROVED)
		invoice_approve(o, inv, now, &cs);
	write_respond(w->rs, o, &cs, RK_INVOICE);
	cs_free(&cs);
	free(lines);
}

/*
 * invoice_update applies a partial update.  Drafts can change their terms,
 * currency, tax mode, number and lines (lines replace the old ones);
 * contactId, type and entryDate never change.  state "approved" approves a
 * draft, "voided" voids an approved invoice without live payments.
 */
static void
invoice_update(WriteCtx *w, int32_t inv)
{
	Org		   *o = w->o;
	json_t	   *obj = root_object(w, "invoice");
	VErr		v = {0};
	Fields		f;
	Invoice    *iv = INVOICE(o, inv);
	bool		draft = iv->state == ST_DRAFT;
	int			state = iv->state,
				tax_mode = iv->tax_mode;
	const char *s = NULL,
			   *cur_s = NULL;
	int			cur = iv->currency;
	int64_t		rate = iv->rate6,
				days = iv->terms_days;
	Date		entry;
	LineIn	   *lines = NULL;
	int			nlines = 0;
	int32_t		att = iv->att_person,
				credited = iv->credited;
	ChangeSet	cs = {0};
	Time		now;
	bool		have_no = false,
				have_msg = false,
				have_order = false,
				have_ext = false;
	const char *invoice_no = NULL,
			   *msg = NULL,
			   *order_no = NULL,
			   *ext = NULL;

	if (obj == NULL)
		return;
	fields_init(&f, o, &v, obj, "invoice", NULL, NULL);
	check_org_id(&f);
	if (get_str(&f, "id", &s, false) && s && strcmp(s, iv->h.id) != 0)
		ferr(&f, "id", "id does not match the URL.");
	check_same_ref(&f, "contactId", RK_CONTACT, iv->contact);
	if (get_str(&f, "type", &s, false) && s &&
		strcmp(s, iv->type == DOC_INVOICE ? "invoice" : "creditNote") != 0)
		ferr(&f, "type", "type cannot be changed.");
	if (get_date(&f, "entryDate", &entry, false) && entry != iv->entry_date)
		ferr(&f, "entryDate", "entryDate cannot be changed after the invoice is created.");
	get_enum(&f, "state", doc_states, 3, &state);
	if (state != iv->state)
	{
		if (!(iv->state == ST_DRAFT && state == ST_APPROVED) &&
			!(iv->state == ST_APPROVED && state == ST_VOIDED))
			ferr(&f, "state", "That state change is not allowed.");
		else if (state == ST_VOIDED && doc_has_live_modifiers(o, RK_INVOICE, inv))
			ferr(&f, "state", "The invoice has payments or credit notes; void those first.");
	}

	/* fields only a draft can change */
	if (get_str(&f, "currencyId", &cur_s, false) && cur_s && (cur = cur_by_code(cur_s)) < 0)
		ferr(&f, "currencyId", "Unknown currency.");
	get_scaled(&f, "exchangeRate", RATE_SCALE, &rate, false);
	get_int(&f, "paymentTermsDays", 0, 3650, &days);
	get_enum(&f, "taxMode", tax_modes, 2, &tax_mode);
	if ((have_no = get_str(&f, "invoiceNo", &invoice_no, false)) && invoice_no && invoice_no[0] &&
		invoice_no_taken(o, invoice_no, inv))
		ferr(&f, "invoiceNo", "invoiceNo is already used by another invoice.");
	get_ref(&f, "attContactPersonId", RK_CONTACT_PERSON, &att, false);
	if (att >= 0 && PERSON(o, att)->contact != iv->contact)
		ferr(&f, "attContactPersonId", "The contact person belongs to another contact.");
	get_ref(&f, "creditedInvoiceId", RK_INVOICE, &credited, false);
	if (has(&f, "lines"))
		lines = parse_invoice_lines(&f, &nlines);
	if (!draft)
	{
		bool		changed = cur != iv->currency || rate != iv->rate6 || days != iv->terms_days ||
		tax_mode != iv->tax_mode || att != iv->att_person || credited != iv->credited ||
		lines != NULL || (have_no && (invoice_no == NULL || iv->invoice_no == NULL ||
									  strcmp(invoice_no, iv->invoice_no) != 0));

		if (changed)
			ferr(&f, "state", "Only draft invoices can change lines, amounts, terms or number.");
	}
	have_msg = get_str(&f, "contactMessage", &msg, false);
	have_order = get_str(&f, "orderNo", &order_no, false);
	have_ext = get_str(&f, "externalId", &ext, false);
	if (v.n)
	{
		resp_validation(w->rs, &v);
		free(lines);
		return;
	}

	now = clock_tick();
	iv = INVOICE(o, inv);
	iv->currency = (uint8_t) cur;
	iv->rate6 = cur == CUR_DKK ? RATE_SCALE : rate;
	iv->terms_days = (int16_t) days;
	iv->due_date = iv->entry_date + iv->terms_days;
	iv->tax_mode = (uint8_t) tax_mode;
	iv->att_person = att;
	iv->credited = credited;
	if (have_no)
		iv->invoice_no = invoice_no && invoice_no[0] ? adup(o, invoice_no) : NULL;
	if (have_msg)
		iv->contact_message = adup(o, msg);
	if (have_order)
		iv->order_no = adup(o, order_no);
	if (have_ext)
		iv->external_id = adup(o, ext);
	touch(o, RK_INVOICE);
	cs_add(&cs, RK_INVOICE, inv, OP_UPDATED);
	if (lines)
		store_invoice_lines(o, inv, lines, nlines, &cs);
	else if (draft)
	{
		/* tax mode or currency may have changed: refresh the totals */
		invoice_recalc(o, inv);
		for (int32_t k = INVOICE(o, inv)->line_start;
			 k < INVOICE(o, inv)->line_start + INVOICE(o, inv)->line_count; k++)
			cs_add(&cs, RK_INVOICE_LINE, k, OP_UPDATED);
	}
	if (state == ST_APPROVED && INVOICE(o, inv)->state == ST_DRAFT)
		invoice_approve(o, inv, now, &cs);
	else if (state == ST_VOIDED && INVOICE(o, inv)->state == ST_APPROVED)
		invoice_void(o, inv, &cs);
	write_respond(w->rs, o, &cs, RK_INVOICE);
	cs_free(&cs);
	free(lines);
}

/* write_invoice_email handles POST /v2/invoices/:id/emails: sentState becomes sent */
void
write_invoice_email(WriteCtx *w)
{
	Org		   *o = w->o;
	int32_t		inv;
	json_t	   *obj;
	VErr		v = {0};
	Fields		f;
	int32_t		person = -1;
	ChangeSet	cs = {0};
	Invoice    *iv;

	pthread_rwlock_wrlock(&o->lock);
	inv = id_find(o, RK_INVOICE, w->id);
	if (inv < 0)
	{
		write_not_found(w->rs, RK_INVOICE, w->id);
		goto out;
	}
	obj = json_object_get(w->body, "email");
	if (obj != NULL && !json_is_object(obj))
	{
		resp_unprocessable(w->rs, "email", NULL, "email must be an object.");
		goto out;
	}
	iv = INVOICE(o, inv);
	if (obj)
	{
		fields_init(&f, o, &v, obj, "email", NULL, NULL);
		if (get_ref(&f, "contactPersonId", RK_CONTACT_PERSON, &person, false) && person >= 0 &&
			PERSON(o, person)->contact != iv->contact)
			ferr(&f, "contactPersonId", "The contact person belongs to another contact.");
	}
	else
		fields_init(&f, o, &v, w->body, "email", NULL, NULL);
	if (iv->state != ST_APPROVED)
		ferr(&f, "invoiceId", "Only approved invoices can be sent.");
	if (person < 0 && v.n == 0)
	{
		Contact    *ct = CONTACT(o, iv->contact);

		for (int32_t k = ct->person_start; k < ct->person_start + ct->person_count; k++)
			if (!PERSON(o, k)->h.dead && PERSON(o, k)->email && PERSON(o, k)->email[0])
			{
				person = k;
				break;
			}
		if (person < 0)
			ferr(&f, "contactPersonId", "The contact has no contact person with an e-mail address.");
	}
	if (v.n)
	{
		resp_validation(w->rs, &v);
		goto out;
	}
	clock_tick();
	iv = INVOICE(o, inv);
	if (iv->sent_state == SENT_UNSENT || iv->sent_state == SENT_PRINTED)
	{
		iv->sent_state = SENT_SENT;
		touch(o, RK_INVOICE);
	}
	cs_add(&cs, RK_INVOICE, inv, OP_UPDATED);
	write_respond(w->rs, o, &cs, RK_INVOICE);
	cs_free(&cs);
out:
	pthread_rwlock_unlock(&o->lock);
}

/* ------------------------------------------------------------ contacts */

typedef struct PersonIn
{
	const char *name;
	const char *email;
	const char *phone;
	bool		primary;
} PersonIn;

/* parse_persons validates inline contactPersons */
static PersonIn *
parse_persons(Fields *pf, int *n_out)
{
	json_t	   *arr = json_object_get(pf->obj, "contactPersons");
	size_t		n;
	PersonIn   *out;
	bool		any_primary = false;

	*n_out = 0;
	if (!json_is_array(arr))
	{
		ferr(pf, "contactPersons", "contactPersons must be an array.");
		return NULL;
	}
	n = json_array_size(arr);
	out = xcalloc(Max(n, (size_t) 1), sizeof(PersonIn));
	for (size_t i = 0; i < n; i++)
	{
		json_t	   *po = json_array_get(arr, i);
		Fields		f;
		char		prefix[40];

		snprintf(prefix, sizeof(prefix), "contactPersons.%zu.", i);
		if (!json_is_object(po))
		{
			ferr(pf, prefix, "Each contact person must be an object.");
			continue;
		}
		fields_init(&f, pf->o, pf->v, po, "contactPerson", pf->key, prefix);
		get_str(&f, "name", &out[i].name, false);
		get_str(&f, "email", &out[i].email, false);
		get_str(&f, "phone", &out[i].phone, false);
		get_bool(&f, "isPrimary", &out[i].primary);
		if ((!out[i].name || !out[i].name[0]) && (!out[i].email || !out[i].email[0]))
			ferr(&f, "name", "A contact person needs a name or an e-mail address.");
		if (out[i].email && out[i].email[0] && strchr(out[i].email, '@') == NULL)
			ferr(&f, "email", "email is not an e-mail address.");
		any_primary |= out[i].primary;
	}
	if (!any_primary && n > 0)
		out[0].primary = true;
	*n_out = (int) n;
	return out;
}

/* store_persons replaces a contact's persons with new records */
static void
store_persons(Org *o, int32_t c, const PersonIn *in, int n, ChangeSet *cs)
{
	Contact    *ct = CONTACT(o, c);

	rec_kill_block(o, RK_CONTACT_PERSON, ct->person_start, ct->person_count, cs);
	CONTACT(o, c)->person_start = o->tab[RK_CONTACT_PERSON].n;
	for (int i = 0; i < n; i++)
	{
		int32_t		p = rec_new(o, RK_CONTACT_PERSON);
		ContactPerson *cp = PERSON(o, p);

		cp->contact = c;
		cp->name = adup(o, in[i].name);
		cp->email = adup(o, in[i].email);
		cp->phone = adup(o, in[i].phone);
		cp->primary = in[i].primary;
		cs_add(cs, RK_CONTACT_PERSON, p, OP_CREATED);
	}
	CONTACT(o, c)->person_count = n;
}

/*
 * contact_write creates (c < 0) or updates a contact.  Strings are copied
 * into the org's arena; contactPersons, when sent, replace the old ones.
 */
static void
contact_write(WriteCtx *w, int32_t c)
{
	Org		   *o = w->o;
	json_t	   *obj = root_object(w, "contact");
	VErr		v = {0};
	Fields		f;
	const char *name = NULL,
			   *country = NULL,
			   *cur_s = NULL,
			   *s = NULL;
	int			type = c >= 0 ? CONTACT(o, c)->type : CT_COMPANY;
	int			cur = -1;
	int64_t		days = -1;
	PersonIn   *persons = NULL;
	int			npersons = 0;
	bool		have_persons;
	ChangeSet	cs = {0};
	Time		now;
	static const char *const str_fields[] = {"street", "cityText", "zipcodeText", "stateText", "phone",
	"registrationNo", "ean", "localeId", "contactNo"};
	const char *sv[lengthof(str_fields)];
	bool		sp[lengthof(str_fields)];
	bool		b_customer = true,
				b_supplier = false,
				b_archived = false,
				b_exempt = false;
	bool		h_customer,
				h_supplier,
				h_archived,
				h_exempt;

	if (obj == NULL)
		return;
	fields_init(&f, o, &v, obj, "contact", NULL, NULL);
	check_org_id(&f);
	if (c >= 0 && get_str(&f, "id", &s, false) && s && strcmp(s, CONTACT(o, c)->h.id) != 0)
		ferr(&f, "id", "id does not match the URL.");
	get_str(&f, "name", &name, c < 0);
	if (c >= 0 && has(&f, "name") && (name == NULL || !name[0]))
		ferr(&f, "name", "name is required.");
	if (get_str(&f, "countryId", &country, c < 0) && country && country_find(country) == NULL)
		ferr(&f, "countryId", "Unknown country.");
	if (c >= 0 && has(&f, "countryId") && country == NULL)
		ferr(&f, "countryId", "countryId is required.");
	get_enum(&f, "type", contact_types, 2, &type);
	if (get_str(&f, "currencyId", &cur_s, false) && cur_s && (cur = cur_by_code(cur_s)) < 0)
		ferr(&f, "currencyId", "Unknown currency.");
	get_int(&f, "paymentTermsDays", 0, 3650, &days);
	if (has(&f, "paymentTermsMode"))
	{
		const char *pm = NULL;

		if (get_str(&f, "paymentTermsMode", &pm, false) && pm && strcmp(pm, "net") != 0)
			ferr(&f, "paymentTermsMode", "Only paymentTermsMode net is supported.");
	}
	for (int i = 0; i < lengthof(str_fields); i++)
	{
		sv[i] = NULL;
		sp[i] = get_str(&f, str_fields[i], &sv[i], false);
	}
	h_customer = get_bool(&f, "isCustomer", &b_customer);
	h_supplier = get_bool(&f, "isSupplier", &b_supplier);
	h_archived = get_bool(&f, "isArchived", &b_archived);
	h_exempt = get_bool(&f, "isSalesTaxExempt", &b_exempt);
	have_persons = has(&f, "contactPersons");
	if (have_persons)
		persons = parse_persons(&f, &npersons);
	if (v.n)
	{
		resp_validation(w->rs, &v);
		free(persons);
		return;
	}

	now = clock_tick();
	if (c < 0)
	{
		Contact    *ct;

		c = rec_new(o, RK_CONTACT);
		ct = CONTACT(o, c);
		ct->created = now;
		ct->customer = true;
		ct->terms_mode = TERMS_NET;
		ct->terms_days = o->terms_days;
		ct->currency = CUR_DKK;
		ct->gen_kind = -1;
		ct->person_start = o->tab[RK_CONTACT_PERSON].n;
		ct->contact_no = arena_printf(&o->arena, "%d", o->next_contact_no++);
		{
			char		code[TOKEN_LEN + 1];

			rng_token(&o->rng, code);
			ct->access_code = arena_strndup(&o->arena, code, 16);
		}
		cs_add(&cs, RK_CONTACT, c, OP_CREATED);
	}
	else
		cs_add(&cs, RK_CONTACT, c, OP_UPDATED);
	{
		Contact    *ct = CONTACT(o, c);
		const char **dst[] = {&ct->street, &ct->city, &ct->zipcode, &ct->state_text, &ct->phone,
		&ct->registration_no, &ct->ean, &ct->locale, &ct->contact_no};

		if (name)
			ct->name = adup(o, name);
		if (country)
			snprintf(ct->country, sizeof(ct->country), "%s", country);
		ct->type = (uint8_t) type;
		if (cur >= 0)
			ct->currency = (uint8_t) cur;
		if (days >= 0)
			ct->terms_days = (int16_t) days;
		for (int i = 0; i < lengthof(str_fields); i++)
			if (sp[i])
				*dst[i] = adup(o, sv[i]);
		if (h_customer)
			ct->customer = b_customer;
		if (h_supplier)
			ct->supplier = b_supplier;
		if (h_archived)
			ct->archived = b_archived;
		if (h_exempt)
			ct->tax_exempt = b_exempt;
		if (ct->locale == NULL)
			ct->locale = strcmp(ct->country, "DK") == 0 ? "da_DK" : "en_US";
	}
	if (have_persons)
		store_persons(o, c, persons, npersons, &cs);
	touch(o, RK_CONTACT);
	write_respond(w->rs, o, &cs, RK_CONTACT);
	cs_free(&cs);
	free(persons);
}

/* ------------------------------------------------------------ products */

typedef struct PriceIn
{
	int64_t		unit_price;
	int			currency;
} PriceIn;

/* parse_prices validates inline product prices */
static PriceIn *
parse_prices(Fields *pf, int *n_out)
{
	json_t	   *arr = json_object_get(pf->obj, "prices");
	size_t		n;
	PriceIn    *out;

	*n_out = 0;
	if (!json_is_array(arr))
	{
		ferr(pf, "prices", "prices must be an array.");
		return NULL;
	}
	n = json_array_size(arr);
	out = xcalloc(Max(n, (size_t) 1), sizeof(PriceIn));
	for (size_t i = 0; i < n; i++)
	{
		json_t	   *po = json_array_get(arr, i);
		Fields		f;
		char		prefix[32];
		const char *cs = NULL;

		snprintf(prefix, sizeof(prefix), "prices.%zu.", i);
		if (!json_is_object(po))
		{
			ferr(pf, prefix, "Each price must be an object.");
			continue;
		}
		fields_init(&f, pf->o, pf->v, po, "productPrice", pf->key, prefix);
		get_scaled(&f, "unitPrice", 100, &out[i].unit_price, true);
		out[i].currency = -1;
		if (get_str(&f, "currencyId", &cs, true) && cs && (out[i].currency = cur_by_code(cs)) < 0)
			ferr(&f, "currencyId", "Unknown currency.");
		for (size_t k = 0; k < i; k++)
			if (out[i].currency >= 0 && out[k].currency == out[i].currency)
				ferr(&f, "currencyId", "A product has one price per currency.");
	}
	*n_out = (int) n;
	return out;
}

/* product_write creates (p < 0) or updates a product; sent prices replace the old ones */
static void
product_write(WriteCtx *w, int32_t p)
{
	Org		   *o = w->o;
	json_t	   *obj = root_object(w, "product");
	VErr		v = {0};
	Fields		f;
	const char *name = NULL,
			   *s = NULL;
	int32_t		account = -2,
				ruleset = -2;
	static const char *const str_fields[] = {"description", "productNo", "suppliersProductNo"};
	const char *sv[3];
	bool		sp[3];
	bool		archived = false,
				h_archived;
	PriceIn    *prices = NULL;
	int			nprices = 0;
	bool		have_prices;
	ChangeSet	cs = {0};

	if (obj == NULL)
		return;
	fields_init(&f, o, &v, obj, "product", NULL, NULL);
	check_org_id(&f);
	if (p >= 0 && get_str(&f, "id", &s, false) && s && strcmp(s, PRODUCT(o, p)->h.id) != 0)
		ferr(&f, "id", "id does not match the URL.");
	get_str(&f, "name", &name, p < 0);
	if (p >= 0 && has(&f, "name") && (name == NULL || !name[0]))
		ferr(&f, "name", "name is required.");
	get_ref(&f, "accountId", RK_ACCOUNT, &account, false);
	get_ref(&f, "salesTaxRulesetId", RK_RULESET, &ruleset, false);
	for (int i = 0; i < 3; i++)
	{
		sv[i] = NULL;
		sp[i] = get_str(&f, str_fields[i], &sv[i], false);
	}
	h_archived = get_bool(&f, "isArchived", &archived);
	have_prices = has(&f, "prices");
	if (have_prices)
		prices = parse_prices(&f, &nprices);
	if (v.n)
	{
		resp_validation(w->rs, &v);
		free(prices);
		return;
	}

	clock_tick();
	if (p < 0)
	{
		Product    *pr;

		p = rec_new(o, RK_PRODUCT);
		pr = PRODUCT(o, p);
		pr->account = o->acc_sales_goods;
		pr->ruleset = o->rs_goods;
		pr->created = clock_now();
		pr->price_start = o->tab[RK_PRODUCT_PRICE].n;
		pr->product_no = arena_printf(&o->arena, "%d", o->next_product_no++);
		cs_add(&cs, RK_PRODUCT, p, OP_CREATED);
	}
	else
		cs_add(&cs, RK_PRODUCT, p, OP_UPDATED);
	{
		Product    *pr = PRODUCT(o, p);
		const char **dst[] = {&pr->description, &pr->product_no, &pr->suppliers_no};

		if (name)
			pr->name = adup(o, name);
		if (account >= 0)
			pr->account = account;
		if (ruleset >= 0)
			pr->ruleset = ruleset;
		for (int i = 0; i < 3; i++)
			if (sp[i])
				*dst[i] = adup(o, sv[i]);
		if (h_archived)
			pr->archived = archived;
	}
	if (have_prices)
	{
		Product    *pr = PRODUCT(o, p);

		rec_kill_block(o, RK_PRODUCT_PRICE, pr->price_start, pr->price_count, &cs);
		PRODUCT(o, p)->price_start = o->tab[RK_PRODUCT_PRICE].n;
		for (int i = 0; i < nprices; i++)
		{
			int32_t		pp = rec_new(o, RK_PRODUCT_PRICE);

			PRICE(o, pp)->product = p;
			PRICE(o, pp)->currency = (uint8_t) prices[i].currency;
			PRICE(o, pp)->unit_price = prices[i].unit_price;
			cs_add(&cs, RK_PRODUCT_PRICE, pp, OP_CREATED);
		}
		PRODUCT(o, p)->price_count = nprices;
	}
	touch(o, RK_PRODUCT);
	write_respond(w->rs, o, &cs, RK_PRODUCT);
	cs_free(&cs);
	free(prices);
}

/* ------------------------------------------------------------ bills */

typedef struct BillLineIn
{
	int32_t		account;
	int32_t		tax_rate;
	const char *description;
	int64_t		amount;
	int32_t		priority;
} BillLineIn;

/* parse_bill_lines validates bill lines (accountId, purchase taxRateId, description, amount) */
static BillLineIn *
parse_bill_lines(Fields *pf, int *n_out)
{
	json_t	   *arr = json_object_get(pf->obj, "lines");
	size_t		n;
	BillLineIn *out;

	*n_out = 0;
	if (!json_is_array(arr) || json_array_size(arr) == 0)
	{
		ferr(pf, "lines", "A bill must have at least one line.");
		return NULL;
	}
	n = json_array_size(arr);
	out = xcalloc(n, sizeof(BillLineIn));
	for (size_t i = 0; i < n; i++)
	{
		json_t	   *lo = json_array_get(arr, i);
		Fields		f;
		char		prefix[32];
		int64_t		prio;

		snprintf(prefix, sizeof(prefix), "lines.%zu.", i);
		if (!json_is_object(lo))
		{
			ferr(pf, prefix, "Each line must be an object.");
			continue;
		}
		fields_init(&f, pf->o, pf->v, lo, "billLine", pf->key, prefix);
		out[i].account = out[i].tax_rate = -1;
		get_ref(&f, "accountId", RK_ACCOUNT, &out[i].account, true);
		if (get_ref(&f, "taxRateId", RK_TAX_RATE, &out[i].tax_rate, true) && out[i].tax_rate >= 0 &&
			!TAXRATE(pf->o, out[i].tax_rate)->purchases)
			ferr(&f, "taxRateId", "The tax rate does not apply to purchases.");
		get_str(&f, "description", &out[i].description, true);
		get_scaled(&f, "amount", 100, &out[i].amount, true);
		out[i].priority = (int32_t) i;
		if (get_int(&f, "priority", 0, 1000000, &prio))
			out[i].priority = (int32_t) prio;
	}
	*n_out = (int) n;
	return out;
}

/* store_bill_lines replaces a bill's lines and recomputes its totals */
static void
store_bill_lines(Org *o, int32_t b, const BillLineIn *in, int n, ChangeSet *cs)
{
	Bill	   *bl = BILL(o, b);

	rec_kill_block(o, RK_BILL_LINE, bl->line_start, bl->line_count, cs);
	BILL(o, b)->line_start = o->tab[RK_BILL_LINE].n;
	for (int i = 0; i < n; i++)
	{
		int32_t		ln = rec_new(o, RK_BILL_LINE);
		BillLine   *l = BLINE(o, ln);

		l->bill = b;
		l->account = in[i].account;
		l->tax_rate = in[i].tax_rate;
		l->description = adup(o, in[i].description);
		l->input_amount = in[i].amount;
		l->priority = in[i].priority;
		cs_add(cs, RK_BILL_LINE, ln, OP_CREATED);
	}
	BILL(o, b)->line_count = n;
	bill_recalc(o, b);
	touch(o, RK_BILL);
}

/*
 * bill_write creates (b < 0) or updates a bill.  With taxMode incl the
 * line amounts given are gross; read back, line amount is net and tax
 * separate.  Approve with state "approved", void with "voided".
 */
static void
bill_write(WriteCtx *w, int32_t b)
{
	Org		   *o = w->o;
	json_t	   *obj = root_object(w, "bill");
	VErr		v = {0};
	Fields		f;
	Bill	   *cur_bill = b >= 0 ? BILL(o, b) : NULL;
	bool		draft = cur_bill == NULL || cur_bill->state == ST_DRAFT;
	int32_t		contact = cur_bill ? cur_bill->contact : -1,
				credited = cur_bill ? cur_bill->credited : -1;
	Date		entry = cur_bill ? cur_bill->entry_date : 0,
				due = DATE_NONE;
	const char *cur_s = NULL,
			   *s = NULL,
			   *sup_no = NULL,
			   *voucher = NULL,
			   *type_s = NULL;
	int			cur = cur_bill ? cur_bill->currency : CUR_DKK,
				tax_mode = cur_bill ? cur_bill->tax_mode : TAX_EXCL,
				state = cur_bill ? cur_bill->state : ST_DRAFT,
				type = cur_bill ? cur_bill->type : DOC_INVOICE;
	int64_t		rate = cur_bill ? cur_bill->rate6 : 0;
	bool		have_sup,
				have_voucher,
				have_due;
	BillLineIn *lines = NULL;
	int			nlines = 0;
	ChangeSet	cs = {0};
	Time		now;

	if (obj == NULL)
		return;
	fields_init(&f, o, &v, obj, "bill", NULL, NULL);
	check_org_id(&f);
	if (b >= 0)
	{
		Date		e;

		if (get_str(&f, "id", &s, false) && s && strcmp(s, cur_bill->h.id) != 0)
			ferr(&f, "id", "id does not match the URL.");
		check_same_ref(&f, "contactId", RK_CONTACT, cur_bill->contact);
		if (get_date(&f, "entryDate", &e, false) && e != cur_bill->entry_date && !draft)
			ferr(&f, "entryDate", "Only draft bills can change entryDate.");
		else if (has(&f, "entryDate") && draft)
			get_date(&f, "entryDate", &entry, false);
	}
	else
	{
		get_ref(&f, "contactId", RK_CONTACT, &contact, true);
		get_date(&f, "entryDate", &entry, true);
		if (get_str(&f, "type", &type_s, false) && type_s)
		{
			if (strcmp(type_s, "creditNote") == 0)
				type = DOC_CREDIT_NOTE;
			else if (strcmp(type_s, "bill") != 0)
				ferr(&f, "type", "type must be bill or creditNote.");
		}
	}
	if (get_str(&f, "currencyId", &cur_s, false) && cur_s && (cur = cur_by_code(cur_s)) < 0)
		ferr(&f, "currencyId", "Unknown currency.");
	if (get_scaled(&f, "exchangeRate", RATE_SCALE, &rate, false) && rate <= 0)
		ferr(&f, "exchangeRate", "exchangeRate must be positive.");
	get_enum(&f, "taxMode", tax_modes, 2, &tax_mode);
	have_due = get_date(&f, "dueDate", &due, false);
	have_sup = get_str(&f, "suppliersInvoiceNo", &sup_no, false);
	have_voucher = get_str(&f, "voucherNo", &voucher, false);
	if (get_ref(&f, "creditedBillId", RK_BILL, &credited, false) && credited >= 0 && type != DOC_CREDIT_NOTE)
		ferr(&f, "creditedBillId", "Only credit notes can credit a bill.");
	get_enum(&f, "state", doc_states, 3, &state);
	if (b < 0 && state == ST_VOIDED)
		ferr(&f, "state", "A new bill must be draft or approved.");
	if (b >= 0 && state != cur_bill->state)
	{
		if (!(cur_bill->state == ST_DRAFT && state == ST_APPROVED) &&
			!(cur_bill->state == ST_APPROVED && state == ST_VOIDED))
			ferr(&f, "state", "That state change is not allowed.");
		else if (state == ST_VOIDED && doc_has_live_modifiers(o, RK_BILL, b))
			ferr(&f, "state", "The bill has payments; void those first.");
	}
	if (b < 0 || has(&f, "lines"))
		lines = parse_bill_lines(&f, &nlines);
	if (!draft && (lines || cur != cur_bill->currency || tax_mode != cur_bill->tax_mode ||
				   rate != cur_bill->rate6 || (have_due && due != cur_bill->due_date)))
		ferr(&f, "state", "Only draft bills can change lines, amounts or terms.");
	if (v.n)
	{
		resp_validation(w->rs, &v);
		free(lines);
		return;
	}

	now = clock_tick();
	if (b < 0)
	{
		Bill	   *bl;

		b = rec_new(o, RK_BILL);
		bl = BILL(o, b);
		bl->type = (uint8_t) type;
		bl->state = ST_DRAFT;
		bl->contact = contact;
		bl->credited = credited;
		bl->entry_date = entry;
		bl->created = now;
		bl->approved = TIME_NONE;
		bl->bm_head = bl->bm_tail = -1;
		bl->line_start = o->tab[RK_BILL_LINE].n;
		cs_add(&cs, RK_BILL, b, OP_CREATED);
	}
	else
		cs_add(&cs, RK_BILL, b, OP_UPDATED);
	{
		Bill	   *bl = BILL(o, b);
		Contact    *ct = CONTACT(o, bl->contact);

		bl->entry_date = entry;
		bl->currency = (uint8_t) cur;
		bl->rate6 = cur == CUR_DKK ? RATE_SCALE : rate > 0 ? rate : currencies[cur].rate6;
		bl->tax_mode = (uint8_t) tax_mode;
		bl->credited = credited;
		if (have_due && due != DATE_NONE)
			bl->due_date = due;
		else if (cs.v[0].op == OP_CREATED)
			bl->due_date = entry + ct->terms_days;
		if (have_sup)
			bl->suppliers_invoice_no = adup(o, sup_no);
		if (have_voucher)
			bl->voucher_no = voucher && voucher[0] ? adup(o, voucher) : NULL;
	}
	if (lines)
		store_bill_lines(o, b, lines, nlines, &cs);
	else if (draft)
	{
		bill_recalc(o, b);
		for (int32_t k = BILL(o, b)->line_start; k < BILL(o, b)->line_start + BILL(o, b)->line_count; k++)
			cs_add(&cs, RK_BILL_LINE, k, OP_UPDATED);
	}
	touch(o, RK_BILL);
	if (state == ST_APPROVED && BILL(o, b)->state == ST_DRAFT)
		bill_approve(o, b, now, &cs);
	else if (state == ST_VOIDED && BILL(o, b)->state == ST_APPROVED)
		bill_void(o, b, &cs);
	write_respond(w->rs, o, &cs, RK_BILL);
	cs_free(&cs);
	free(lines);
}

/* ------------------------------------------------------------ bank payments */

/*
 * payment_write_create validates and records a bank payment.  The
 * associations' subjects must be approved invoices/bills with an open
 * balance, all in one currency; the cash side must fit them (deposits pay
 * invoices, withdrawals pay bills and refund credit notes); the payment
 * may not exceed what is open.  cashExchangeRate defaults to 1 when cash
 * and subjects share a currency, else to the subjects' own exchange rate
 * when the cash account is in DKK.
 */
static void
payment_write_create(WriteCtx *w)
{
	Org		   *o = w->o;
	json_t	   *obj = root_object(w, "bankPayment");
	VErr		v = {0};
	Fields		f;
	PaymentSpec ps;
	int			side = -1;
	const char *s = NULL;
	json_t	   *assoc;
	int64_t		open = 0;
	int			subj_cur = -1;
	int64_t		doc_rate = RATE_SCALE;
	ChangeSet	cs = {0};
	Time		now;

	if (obj == NULL)
		return;
	memset(&ps, 0, sizeof(ps));
	ps.contact = -1;
	ps.cash_account = -1;
	ps.fee_account = -1;
	fields_init(&f, o, &v, obj, "bankPayment", NULL, NULL);
	check_org_id(&f);
	get_ref(&f, "contactId", RK_CONTACT, &ps.contact, false);
	get_date(&f, "entryDate", &ps.entry, true);
	if (get_scaled(&f, "cashAmount", 100, &ps.cash_amount, true) && ps.cash_amount <= 0)
		ferr(&f, "cashAmount", "cashAmount must be positive.");
	if (!has(&f, "cashSide"))
		ferr(&f, "cashSide", "cashSide is required.");
	else if (get_enum(&f, "cashSide", cash_sides, 2, &side))
		ps.side = side;
	if (get_ref(&f, "cashAccountId", RK_ACCOUNT, &ps.cash_account, true) && ps.cash_account >= 0 &&
		!ACCOUNT(o, ps.cash_account)->payment_enabled)
		ferr(&f, "cashAccountId", "The account is not enabled for payments.");
	if (get_scaled(&f, "feeAmount", 100, &ps.fee, false) && ps.fee < 0)
		ferr(&f, "feeAmount", "feeAmount must not be negative.");
	get_ref(&f, "feeAccountId", RK_ACCOUNT, &ps.fee_account, false);
	if (ps.fee > 0 && ps.fee_account < 0)
		ps.fee_account = o->acc_fee;

	assoc = json_object_get(obj, "associations");
	if (!json_is_array(assoc) || json_array_size(assoc) == 0)
		ferr(&f, "associations", "A bank payment needs at least one association.");
	else if (json_array_size(assoc) > lengthof(ps.subj))
		ferr(&f, "associations", "Too many associations (at most 16).");
	else
		for (size_t i = 0; i < json_array_size(assoc); i++)
		{
			json_t	   *a = json_array_get(assoc, i);
			json_t	   *ref = json_is_object(a) ? json_object_get(a, "subjectReference") : NULL;
			const char *r = json_is_string(ref) ? json_string_value(ref) : "";
			char		attr[64];
			RK			kind;
			int32_t		idx = -1;

			snprintf(attr, sizeof(attr), "associations.%zu.subjectReference", i);
			if (strncmp(r, "invoice:", 8) == 0)
			{
				kind = RK_INVOICE;
				idx = id_find(o, kind, r + 8);
			}
			else if (strncmp(r, "bill:", 5) == 0)
			{
				kind = RK_BILL;
				idx = id_find(o, kind, r + 5);
			}
			else
			{
				ferr(&f, attr, "subjectReference must be invoice:<id> or bill:<id>.");
				continue;
			}
			if (idx < 0)
			{
				ferr(&f, attr, "The subject does not exist.");
				continue;
			}
			if ((kind == RK_INVOICE ? INVOICE(o, idx)->state : BILL(o, idx)->state) != ST_APPROVED)
			{
				ferr(&f, attr, "Only approved invoices and bills can be paid.");
				continue;
			}
			if (doc_balance(o, kind, idx) <= 0)
			{
				ferr(&f, attr, "The subject has no open balance.");
				continue;
			}
			for (int k = 0; k < ps.n; k++)
				if (ps.subj[k].kind == kind && ps.subj[k].idx == idx)
					ferr(&f, attr, "The same subject is listed twice.");
			if (subj_cur >= 0 && doc_currency(o, kind, idx) != subj_cur)
				ferr(&f, attr, "All associations must be in the same currency.");
			if (side >= 0 && doc_expected_side(o, kind, idx) != side)
				ferr(&f, "cashSide", side == SIDE_DEBIT
					 ? "A deposit (debit) pays invoices; use credit for bills and credit notes."
					 : "A withdrawal (credit) pays bills and credit notes; use debit for invoices.");
			subj_cur = doc_currency(o, kind, idx);
			doc_rate = kind == RK_INVOICE ? INVOICE(o, idx)->rate6 : BILL(o, idx)->rate6;
			open += doc_balance(o, kind, idx);
			ps.subj[ps.n].kind = kind;
			ps.subj[ps.n].idx = idx;
			ps.n++;
		}
	if (get_str(&f, "subjectCurrencyId", &s, false) && s && subj_cur >= 0 && cur_by_code(s) != subj_cur)
		ferr(&f, "subjectCurrencyId", "subjectCurrencyId does not match the associations.");
	if (v.n == 0)
	{
		int			cash_cur = ACCOUNT(o, ps.cash_account)->currency;

		if (cash_cur == CUR_NONE)
			cash_cur = CUR_DKK;
		if (!get_scaled(&f, "cashExchangeRate", RATE_SCALE, &ps.cash_rate6, false))
		{
			if (cash_cur == subj_cur)
				ps.cash_rate6 = RATE_SCALE;
			else if (cash_cur == CUR_DKK)
				ps.cash_rate6 = doc_rate;
			else
				ferr(&f, "cashExchangeRate", "cashExchangeRate is required when currencies differ.");
		}
		else if (ps.cash_rate6 <= 0)
			ferr(&f, "cashExchangeRate", "cashExchangeRate must be positive.");
	}
	if (v.n == 0)
	{
		int64_t		amt = payment_subject_amount(&ps);

		ps.subject_currency = subj_cur;
		if (amt <= 0)
			ferr(&f, "cashAmount", "The payment amounts to nothing after fees.");
		else if (amt > open + (ps.cash_rate6 != RATE_SCALE ? 1 : 0))
			ferr(&f, "cashAmount", "The payment exceeds the open balance of its subjects.");
	}
	if (v.n)
	{
		resp_validation(w->rs, &v);
		return;
	}
	now = clock_tick();
	payment_create(o, &ps, now, &cs);
	write_respond(w->rs, o, &cs, RK_BANK_PAYMENT);
	cs_free(&cs);
}

/* payment_write_update: the only change a bank payment takes is isVoided true */
static void
payment_write_update(WriteCtx *w, int32_t p)
{
	Org		   *o = w->o;
	json_t	   *obj = root_object(w, "bankPayment");
	VErr		v = {0};
	Fields		f;
	bool		voided = PAYMENT(o, p)->voided;
	const char *s = NULL;
	ChangeSet	cs = {0};

	if (obj == NULL)
		return;
	fields_init(&f, o, &v, obj, "bankPayment", NULL, NULL);
	check_org_id(&f);
	if (get_str(&f, "id", &s, false) && s && strcmp(s, PAYMENT(o, p)->h.id) != 0)
		ferr(&f, "id", "id does not match the URL.");
	get_bool(&f, "isVoided", &voided);
	if (!voided && PAYMENT(o, p)->voided)
		ferr(&f, "isVoided", "A voided bank payment cannot be restored.");
	if (v.n)
	{
		resp_validation(w->rs, &v);
		return;
	}
	clock_tick();
	if (voided && !PAYMENT(o, p)->voided)
		payment_void(o, p, &cs);
	else
		cs_add(&cs, RK_BANK_PAYMENT, p, OP_UPDATED);
	write_respond(w->rs, o, &cs, RK_BANK_PAYMENT);
	cs_free(&cs);
}

/* ------------------------------------------------------------ dispatch */

/* write_create dispatches POST on a collection */
void
write_create(WriteCtx *w)
{
	pthread_rwlock_wrlock(&w->o->lock);
	switch (w->rk)
	{
		case RK_INVOICE:
			invoice_create(w);
			break;
		case RK_CONTACT:
			contact_write(w, -1);
			break;
		case RK_PRODUCT:
			product_write(w, -1);
			break;
		case RK_BILL:
			bill_write(w, -1);
			break;
		case RK_BANK_PAYMENT:
			payment_write_create(w);
			break;
		case RK_DAYBOOK_TXN:
		case RK_BANK_LINE:
		case RK_BANK_MATCH:
		case RK_ATTACHMENT:
			books_write_create(w);
			break;
		default:
			resp_error(w->rs, 405, "METHOD_NOT_ALLOWED", "The method is not allowed for this resource.");
	}
	pthread_rwlock_unlock(&w->o->lock);
}

/* write_update dispatches PUT on a record */
void
write_update(WriteCtx *w)
{
	int32_t		i;

	pthread_rwlock_wrlock(&w->o->lock);
	i = id_find(w->o, w->rk, w->id);
	if (i < 0)
		write_not_found(w->rs, w->rk, w->id);
	else
		switch (w->rk)
		{
			case RK_INVOICE:
				invoice_update(w, i);
				break;
			case RK_CONTACT:
				contact_write(w, i);
				break;
			case RK_PRODUCT:
				product_write(w, i);
				break;
			case RK_BILL:
				bill_write(w, i);
				break;
			case RK_BANK_PAYMENT:
				payment_write_update(w, i);
				break;
			case RK_DAYBOOK_TXN:
				books_write_update(w, i);
				break;
			default:
				resp_error(w->rs, 405, "METHOD_NOT_ALLOWED", "The method is not allowed for this resource.");
		}
	pthread_rwlock_unlock(&w->o->lock);
}

/*
 * write_delete deletes draft invoices or bills (with their lines).  An id
 * that does not exist (or is already deleted) answers 200 with nothing
 * deleted: DELETE is idempotent.  A collection DELETE takes ids[]=... and
 * is all-or-nothing.
 */
/*
 * delete_master deletes a contact (with its persons) or a product (with its
 * prices), as Billy does, only when no live record uses it: else a 422 that
 * says what uses it (archive it instead).
 */
static void
delete_master(WriteCtx *w)
{
	Org		   *o = w->o;
	int32_t		i = id_find(o, w->rk, w->id);
	ChangeSet	cs = {0};
	VErr		v = {0};
	int			invoices = 0,
				bills = 0,
				payments = 0,
				lines = 0;
	bool		contact = w->rk == RK_CONTACT;
	int32_t		start,
				count;
	RK			child = contact ? RK_CONTACT_PERSON : RK_PRODUCT_PRICE;

	if (i < 0)
	{
		/* a missing or deleted id: nothing to do (idempotent) */
		resp_json_begin(w->rs, 200);
		buf_printf(&w->rs->body, ",\"deletedRecords\":{\"%s\":[]}}}", res_defs[w->rk].plural);
		w->rs->wrote = true;
		return;
	}
	if (contact)
	{
		for (int32_t k = 0; k < o->tab[RK_INVOICE].n; k++)
			invoices += !INVOICE(o, k)->h.dead && INVOICE(o, k)->contact == i;
		for (int32_t k = 0; k < o->tab[RK_BILL].n; k++)
			bills += !BILL(o, k)->h.dead && BILL(o, k)->contact == i;
		for (int32_t k = 0; k < o->tab[RK_BANK_PAYMENT].n; k++)
			payments += !PAYMENT(o, k)->h.dead && PAYMENT(o, k)->contact == i;
		if (invoices + bills + payments > 0)
			verr_add(&v, "contact", "id", "The contact is in use (%d invoices, %d bills, %d bank payments) and cannot be deleted; archive it instead.",
					 invoices, bills, payments);
	}
	else
	{
		for (int32_t k = 0; k < o->tab[RK_INVOICE_LINE].n; k++)
			lines += !ILINE(o, k)->h.dead && ILINE(o, k)->product == i;
		if (lines > 0)
			verr_add(&v, "product", "id", "The product is in use (%d invoice lines) and cannot be deleted; archive it instead.", lines);
	}
	if (v.n)
	{
		resp_validation(w->rs, &v);
		return;
	}
	start = contact ? CONTACT(o, i)->person_start : PRODUCT(o, i)->price_start;
	count = contact ? CONTACT(o, i)->person_count : PRODUCT(o, i)->price_count;
	rec_kill(o, w->rk, i);
	cs_add(&cs, w->rk, i, OP_DELETED);
	rec_kill_block(o, child, start, count, &cs);
	clock_tick();
	write_respond(w->rs, o, &cs, w->rk);
	w->rs->wrote = true;
	cs_free(&cs);
}

void
write_delete(WriteCtx *w, bool collection)
{
	Org		   *o = w->o;
	const char *ids[256];
	int			nids = 0;
	ChangeSet	cs = {0};
	VErr		v = {0};

	if (collection)
	{
		for (int i = 0; i < w->rq->nargs && nids < lengthof(ids); i++)
			if (strcmp(w->rq->args[i].key, "ids[]") == 0 || strcmp(w->rq->args[i].key, "ids") == 0)
				ids[nids++] = w->rq->args[i].value ? w->rq->args[i].value : "";
		if (nids == 0)
		{
			resp_error(w->rs, 400, "INVALID_DELETE_ID_ARRAY", "A collection DELETE needs ids[] in the query.");
			return;
		}
	}
	else
		ids[nids++] = w->id;

	if (w->rk == RK_CONTACT || w->rk == RK_PRODUCT)
	{
		pthread_rwlock_wrlock(&o->lock);
		delete_master(w);
		pthread_rwlock_unlock(&o->lock);
		return;
	}
	if (w->rk != RK_INVOICE && w->rk != RK_BILL)
	{
		pthread_rwlock_wrlock(&o->lock);
		books_write_delete(w);
		pthread_rwlock_unlock(&o->lock);
		return;
	}
	pthread_rwlock_wrlock(&o->lock);
	for (int k = 0; k < nids; k++)
	{
		int32_t		i = id_find(o, w->rk, ids[k]);
		int			state;

		if (i < 0)
			continue;
		state = w->rk == RK_INVOICE ? INVOICE(o, i)->state : BILL(o, i)->state;
		if (state != ST_DRAFT)
			verr_add(&v, res_defs[w->rk].singular, "state", "Only drafts can be deleted; %s is %s.",
					 ids[k], state == ST_APPROVED ? "approved" : "voided");
	}
	if (v.n)
	{
		resp_validation(w->rs, &v);
		pthread_rwlock_unlock(&o->lock);
		return;
	}
	for (int k = 0; k < nids; k++)
	{
		int32_t		i = id_find(o, w->rk, ids[k]);
		int32_t		ls,
					lc;
		RK			line_rk = w->rk == RK_INVOICE ? RK_INVOICE_LINE : RK_BILL_LINE;

		if (i < 0)
			continue;
		ls = w->rk == RK_INVOICE ? INVOICE(o, i)->line_start : BILL(o, i)->line_start;
		lc = w->rk == RK_INVOICE ? INVOICE(o, i)->line_count : BILL(o, i)->line_count;
		rec_kill(o, w->rk, i);
		cs_add(&cs, w->rk, i, OP_DELETED);
		rec_kill_block(o, line_rk, ls, lc, &cs);
	}
	if (cs.n)
	{
		clock_tick();
		write_respond(w->rs, o, &cs, w->rk);
	}
	else
	{
		/* nothing existed: say so explicitly */
		resp_json_begin(w->rs, 200);
		buf_printf(&w->rs->body, ",\"deletedRecords\":{\"%s\":[]}}}", res_defs[w->rk].plural);
	}
	w->rs->wrote = true;
	cs_free(&cs);
	pthread_rwlock_unlock(&o->lock);
}

/* write_organization: PUT /v2/organizations/:id for the token's own organization */
void
write_organization(WriteCtx *w)
{
	Org		   *o = w->o;
	json_t	   *obj;
	VErr		v = {0};
	Fields		f;
	static const char *const str_fields[] = {"name", "street", "zipcode", "city", "phone", "email", "registrationNo"};
	const char *sv[lengthof(str_fields)];
	bool		sp[lengthof(str_fields)];
	int64_t		days = -1;
	int			tax_mode = -1;

	if (strcmp(w->id, o->id) != 0)
	{
		write_not_found(w->rs, RK_ORGANIZATION, w->id);
		return;
	}
	obj = root_object(w, "organization");
	if (obj == NULL)
		return;
	pthread_rwlock_wrlock(&o->lock);
	fields_init(&f, o, &v, obj, "organization", NULL, NULL);
	for (int i = 0; i < lengthof(str_fields); i++)
	{
		sv[i] = NULL;
		sp[i] = get_str(&f, str_fields[i], &sv[i], false);
	}
	if (sp[0] && (sv[0] == NULL || !sv[0][0]))
		ferr(&f, "name", "name is required.");
	get_int(&f, "paymentTermsDays", 0, 3650, &days);
	get_enum(&f, "defaultTaxMode", tax_modes, 2, &tax_mode);
	if (v.n)
		resp_validation(w->rs, &v);
	else
	{
		const char **dst[] = {&o->name, &o->street, &o->zipcode, &o->city, &o->phone, &o->email,
		&o->registration_no};

		clock_tick();
		for (int i = 0; i < lengthof(str_fields); i++)
			if (sp[i])
				*dst[i] = adup(o, sv[i]);
		if (days >= 0)
			o->terms_days = (int16_t) days;
		if (tax_mode >= 0)
			o->default_tax_mode = (uint8_t) tax_mode;
		o->org_version++;
		resp_json_begin(w->rs, 200);
		buf_lit(&w->rs->body, "},\"organizations\":[");
		render_organization(&w->rs->body, o);
		buf_lit(&w->rs->body, "]}");
		w->rs->wrote = true;
	}
	pthread_rwlock_unlock(&o->lock);
}
