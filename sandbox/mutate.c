/*
 * mutate.c - realistic upstream changes for POST /_sandbox/mutate: the
 * things that happen in a real Billy organization between two syncs
 * (payments arrive, drafts are approved or deleted, invoices are voided,
 * sent and viewed, contacts and products are edited, new documents
 * appear).  Each change takes the org lock exclusively and is atomic;
 * requests keep being served between changes.  Every record a change
 * creates, updates or deletes is reported.
 */
#include "mutate.h"

#include <stdio.h>
#include <string.h>

#include "gen.h"
#include "ledger.h"

typedef bool (*MutateFn) (Org *o, Rng *r, Time now, ChangeSet *cs);

/* pick_rec finds a random record satisfying pred: random probes, then a scan */
static int32_t
pick_rec(Org *o, Rng *r, RK rk, bool (*pred) (Org *, int32_t))
{
	int32_t		n = o->tab[rk].n;
	int32_t		start;

	if (n == 0)
		return -1;
	for (int i = 0; i < 48; i++)
	{
		int32_t		k = (int32_t) rng_below(r, (uint64_t) n);

		if (!rec_head(&o->tab[rk], k)->dead && pred(o, k))
			return k;
	}
	start = (int32_t) rng_below(r, (uint64_t) n);
	for (int32_t i = 0; i < n; i++)
	{
		int32_t		k = (start + i) % n;

		if (!rec_head(&o->tab[rk], k)->dead && pred(o, k))
			return k;
	}
	return -1;
}

/* p_unpaid_invoice: an approved invoice with an open balance */
static bool
p_unpaid_invoice(Org *o, int32_t i)
{
	Invoice    *v = INVOICE(o, i);

	return v->type == DOC_INVOICE && v->state == ST_APPROVED && v->balance > 0;
}

/* p_part_payable: an unpaid invoice large enough to pay in part */
static bool
p_part_payable(Org *o, int32_t i)
{
	return p_unpaid_invoice(o, i) && INVOICE(o, i)->balance >= 400;
}

/* p_unpaid_bill: an approved bill with an open balance */
static bool
p_unpaid_bill(Org *o, int32_t i)
{
	Bill	   *b = BILL(o, i);

	return b->type == DOC_INVOICE && b->state == ST_APPROVED && b->balance > 0;
}

/* p_draft_invoice: a draft invoice */
static bool
p_draft_invoice(Org *o, int32_t i)
{
	return INVOICE(o, i)->state == ST_DRAFT;
}

/* p_voidable: an approved invoice without live payments or credits */
static bool
p_voidable(Org *o, int32_t i)
{
	Invoice    *v = INVOICE(o, i);

	return v->state == ST_APPROVED && !doc_has_live_modifiers(o, RK_INVOICE, i);
}

/* p_sendable: an approved invoice not yet viewed */
static bool
p_sendable(Org *o, int32_t i)
{
	Invoice    *v = INVOICE(o, i);

	return v->state == ST_APPROVED && v->sent_state != SENT_VIEWED;
}

/* p_contact: any live contact */
static bool
p_contact(Org *o, int32_t i)
{
	(void) o;
	(void) i;
	return true;
}

/* p_product: any live product */
static bool
p_product(Org *o, int32_t i)
{
	(void) o;
	(void) i;
	return true;
}

/* p_live_payment: a bank payment not voided */
static bool
p_live_payment(Org *o, int32_t i)
{
	return !PAYMENT(o, i)->voided;
}

/* pay_doc pays 'amount' (subject currency) of one invoice or bill */
static void
pay_doc(Org *o, RK kind, int32_t idx, int64_t amount, Time now, ChangeSet *cs)
{
	PaymentSpec ps;
	int			cur = doc_currency(o, kind, idx);
	int64_t		doc_rate = kind == RK_INVOICE ? INVOICE(o, idx)->rate6 : BILL(o, idx)->rate6;
	Date		entry = kind == RK_INVOICE ? INVOICE(o, idx)->entry_date : BILL(o, idx)->entry_date;

	memset(&ps, 0, sizeof(ps));
	ps.contact = -1;
	ps.entry = Max(date_of_time(now), entry);
	ps.side = doc_expected_side(o, kind, idx);
	ps.subject_currency = cur;
	ps.cash_account = cash_account_for(o, cur);
	ps.cash_rate6 = cash_rate_for(o, ps.cash_account, cur, doc_rate);
	ps.fee_account = -1;
	ps.cash_amount = round_div(amount * ps.cash_rate6, RATE_SCALE);
	ps.n = 1;
	ps.subj[0].kind = kind;
	ps.subj[0].idx = idx;
	payment_create(o, &ps, now, cs);
}

/* m_pay pays an unpaid invoice in full */
static bool
m_pay(Org *o, Rng *r, Time now, ChangeSet *cs)
{
	int32_t		i = pick_rec(o, r, RK_INVOICE, p_unpaid_invoice);

	if (i < 0)
		return false;
	pay_doc(o, RK_INVOICE, i, INVOICE(o, i)->balance, now, cs);
	return true;
}

/* m_partly_pay pays 30-70% of an unpaid invoice */
static bool
m_partly_pay(Org *o, Rng *r, Time now, ChangeSet *cs)
{
	int32_t		i = pick_rec(o, r, RK_INVOICE, p_part_payable);
	int64_t		bal,
				part;

	if (i < 0)
		return false;
	bal = INVOICE(o, i)->balance;
	part = round_div(bal * (30 + (int64_t) rng_below(r, 41)), 100);
	part = Max(100, Min(part, bal - 100));
	pay_doc(o, RK_INVOICE, i, part, now, cs);
	return true;
}

/* m_pay_bill pays an unpaid bill in full */
static bool
m_pay_bill(Org *o, Rng *r, Time now, ChangeSet *cs)
{
	int32_t		i = pick_rec(o, r, RK_BILL, p_unpaid_bill);

	if (i < 0)
		return false;
	pay_doc(o, RK_BILL, i, BILL(o, i)->balance, now, cs);
	return true;
}

/* m_approve_draft approves a draft invoice */
static bool
m_approve_draft(Org *o, Rng *r, Time now, ChangeSet *cs)
{
	int32_t		i = pick_rec(o, r, RK_INVOICE, p_draft_invoice);

	if (i < 0)
		return false;
	invoice_approve(o, i, now, cs);
	return true;
}

/* m_delete_draft deletes a draft invoice and its lines */
static bool
m_delete_draft(Org *o, Rng *r, Time now, ChangeSet *cs)
{
	int32_t		i = pick_rec(o, r, RK_INVOICE, p_draft_invoice);
	Invoice    *v;

	(void) now;
	if (i < 0)
		return false;
	v = INVOICE(o, i);
	rec_kill(o, RK_INVOICE, i);
	cs_add(cs, RK_INVOICE, i, OP_DELETED);
	rec_kill_block(o, RK_INVOICE_LINE, v->line_start, v->line_count, cs);
	return true;
}

/* m_void voids an approved invoice without payments */
static bool
m_void(Org *o, Rng *r, Time now, ChangeSet *cs)
{
	int32_t		i = pick_rec(o, r, RK_INVOICE, p_voidable);

	(void) now;
	if (i < 0)
		return false;
	invoice_void(o, i, cs);
	return true;
}

/* m_send moves sentState one step (unsent -> sent -> opened -> viewed) */
static bool
m_send(Org *o, Rng *r, Time now, ChangeSet *cs)
{
	int32_t		i = pick_rec(o, r, RK_INVOICE, p_sendable);
	Invoice    *v;

	(void) now;
	if (i < 0)
		return false;
	v = INVOICE(o, i);
	v->sent_state = v->sent_state <= SENT_PRINTED ? SENT_SENT : v->sent_state + 1;
	touch(o, RK_INVOICE);
	cs_add(cs, RK_INVOICE, i, OP_UPDATED);
	return true;
}

/* m_new_invoice adds an invoice dated today (70% approved) */
static bool
m_new_invoice(Org *o, Rng *r, Time now, ChangeSet *cs)
{
	return gen_mut_invoice(o, r, now, rng_chance(r, 0.7), cs) >= 0;
}

/* m_new_bill adds an approved bill dated today */
static bool
m_new_bill(Org *o, Rng *r, Time now, ChangeSet *cs)
{
	return gen_mut_bill(o, r, now, cs) >= 0;
}

/* m_new_contact adds a customer */
static bool
m_new_contact(Org *o, Rng *r, Time now, ChangeSet *cs)
{
	return gen_mut_contact(o, r, now, cs) >= 0;
}

/*
 * m_credit_note credits one unit of the first line of an unpaid invoice
 * with an approved credit note, which then reduces the invoice's balance.
 */
static bool
m_credit_note(Org *o, Rng *r, Time now, ChangeSet *cs)
{
	int32_t		i = pick_rec(o, r, RK_INVOICE, p_unpaid_invoice);
	int32_t		cn,
				ln;
	Invoice    *src,
			   *v;
	InvoiceLine *sl;

	if (i < 0 || INVOICE(o, i)->line_count == 0)
		return false;
	cn = rec_new(o, RK_INVOICE);
	src = INVOICE(o, i);
	v = INVOICE(o, cn);
	v->type = DOC_CREDIT_NOTE;
	v->state = ST_DRAFT;
	v->contact = src->contact;
	v->att_person = src->att_person;
	v->credited = i;
	v->currency = src->currency;
	v->rate6 = src->rate6;
	v->tax_mode = src->tax_mode;
	v->terms_mode = TERMS_NET;
	v->terms_days = src->terms_days;
	v->entry_date = Max(date_of_time(now), src->entry_date);
	v->due_date = v->entry_date + v->terms_days;
	v->created = now;
	v->approved = TIME_NONE;
	v->bm_head = v->bm_tail = -1;
	v->line_start = o->tab[RK_INVOICE_LINE].n;
	v->line_count = 1;
	v->contact_message = arena_printf(&o->arena, "Kreditnota vedrørende faktura nr. %s",
									  src->invoice_no ? src->invoice_no : "");
	ln = rec_new(o, RK_INVOICE_LINE);
	sl = ILINE(o, INVOICE(o, i)->line_start);
	*ILINE(o, ln) = (InvoiceLine)
	{
		.h = ILINE(o, ln)->h,.invoice = cn,.product = sl->product,.tax_rate = sl->tax_rate,
			.description = sl->description,.quantity = Min(sl->quantity, QTY_SCALE),
			.unit_price = sl->unit_price
	};
	invoice_recalc(o, cn);
	touch(o, RK_INVOICE);
	cs_add(cs, RK_INVOICE, cn, OP_CREATED);
	cs_add(cs, RK_INVOICE_LINE, ln, OP_CREATED);
	invoice_approve(o, cn, now, cs);
	return true;
}

/* m_edit_contact: a new phone number, a move, an archive toggle or a new contact person */
static bool
m_edit_contact(Org *o, Rng *r, Time now, ChangeSet *cs)
{
	int32_t		c = pick_rec(o, r, RK_CONTACT, p_contact);
	Contact    *ct;
	int			what = (int) rng_below(r, 4);

	(void) now;
	if (c < 0)
		return false;
	ct = CONTACT(o, c);
	if (what == 0)
		ct->phone = arena_printf(&o->arena, "+45 %02d %02d %02d %02d", (int) rng_range(r, 20, 99),
								 (int) rng_below(r, 100), (int) rng_below(r, 100), (int) rng_below(r, 100));
	else if (what == 1)
		ct->street = arena_printf(&o->arena, "Nyvej %d", (int) rng_range(r, 1, 200));
	else if (what == 2)
		ct->archived = !ct->archived;
	else
	{
		/* replace the persons: the old ones plus a new one */
		int32_t		os = ct->person_start,
					oc = ct->person_count;
		int32_t		ns = o->tab[RK_CONTACT_PERSON].n;
		int			n = 0;

		for (int32_t k = os; k < os + oc; k++)
		{
			ContactPerson old;
			int32_t		p;

			if (PERSON(o, k)->h.dead)
				continue;
			old = *PERSON(o, k);
			rec_kill(o, RK_CONTACT_PERSON, k);
			cs_add(cs, RK_CONTACT_PERSON, k, OP_DELETED);
			p = rec_new(o, RK_CONTACT_PERSON);
			old.h = PERSON(o, p)->h;
			*PERSON(o, p) = old;
			cs_add(cs, RK_CONTACT_PERSON, p, OP_CREATED);
			n++;
		}
		{
			int32_t		p = rec_new(o, RK_CONTACT_PERSON);
			ContactPerson *cp = PERSON(o, p);

			cp->contact = c;
			cp->primary = n == 0;
			cp->name = "Bogholderiet";
			cp->email = arena_printf(&o->arena, "bogholderi%d@example.dk", (int) rng_below(r, 1000));
			cs_add(cs, RK_CONTACT_PERSON, p, OP_CREATED);
			n++;
		}
		ct = CONTACT(o, c);
		ct->person_start = ns;
		ct->person_count = n;
	}
	touch(o, RK_CONTACT);
	cs_add(cs, RK_CONTACT, c, OP_UPDATED);
	return true;
}

/* m_edit_product: a price change (all prices up 5%) or a new description */
static bool
m_edit_product(Org *o, Rng *r, Time now, ChangeSet *cs)
{
	int32_t		p = pick_rec(o, r, RK_PRODUCT, p_product);
	Product    *pr;

	(void) now;
	if (p < 0)
		return false;
	pr = PRODUCT(o, p);
	if (rng_chance(r, 0.7) && pr->price_count > 0)
	{
		int32_t		os = pr->price_start,
					oc = pr->price_count,
					ns = o->tab[RK_PRODUCT_PRICE].n;
		int			n = 0;

		for (int32_t k = os; k < os + oc; k++)
		{
			ProductPrice old;
			int32_t		np;

			if (PRICE(o, k)->h.dead)
				continue;
			old = *PRICE(o, k);
			rec_kill(o, RK_PRODUCT_PRICE, k);
			cs_add(cs, RK_PRODUCT_PRICE, k, OP_DELETED);
			np = rec_new(o, RK_PRODUCT_PRICE);
			old.h = PRICE(o, np)->h;
			old.unit_price = round_div(old.unit_price * 105, 10000) * 100;
			*PRICE(o, np) = old;
			cs_add(cs, RK_PRODUCT_PRICE, np, OP_CREATED);
			n++;
		}
		pr = PRODUCT(o, p);
		pr->price_start = ns;
		pr->price_count = n;
	}
	else
		pr->description = arena_printf(&o->arena, "%s (opdateret)", pr->name);
	touch(o, RK_PRODUCT);
	cs_add(cs, RK_PRODUCT, p, OP_UPDATED);
	return true;
}

/* m_void_payment voids a bank payment, restoring balances */
static bool
m_void_payment(Org *o, Rng *r, Time now, ChangeSet *cs)
{
	int32_t		p = pick_rec(o, r, RK_BANK_PAYMENT, p_live_payment);

	(void) now;
	if (p < 0)
		return false;
	payment_void(o, p, cs);
	return true;
}

typedef struct MutDef
{
	const char *name;
	MutateFn	fn;
	int			weight;
} MutDef;

static const MutDef mut_defs[] = {
	{"pay", m_pay, 20},
	{"partlyPay", m_partly_pay, 6},
	{"payBill", m_pay_bill, 8},
	{"editContact", m_edit_contact, 8},
	{"newContact", m_new_contact, 4},
	{"editProduct", m_edit_product, 5},
	{"newInvoice", m_new_invoice, 15},
	{"approveDraft", m_approve_draft, 6},
	{"deleteDraft", m_delete_draft, 4},
	{"void", m_void, 3},
	{"creditNote", m_credit_note, 3},
	{"send", m_send, 10},
	{"newBill", m_new_bill, 8},
	{"voidPayment", m_void_payment, 2},
};

/* mutate_kind_names lists the kinds for error messages */
const char *
mutate_kind_names(void)
{
	return "pay, partlyPay, payBill, editContact, newContact, editProduct, newInvoice, "
		"approveDraft, deleteDraft, void, creditNote, send, newBill, voidPayment";
}

/* mutate_kind_by_name: the index of a kind, or -1 */
int
mutate_kind_by_name(const char *name)
{
	for (int i = 0; i < lengthof(mut_defs); i++)
		if (strcmp(mut_defs[i].name, name) == 0)
			return i;
	return -1;
}

/*
 * mutate_run applies up to n changes of the kinds in mask (bit per kind)
 * to org o.  A kind that finds nothing to change (no drafts left...) is
 * retried with another kind; the count of changes made is returned and
 * every touched record is in cs with its change's kind name.
 */
int
mutate_run(Org *o, int n, Rng *r, uint32_t mask, ChangeSet *cs)
{
	int			done = 0;
	int			weights[lengthof(mut_defs)];

	for (int k = 0; k < lengthof(mut_defs); k++)
		weights[k] = (mask >> k) & 1 ? mut_defs[k].weight : 0;
	for (int i = 0; i < n; i++)
	{
		bool		ok = false;
		int			w[lengthof(mut_defs)];

		Time		now;

		memcpy(w, weights, sizeof(w));
		pthread_rwlock_wrlock(&o->lock);
		now = clock_tick();
		for (int tries = 0; tries < lengthof(mut_defs) && !ok; tries++)
		{
			int			k = rng_weighted(r, w, lengthof(mut_defs));
			int			before = cs->n;

			if (w[k] == 0)
				break;
			cs->mark = cs->n;
			ok = mut_defs[k].fn(o, r, now, cs);
			for (int j = before; j < cs->n; j++)
				cs->v[j].kind = mut_defs[k].name;
			if (ok && cs->org_changed)
			{
				/* nextInvoiceNo moved: report the organization record too */
				cs_add(cs, RK_ORGANIZATION, 0, OP_UPDATED);
				cs->v[cs->n - 1].kind = mut_defs[k].name;
				cs->org_changed = false;
			}
			w[k] = 0;
		}
		cs->mark = cs->n;
		pthread_rwlock_unlock(&o->lock);
		if (!ok)
			break;
		done++;
	}
	return done;
}
