/*
 * books.c - the general ledger behind the documents (README "The books").
 *
 * Every approved invoice, bill, bank payment, credit note settlement and
 * daybook transaction books one transaction of balanced postings in øre of
 * the base currency (DKK).  Foreign documents convert at their own
 * exchange rate, bank amounts in a foreign account at the day's rate; what
 * rounding and rate changes leave goes to realized currency differences.
 * Receivables and payables follow the documents' balances exactly: a
 * document's share of its control account is always
 *   sign x round(balance x exchangeRate)
 * (invoices +, invoice credit notes -, bills -, bill credit notes +), and
 * every balance change books the change of that share.  Voiding marks the
 * transaction isVoided and books its mirror image (isVoid) on the same date.
 *
 * The books draw ids and choices from their own generator stream, so they
 * change nothing else an organization's seed produces.  During generation
 * the hooks are off; books_generate then books the generated history in
 * time order and makes the bank statement and the receipts.
 */
#include "books.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"
#include "json.h"
#include "ledger.h"

/* ------------------------------------------------------------ entries */

typedef struct Entry
{
	int32_t		account;
	int32_t		prio;			/* the posting's priority; -1: in order */
	int64_t		amt;			/* debit positive */
} Entry;

typedef struct Entries
{
	Entry	   *v;
	int			n;
	int			cap;
} Entries;

/*
 * ent_add_p adds an amount to an account's entry of a priority (one entry
 * per account and priority)
 */
static void
ent_add_p(Entries *e, int32_t account, int64_t amt, int32_t prio)
{
	if (account < 0)
		return;
	for (int i = 0; i < e->n; i++)
		if (e->v[i].account == account && e->v[i].prio == prio)
		{
			e->v[i].amt += amt;
			return;
		}
	if (amt == 0)
		return;
	if (e->n == e->cap)
	{
		e->cap = e->cap ? e->cap * 2 : 16;
		e->v = xrealloc(e->v, sizeof(Entry) * (size_t) e->cap);
	}
	e->v[e->n].account = account;
	e->v[e->n].prio = prio;
	e->v[e->n].amt = amt;
	e->n++;
}

/* ent_add adds an amount to an account's entry (one entry per account) */
static void
ent_add(Entries *e, int32_t account, int64_t amt)
{
	ent_add_p(e, account, amt, -1);
}

/* ent_sum: debits minus credits */
static int64_t
ent_sum(const Entries *e)
{
	int64_t		s = 0;

	for (int i = 0; i < e->n; i++)
		s += e->v[i].amt;
	return s;
}

/* dkk converts an amount in a currency with rate6 DKK per unit, half away from zero */
static int64_t
dkk(int64_t x, int64_t rate6)
{
	if (rate6 == RATE_SCALE)
		return x;
	return (int64_t) round_div128((__int128) x * rate6, RATE_SCALE);
}

/* ent_to_dkk converts every entry; what rounding leaves goes to the plug account */
static void
ent_to_dkk(Entries *e, int64_t rate6, int32_t plug)
{
	for (int i = 0; i < e->n; i++)
		e->v[i].amt = dkk(e->v[i].amt, rate6);
	ent_add(e, plug, -ent_sum(e));
}

/* ------------------------------------------------------------ transactions */

/*
 * txn_book records a transaction with one posting per non-zero entry;
 * returns -1 (and books nothing) when every entry is zero.
 */
static int32_t
txn_book(Org *o, const Entries *e, RK okind, int32_t oidx, Date entry, Time created,
		 const char *voucher, const char *name, bool is_void, ChangeSet *cs)
{
	int			nz = 0;
	int32_t		t;
	Transaction *tx;
	int32_t		prio = 0;

	for (int i = 0; i < e->n; i++)
		nz += e->v[i].amt != 0;
	if (nz == 0)
		return -1;
	if (ent_sum(e) != 0)
		die("books: unbalanced transaction for %s (%lld)", name, (long long) ent_sum(e));
	t = rec_new_from(o, RK_TRANSACTION, &o->books_rng);
	tx = TXN(o, t);
	tx->orig_kind = (uint8_t) okind;
	tx->orig_idx = oidx;
	tx->no = ++o->next_txn_no;
	tx->entry_date = entry;
	tx->created = created;
	tx->voucher_no = voucher;
	tx->orig_name = name;
	tx->is_void = is_void;
	tx->posting_start = o->tab[RK_POSTING].n;
	tx->posting_count = nz;
	if (cs)
		cs_add(cs, RK_TRANSACTION, t, OP_CREATED);
	for (int i = 0; i < e->n; i++)
	{
		int32_t		p;
		Posting    *ps;

		if (e->v[i].amt == 0)
			continue;
		p = rec_new_from(o, RK_POSTING, &o->books_rng);
		ps = POSTING(o, p);
		ps->txn = t;
		ps->account = e->v[i].account;
		ps->entry_date = entry;
		ps->amount = e->v[i].amt > 0 ? e->v[i].amt : -e->v[i].amt;
		ps->side = e->v[i].amt > 0 ? SIDE_DEBIT : SIDE_CREDIT;
		ps->priority = e->v[i].prio >= 0 ? e->v[i].prio : prio++;
		ps->voided = is_void;
		ps->text = name;
		if (cs)
			cs_add(cs, RK_POSTING, p, OP_CREATED);
	}
	return t;
}

/* txn_slot: where an originator keeps its live booking transaction (+ 1) */
static int32_t *
txn_slot(Org *o, RK kind, int32_t idx)
{
	switch (kind)
	{
		case RK_INVOICE:
			return &INVOICE(o, idx)->txn1;
		case RK_BILL:
			return &BILL(o, idx)->txn1;
		case RK_BANK_PAYMENT:
			return &PAYMENT(o, idx)->txn1;
		default:
			return NULL;
	}
}

/* txn_find: the live, unvoided transaction that booked an originator; -1 */
static int32_t
txn_find(Org *o, RK kind, int32_t idx)
{
	int32_t    *slot;
	int32_t		t;

	if (kind == RK_DAYBOOK_TXN)
		t = DBTXN(o, idx)->txn;
	else
		t = (slot = txn_slot(o, kind, idx)) ? *slot - 1 : -1;
	return t >= 0 && !TXN(o, t)->voided ? t : -1;
}

/* txn_void marks a transaction voided and books its mirror image */
static void
txn_void(Org *o, int32_t t, Time now, ChangeSet *cs)
{
	Transaction *tx = TXN(o, t);
	Entries		e = {0};
	const char *name;

	tx->voided = true;
	touch(o, RK_TRANSACTION);
	touch(o, RK_POSTING);
	if (cs)
		cs_add(cs, RK_TRANSACTION, t, OP_UPDATED);
	for (int32_t p = tx->posting_start; p < tx->posting_start + tx->posting_count; p++)
	{
		Posting    *ps = POSTING(o, p);

		ps->voided = true;
		/* same-account postings are merged by ent_add; keep them apart */
		if (e.n == e.cap)
		{
			e.cap = e.cap ? e.cap * 2 : 16;
			e.v = xrealloc(e.v, sizeof(Entry) * (size_t) e.cap);
		}
		e.v[e.n].account = ps->account;
		e.v[e.n].prio = -1;
		e.v[e.n].amt = ps->side == SIDE_DEBIT ? -ps->amount : ps->amount;
		e.n++;
		if (cs)
			cs_add(cs, RK_POSTING, p, OP_UPDATED);
	}
	name = arena_printf(&o->arena, "Void of %s", tx->orig_name ? tx->orig_name : "transaction");
	tx = TXN(o, t);
	txn_book(o, &e, (RK) tx->orig_kind, tx->orig_idx, tx->entry_date, now, tx->voucher_no, name, true, cs);
	free(e.v);
}

/* ------------------------------------------------------------ documents */

/* doc_sign: the sign of a document's share of its control account */
static int64_t
doc_sign(Org *o, RK kind, int32_t idx)
{
	if (kind == RK_INVOICE)
		return INVOICE(o, idx)->type == DOC_INVOICE ? 1 : -1;
	return BILL(o, idx)->type == DOC_INVOICE ? -1 : 1;
}

/* doc_rate: a document's exchange rate */
static int64_t
doc_rate(Org *o, RK kind, int32_t idx)
{
	return kind == RK_INVOICE ? INVOICE(o, idx)->rate6 : BILL(o, idx)->rate6;
}

/* control_account: receivables for invoices, payables for bills */
static int32_t
control_account(Org *o, RK kind)
{
	return kind == RK_INVOICE ? o->acc_ar : o->acc_ap;
}

/* share: a document's share of its control account at a balance, DKK */
static int64_t
share(Org *o, RK kind, int32_t idx, int64_t balance)
{
	return doc_sign(o, kind, idx) * dkk(balance, doc_rate(o, kind, idx));
}

/* contact_name: a contact's name, or "" */
static const char *
contact_name(Org *o, int32_t c)
{
	return c >= 0 && CONTACT(o, c)->name ? CONTACT(o, c)->name : "";
}

/*
 * invoice_entries: receivables (gross) against each line's product account
 * (net) and output VAT.  The plug account (first line's) takes the
 * difference between the lines' rounded amounts and the invoice's.
 */
static int32_t
invoice_entries(Org *o, int32_t inv, Entries *e)
{
	Invoice    *v = INVOICE(o, inv);
	int64_t		s = v->type == DOC_INVOICE ? 1 : -1;
	int64_t		sum = 0;
	int32_t		plug = -1;

	ent_add(e, o->acc_ar, s * v->gross);
	for (int32_t l = v->line_start; l < v->line_start + v->line_count; l++)
	{
		InvoiceLine *ln = ILINE(o, l);
		int32_t		acc = ln->product >= 0 ? PRODUCT(o, ln->product)->account : -1;

		if (ln->h.dead)
			continue;
		if (acc < 0)
			acc = o->acc_sales_goods;
		if (plug < 0)
			plug = acc;
		ent_add(e, acc, -s * ln->amount);
		sum += ln->amount;
	}
	if (plug < 0)
		plug = o->acc_sales_goods;
	ent_add(e, plug, -s * (v->amount - sum));
	ent_add(e, o->acc_vat_out, -s * v->tax);
	return plug;
}

/*
 * bill_entries: payables (gross) against each line's account and input VAT.
 * Deductible VAT: the bill's tax when every taxed line is fully
 * deductible, else each line's tax times its rate's deductible share
 * (rounded per line); the rest is cost on the line's account.
 * Reverse-charge lines: 25% of the net is owed (6920 goods, 6930 services)
 * and deducted (6910) by the rate's share, computed in the base currency
 * as the VAT return does (25% of the line's net converted and rounded to
 * øre, then the deductible share rounded): those entries go to dkk_e, in
 * DKK already.
 */
static int32_t
bill_entries(Org *o, int32_t bill, Entries *e, Entries *dkk_e)
{
	Bill	   *b = BILL(o, bill);
	int64_t		s = b->type == DOC_INVOICE ? 1 : -1;
	bool		all_full = true;
	int64_t		line_tax = 0;
	int32_t		plug = -1;

	ent_add(e, o->acc_ap, -s * b->gross);
	for (int32_t l = b->line_start; l < b->line_start + b->line_count; l++)
	{
		BillLine   *ln = BLINE(o, l);
		const TaxRate *tr = ln->tax_rate >= 0 ? TAXRATE(o, ln->tax_rate) : NULL;

		if (!ln->h.dead && tr && !tr->reverse_charge && ln->tax != 0 &&
			(tr->deduct_account < 0 || tr->deduct_share6 != RATE_SCALE))
			all_full = false;
	}
	for (int32_t l = b->line_start; l < b->line_start + b->line_count; l++)
	{
		BillLine   *ln = BLINE(o, l);
		const TaxRate *tr = ln->tax_rate >= 0 ? TAXRATE(o, ln->tax_rate) : NULL;

		if (ln->h.dead)
			continue;
		if (plug < 0)
			plug = ln->account;
		if (tr && tr->reverse_charge)
		{
			int64_t		acq = round_div(dkk(ln->amount, b->rate6) * tr->rate6, RATE_SCALE);
			int64_t		ded = tr->deduct_account >= 0 ? round_div(acq * tr->deduct_share6, RATE_SCALE) : 0;

			ent_add(e, ln->account, s * ln->amount);
			ent_add(dkk_e, ln->account, s * (acq - ded));
			ent_add(dkk_e, o->acc_vat_in, s * ded);
			ent_add(dkk_e, tr->kind == TR_UV25 ? o->acc_vat_goods : o->acc_vat_services, -s * acq);
			continue;
		}
		{
			int64_t		ded = 0;

			if (tr && tr->deduct_account >= 0)
				ded = all_full ? ln->tax : round_div(ln->tax * tr->deduct_share6, RATE_SCALE);
			if (all_full)
				line_tax += ln->tax;
			ent_add(e, ln->account, s * (ln->amount + ln->tax - ded));
			ent_add(e, o->acc_vat_in, s * ded);
		}
	}
	if (all_full)
		ent_add(e, o->acc_vat_in, s * (b->tax - line_tax));
	if (plug < 0)
		plug = o->acc_ap;
	ent_add(e, plug, -ent_sum(e));
	return plug;
}

/* doc_book books an approved invoice or bill */
static void
doc_book(Org *o, RK kind, int32_t idx, Time now, ChangeSet *cs)
{
	Entries		e = {0},
				dkk_e = {0};
	int32_t		plug;
	const char *name;
	const char *voucher;
	Date		entry;

	if (kind == RK_INVOICE)
	{
		Invoice    *v = INVOICE(o, idx);

		plug = invoice_entries(o, idx, &e);
		v = INVOICE(o, idx);
		name = arena_printf(&o->arena, "%s no. %s to %s", v->type == DOC_INVOICE ? "Invoice" : "Credit note",
							v->invoice_no ? v->invoice_no : "", contact_name(o, v->contact));
		voucher = v->invoice_no;
		entry = v->entry_date;
	}
	else
	{
		Bill	   *b = BILL(o, idx);

		plug = bill_entries(o, idx, &e, &dkk_e);
		b = BILL(o, idx);
		name = arena_printf(&o->arena, "%s %s from %s", b->type == DOC_INVOICE ? "Bill" : "Bill credit note",
							b->voucher_no ? b->voucher_no : "", contact_name(o, b->contact));
		voucher = b->voucher_no;
		entry = b->entry_date;
	}
	ent_to_dkk(&e, doc_rate(o, kind, idx), plug);
	for (int i = 0; i < dkk_e.n; i++)
		ent_add(&e, dkk_e.v[i].account, dkk_e.v[i].amt);
	*txn_slot(o, kind, idx) = txn_book(o, &e, kind, idx, entry, now, voucher, name, false, cs) + 1;
	free(e.v);
	free(dkk_e.v);
}

/* books_doc_approved: hook of invoice_approve and bill_approve */
void
books_doc_approved(Org *o, RK kind, int32_t idx, Time now, ChangeSet *cs)
{
	if (o->books_live)
		doc_book(o, kind, idx, now, cs);
}

/* books_doc_voided: hook of invoice_void and bill_void */
void
books_doc_voided(Org *o, RK kind, int32_t idx, Time now, ChangeSet *cs)
{
	int32_t		t;

	if (!o->books_live)
		return;
	t = txn_find(o, kind, idx);
	if (t >= 0)
		txn_void(o, t, now, cs);
}

/*
 * settlement_book: a credit note settled against the document it credits
 * moves both balances; the shares of the control account cancel unless
 * the two rates differ, and that difference is a currency difference.
 */
static void
settlement_book(Org *o, RK kind, int32_t cn, int32_t orig, int64_t cn_before, int64_t orig_before,
				int64_t applied, Date entry, Time now, ChangeSet *cs)
{
	Entries		e = {0};
	int32_t		acc = control_account(o, kind);

	ent_add(&e, acc, share(o, kind, cn, cn_before - applied) - share(o, kind, cn, cn_before));
	ent_add(&e, acc, share(o, kind, orig, orig_before - applied) - share(o, kind, orig, orig_before));
	ent_add(&e, o->acc_fx, -ent_sum(&e));
	if (e.n && e.v[0].amt != 0)
	{
		const char *no = kind == RK_INVOICE ? INVOICE(o, cn)->invoice_no : BILL(o, cn)->voucher_no;
		const char *name = arena_printf(&o->arena, "Credit note %s settled", no ? no : "");

		txn_book(o, &e, kind, cn, entry, now, no, name, false, cs);
	}
	free(e.v);
}

/* books_settlement: hook of the credit note settlement (after both modifiers) */
void
books_settlement(Org *o, RK kind, int32_t cn, int32_t orig, int64_t applied, Date entry, Time now,
				 ChangeSet *cs)
{
	if (!o->books_live)
		return;
	settlement_book(o, kind, cn, orig, doc_balance(o, kind, cn) + applied,
					doc_balance(o, kind, orig) + applied, applied, entry, now, cs);
}

/* cash_dkk: an amount in a bank account's currency, in DKK on a day */
static int64_t
cash_dkk(Org *o, int32_t account, int64_t amount, Date d)
{
	int			cur = ACCOUNT(o, account)->currency;

	if (cur == CUR_NONE || cur == CUR_DKK)
		return amount;
	return dkk(amount, rate_on(cur, d));
}

/*
 * payment_book: the bank (cash at the day's rate), the fee, each subject's
 * change of share in its control account, and the currency difference
 * that balances them.  before[k] is subject k's balance before it.
 */
static void
payment_book(Org *o, int32_t pay, const int64_t *before, Time now, ChangeSet *cs)
{
	BankPayment *bp = PAYMENT(o, pay);
	Entries		e = {0};
	int64_t		cash = cash_dkk(o, bp->cash_account, bp->cash_amount, bp->entry_date);
	const char *name;

	ent_add(&e, bp->cash_account, bp->cash_side == SIDE_DEBIT ? cash : -cash);
	if (bp->fee_amount)
		ent_add(&e, bp->fee_account >= 0 ? bp->fee_account : o->acc_fee,
				cash_dkk(o, bp->cash_account, bp->fee_amount, bp->entry_date));
	for (int32_t k = 0; k < bp->assoc_count; k++)
	{
		BalanceModifier *m = MODIFIER(o, bp->assoc_start + k);
		RK			kind = (RK) m->subj_kind;

		ent_add(&e, control_account(o, kind),
				share(o, kind, m->subj_idx, before[k] + m->amount) - share(o, kind, m->subj_idx, before[k]));
	}
	ent_add(&e, o->acc_fx, -ent_sum(&e));
	name = arena_printf(&o->arena, "Bank payment %s %s", bp->cash_side == SIDE_DEBIT ? "from" : "to",
						contact_name(o, bp->contact));
	PAYMENT(o, pay)->txn1 = txn_book(o, &e, RK_BANK_PAYMENT, pay, bp->entry_date, now, NULL, name, false, cs) + 1;
	free(e.v);
}

/* books_payment: hook of payment_create (balances are already reduced) */
void
books_payment(Org *o, int32_t pay, Time now, ChangeSet *cs)
{
	BankPayment *bp;
	int64_t		before[16];

	if (!o->books_live)
		return;
	bp = PAYMENT(o, pay);
	for (int32_t k = 0; k < bp->assoc_count && k < 16; k++)
	{
		BalanceModifier *m = MODIFIER(o, bp->assoc_start + k);

		before[k] = doc_balance(o, (RK) m->subj_kind, m->subj_idx) - m->amount;
	}
	payment_book(o, pay, before, now, cs);
}

/* books_payment_voided: hook of payment_void: unmatch its bank line, void its transaction */
void
books_payment_voided(Org *o, int32_t pay, Time now, ChangeSet *cs)
{
	int32_t		t;

	if (!o->books_live)
		return;
	for (int32_t s = 0; s < o->tab[RK_BANK_SUBJECT].n; s++)
	{
		BankSubject *bs = BANKSUBJ(o, s);

		if (!bs->h.dead && bs->subj_kind == RK_BANK_PAYMENT && bs->subj_idx == pay)
		{
			books_unmatch(o, bs->match, cs);
			break;
		}
	}
	t = txn_find(o, RK_BANK_PAYMENT, pay);
	if (t >= 0)
		txn_void(o, t, now, cs);
}

/* ------------------------------------------------------------ journal entries */

/* dbline_signed: a daybook line's amount, debit positive */
int64_t
dbline_signed(const DaybookLine *l)
{
	return l->side == SIDE_DEBIT ? l->amount : -l->amount;
}

/*
 * lines_entries: each journal entry line on its account (and the opposite
 * on its contra account).  A line in another currency converts at the
 * currency's rate on the entry date (rate_on; Billy's API gives a line no
 * rate of its own), rounded to øre, before anything is split off it.  A
 * line with a VAT rate holds the gross amount: sales rates split off output
 * VAT (6900), purchase rates the deductible input VAT (the rest stays on the
 * account).  On a reverse-charge purchase rate the amount is the net: the
 * rate of it is owed (6920 goods, 6930 services) and its deductible share
 * deducted, as on a bill.  Booked (per_line), every line's entries carry its
 * priority (its postings, apart from every other line's, add up to its
 * amount in DKK on the line's side of its contra account) and what
 * converting leaves goes to realized currency differences (4350) after the
 * lines; else entries merge per account.
 */
static void
lines_entries(Org *o, const DaybookLine *ls, int n, Date d, bool per_line, Entries *e)
{
	int32_t		top = -1;

	for (int i = 0; i < n; i++)
	{
		const DaybookLine *l = &ls[i];
		int64_t		g = dbline_signed(l);
		const TaxRate *tr = l->tax_rate >= 0 ? TAXRATE(o, l->tax_rate) : NULL;
		int32_t		p = per_line ? l->priority : -1;

		if (l->h.dead)
			continue;
		top = Max(top, l->priority);
		if (l->currency != CUR_DKK && l->currency != CUR_NONE)
			g = dkk(g, rate_on(l->currency, d));
		if (l->contra >= 0)
			ent_add_p(e, l->contra, -g, p);
		if (tr && tr->rate6 > 0 && !tr->reverse_charge)
		{
			int64_t		vat = (int64_t) round_div128((__int128) g * tr->rate6, RATE_SCALE + tr->rate6);

			if (tr->purchases && tr->deduct_account >= 0)
			{
				int64_t		ded = round_div(vat * tr->deduct_share6, RATE_SCALE);

				ent_add_p(e, l->account, g - ded, p);
				ent_add_p(e, tr->deduct_account, ded, p);
			}
			else
			{
				ent_add_p(e, l->account, g - vat, p);
				ent_add_p(e, o->acc_vat_out, vat, p);
			}
		}
		else if (tr && tr->reverse_charge && tr->purchases)
		{
			/*
			 * the buyer owes the VAT on the amount (the net) and deducts its
			 * share
			 */
			int64_t		acq = round_div(g * (tr->rate6 > 0 ? tr->rate6 : 250000), RATE_SCALE);
			int64_t		ded = tr->deduct_account >= 0 ? round_div(acq * tr->deduct_share6, RATE_SCALE) : 0;

			ent_add_p(e, l->account, g + acq - ded, p);
			if (ded)
				ent_add_p(e, tr->deduct_account, ded, p);
			ent_add_p(e, tr->kind == TR_UV25 ? o->acc_vat_goods : o->acc_vat_services, -acq, p);
		}
		else
			ent_add_p(e, l->account, g, p);
	}
	if (per_line && ent_sum(e) != 0)
		ent_add_p(e, o->acc_fx, -ent_sum(e), top + 1);
}

/* dbt_entries: a stored journal entry's entries, to book (its lines are contiguous) */
static void
dbt_entries(Org *o, int32_t dbt, Entries *e)
{
	DaybookTxn *d = DBTXN(o, dbt);

	if (d->line_count > 0)
		lines_entries(o, DBLINE(o, d->line_start), d->line_count, d->entry_date, true, e);
}

/*
 * dblines_balance: do these journal entry lines, dated d, balance?  The
 * lines without a contra account must, in each currency (Billy converts
 * them apart); and something must be booked.  When they do not, *cur is the
 * first currency that does not and *debit, *credit its totals.
 */
bool
dblines_balance(Org *o, const DaybookLine *ls, int n, Date d, int *cur, int64_t *debit, int64_t *credit)
{
	Entries		e = {0};
	int64_t		booked = 0;

	lines_entries(o, ls, n, d, false, &e);
	for (int i = 0; i < e.n; i++)
		if (e.v[i].amt > 0)
			booked += e.v[i].amt;
	free(e.v);
	for (int c = 0; c < CUR__COUNT; c++)
	{
		*cur = c;
		*debit = *credit = 0;
		for (int i = 0; i < n; i++)
		{
			const DaybookLine *l = &ls[i];

			if (l->h.dead || l->contra >= 0 || (l->currency == CUR_NONE ? CUR_DKK : l->currency) != c)
				continue;
			if (l->side == SIDE_DEBIT)
				*debit += l->amount;
			else
				*credit += l->amount;
		}
		if (*debit != *credit)
			return false;
	}
	*cur = CUR_DKK;
	*debit = *credit = booked;
	return booked > 0;
}

/* books_dbt_approve books a journal entry (callers checked that it balances) */
void
books_dbt_approve(Org *o, int32_t dbt, Time now, ChangeSet *cs)
{
	Entries		e = {0};
	DaybookTxn *d;
	int32_t		t;

	dbt_entries(o, dbt, &e);
	d = DBTXN(o, dbt);
	t = txn_book(o, &e, RK_DAYBOOK_TXN, dbt, d->entry_date, now, d->voucher_no,
				 d->description ? d->description : "Journal entry", false, cs);
	d = DBTXN(o, dbt);
	d->state = ST_APPROVED;
	d->txn = t;
	touch(o, RK_DAYBOOK_TXN);
	if (cs)
		cs_add(cs, RK_DAYBOOK_TXN, dbt, OP_UPDATED);
	free(e.v);
}

/* books_dbt_void voids an approved journal entry */
void
books_dbt_void(Org *o, int32_t dbt, Time now, ChangeSet *cs)
{
	DaybookTxn *d = DBTXN(o, dbt);

	d->state = ST_VOIDED;
	touch(o, RK_DAYBOOK_TXN);
	if (cs)
		cs_add(cs, RK_DAYBOOK_TXN, dbt, OP_UPDATED);
	if (d->txn >= 0 && !TXN(o, d->txn)->voided)
		txn_void(o, d->txn, now, cs);
}

/* ------------------------------------------------------------ bank matching */

/* bank_posting: the posting of a transaction on a bank account; -1 */
static int32_t
bank_posting(Org *o, int32_t t, int32_t account)
{
	Transaction *tx;

	if (t < 0)
		return -1;
	tx = TXN(o, t);
	for (int32_t p = tx->posting_start; p < tx->posting_start + tx->posting_count; p++)
		if (POSTING(o, p)->account == account)
			return p;
	return -1;
}

/* mark_matched sets isBankMatched on an originator's bank posting */
static void
mark_matched(Org *o, RK kind, int32_t idx, int32_t account, bool matched, ChangeSet *cs)
{
	int32_t		p = bank_posting(o, txn_find(o, kind, idx), account);

	if (p < 0 || POSTING(o, p)->bank_matched == matched)
		return;
	POSTING(o, p)->bank_matched = matched;
	touch(o, RK_POSTING);
	if (cs)
		cs_add(cs, RK_POSTING, p, OP_UPDATED);
}

/* books_match_payment_posting: a payment's bank posting is (un)matched */
void
books_match_payment_posting(Org *o, int32_t pay, bool matched, ChangeSet *cs)
{
	mark_matched(o, RK_BANK_PAYMENT, pay, PAYMENT(o, pay)->cash_account, matched, cs);
}

/*
 * books_unmatch deletes a match: its lines become unmatched, the bank
 * postings of its subjects unmatched, and a bank payment the match created
 * (subjects invoice:/bill:) is voided.
 */
void
books_unmatch(Org *o, int32_t match, ChangeSet *cs)
{
	BankMatch  *m = BANKMATCH(o, match);
	int32_t		account = m->account;

	for (int32_t l = m->line_head; l >= 0;)
	{
		BankLine   *bl = BANKLINE(o, l);
		int32_t		next = bl->next;

		bl->match = -1;
		bl->next = -1;
		if (cs)
			cs_add(cs, RK_BANK_LINE, l, OP_UPDATED);
		l = next;
	}
	touch(o, RK_BANK_LINE);
	m = BANKMATCH(o, match);
	m->line_head = -1;
	rec_kill(o, RK_BANK_MATCH, match);
	if (cs)
		cs_add(cs, RK_BANK_MATCH, match, OP_DELETED);
	for (int32_t s = m->subj_start; s < m->subj_start + m->subj_count; s++)
	{
		BankSubject *bs = BANKSUBJ(o, s);
		RK			k = (RK) bs->subj_kind;
		int32_t		idx = bs->subj_idx;

		rec_kill(o, RK_BANK_SUBJECT, s);
		if (cs)
			cs_add(cs, RK_BANK_SUBJECT, s, OP_DELETED);
		if (k == RK_BANK_PAYMENT || k == RK_DAYBOOK_TXN)
			mark_matched(o, k, idx, account, false, cs);
	}
	/* a payment the match made (invoice:/bill: subjects) goes with it */
	for (int32_t p = o->tab[RK_BANK_PAYMENT].n - 1; p >= 0; p--)
	{
		BankPayment *bp = PAYMENT(o, p);

		if (bp->made_by_match == match + 1 && !bp->voided)
		{
			mark_matched(o, RK_BANK_PAYMENT, p, bp->cash_account, false, cs);
			payment_void(o, p, cs);
			break;
		}
	}
}

/* ref_prefix: the "kind:" of a reference */
const char *
ref_prefix(int kind)
{
	switch (kind)
	{
		case RK_INVOICE:
			return "invoice";
		case RK_BILL:
			return "bill";
		case RK_BANK_PAYMENT:
			return "bankPayment";
		case RK_DAYBOOK_TXN:
			return "daybookTransaction";
		case RK_SALES_TAX_RETURN:
			return "salesTaxReturn";
		default:
			return "unknown";
	}
}

/* ------------------------------------------------------------ files */

/*
 * receipt_pdf writes a small valid one-page PDF for a generated receipt:
 * the supplier, voucher number, date and amount as text.
 */
static char *
receipt_pdf(Org *o, int32_t f, int64_t *len)
{
	File	   *fr = FILEREC(o, f);
	Bill	   *b = BILL(o, fr->owner_idx);
	char		text[256],
				amt[32],
				date[11],
				content[512];
	char	   *out;
	size_t		cap = 2048,
				n = 0;
	size_t		off[6];
	int			cl;

	fmt_scaled(amt, b->gross, 2);
	fmt_date(date, b->entry_date);
	snprintf(text, sizeof(text), "Kvittering %s  Bilag %s  %s  %s %s",
			 contact_name(o, b->contact), b->voucher_no ? b->voucher_no : "-", date, amt,
			 currencies[b->currency].id);
	/* PDF strings: keep printable ASCII, escape the delimiters */
	{
		char		clean[256];
		int			k = 0;

		for (const char *p = text; *p && k < (int) sizeof(clean) - 2; p++)
		{
			unsigned char c = (unsigned char) *p;

			if (c < 32 || c > 126)
				continue;
			if (c == '(' || c == ')' || c == '\\')
				clean[k++] = '\\';
			clean[k++] = (char) c;
		}
		clean[k] = '\0';
		cl = snprintf(content, sizeof(content), "BT /F1 11 Tf 40 780 Td (%s) Tj ET\n", clean);
	}
	out = xmalloc(cap);
#define PDF_ADD(...) (n += (size_t) snprintf(out + n, cap - n, __VA_ARGS__))
	PDF_ADD("%%PDF-1.4\n");
	off[1] = n;
	PDF_ADD("1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n");
	off[2] = n;
	PDF_ADD("2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n");
	off[3] = n;
	PDF_ADD("3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
			"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>\nendobj\n");
	off[4] = n;
	PDF_ADD("4 0 obj\n<< /Length %d >>\nstream\n%sendstream\nendobj\n", cl, content);
	off[5] = n;
	PDF_ADD("5 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>\nendobj\n");
	{
		size_t		xref = n;

		PDF_ADD("xref\n0 6\n0000000000 65535 f \n");
		for (int i = 1; i <= 5; i++)
			PDF_ADD("%010zu 00000 n \n", off[i]);
		PDF_ADD("trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n", xref);
	}
#undef PDF_ADD
	*len = (int64_t) n;
	return out;
}

/* file_bytes: a file's content; generated receipts are made into *tmp (caller frees) */
const unsigned char *
file_bytes(Org *o, int32_t f, char **tmp, int64_t *len)
{
	File	   *fr = FILEREC(o, f);

	*tmp = NULL;
	if (!fr->generated)
	{
		*len = fr->size;
		return fr->bytes;
	}
	*tmp = receipt_pdf(o, f, len);
	return (const unsigned char *) *tmp;
}

/* ------------------------------------------------------------ setup and generation */

/* acc_no: an account by number, -1 */
static int32_t
acc_no(Org *o, int no)
{
	for (int32_t i = 0; i < o->tab[RK_ACCOUNT].n; i++)
		if (ACCOUNT(o, i)->account_no == no)
			return i;
	return -1;
}

/*
 * The account groups: the headings Billy's statements group accounts under,
 * each for a range of account numbers, in statement order.
 */
typedef struct GroupDef
{
	int			first_no;
	int			last_no;
	Nature		nature;
	const char *name;
	const char *description;
} GroupDef;

static const GroupDef group_defs[] = {
	{1000, 1299, NAT_REVENUE, "Omsætning", "Salg af varer og ydelser"},
	{1300, 1999, NAT_EXPENSE, "Vareforbrug", "Varekøb, fremmed arbejde, fragt"},
	{2000, 2699, NAT_EXPENSE, "Personaleomkostninger", NULL},
	{2700, 2999, NAT_EXPENSE, "Salgs- og rejseomkostninger", NULL},
	{3000, 3699, NAT_EXPENSE, "Lokaleomkostninger", NULL},
	{3700, 4299, NAT_EXPENSE, "Administrationsomkostninger", NULL},
	{4400, 4419, NAT_REVENUE, "Finansielle indtægter", NULL},
	{4300, 4499, NAT_EXPENSE, "Finansielle omkostninger", "Bankgebyrer, kursdifferencer, renter"},
	{5000, 5699, NAT_ASSET, "Anlægsaktiver", NULL},
	{5700, 5799, NAT_ASSET, "Tilgodehavender", NULL},
	{5800, 5899, NAT_ASSET, "Likvide beholdninger", NULL},
	{6000, 6899, NAT_LIABILITY, "Kortfristet gæld", NULL},
	{6900, 6999, NAT_LIABILITY, "Moms", "Skyldig moms"},
	{7000, 7999, NAT_EQUITY, "Egenkapital", NULL},
};

/*
 * setup_account_groups makes the account groups and gives every account its
 * group (the first whose range holds its number).  Their ids come from a
 * generator of their own, so nothing else an organization's seed produces
 * changes.
 */
static void
setup_account_groups(Org *o)
{
	Rng			r;
	int32_t		first = o->tab[RK_ACCOUNT_GROUP].n;

	rng_seed(&r, o->gp.seed, 0xA6C0B000ULL + (uint64_t) o->gp.org_index);
	for (int k = 0; k < (int) lengthof(group_defs); k++)
	{
		int32_t		g = rec_new_from(o, RK_ACCOUNT_GROUP, &r);

		ACCGROUP(o, g)->nature = (uint8_t) group_defs[k].nature;
		ACCGROUP(o, g)->priority = k + 1;
		ACCGROUP(o, g)->name = group_defs[k].name;
		ACCGROUP(o, g)->description = group_defs[k].description;
	}
	for (int32_t i = 0; i < o->tab[RK_ACCOUNT].n; i++)
	{
		Account    *a = ACCOUNT(o, i);

		a->group = -1;
		for (int k = 0; k < (int) lengthof(group_defs); k++)
			if (a->account_no >= group_defs[k].first_no && a->account_no <= group_defs[k].last_no &&
				a->nature == group_defs[k].nature)
			{
				a->group = first + k;
				break;
			}
	}
}

/* books_setup: the books' generator, well-known accounts, account groups and the default daybook */
void
books_setup(Org *o)
{
	int32_t		d;

	setup_account_groups(o);

	rng_seed(&o->books_rng, o->gp.seed, 0xB00C5000ULL + (uint64_t) o->gp.org_index);
	o->acc_vat_out = acc_no(o, 6900);
	o->acc_vat_in = acc_no(o, 6910);
	o->acc_vat_goods = acc_no(o, 6920);
	o->acc_vat_services = acc_no(o, 6930);
	o->acc_salary = acc_no(o, 2210);
	o->acc_equity = acc_no(o, 7010);
	o->acc_interest = acc_no(o, 4410);
	d = rec_new_from(o, RK_DAYBOOK, &o->books_rng);
	DAYBOOK(o, d)->name = "Kassekladde";
	DAYBOOK(o, d)->created = o->created;
	o->daybook = d;
}

enum
{
	BE_APPROVE,
	BE_JOURNAL,
	BE_SETTLE,
	BE_PAY,
	BE_VOID
};

typedef struct BookEvent
{
	Time		at;
	uint8_t		what;
	uint8_t		kind;
	int32_t		idx;
} BookEvent;

/* cmp_book_event orders the generated history by time, then kind of event, then record */
static int
cmp_book_event(const void *a, const void *b)
{
	const BookEvent *x = a,
			   *y = b;

	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	if (x->what != y->what)
		return x->what < y->what ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

typedef struct EvVec
{
	BookEvent  *v;
	int64_t		n;
	int64_t		cap;
} EvVec;

/* evv_add appends an event */
static void
evv_add(EvVec *ev, Time at, int what, int kind, int32_t idx)
{
	if (ev->n == ev->cap)
	{
		ev->cap = ev->cap ? ev->cap * 2 : 1024;
		ev->v = xrealloc(ev->v, sizeof(BookEvent) * (size_t) ev->cap);
	}
	ev->v[ev->n].at = at;
	ev->v[ev->n].what = (uint8_t) what;
	ev->v[ev->n].kind = (uint8_t) kind;
	ev->v[ev->n].idx = idx;
	ev->n++;
}

/* gen_journal adds a generated, approved two-line journal entry (booked later) */
static int32_t
gen_journal(Org *o, Date d, const char *desc, const char *voucher, int32_t account, int side,
			int64_t amount, int32_t contra)
{
	int32_t		t = rec_new_from(o, RK_DAYBOOK_TXN, &o->books_rng);
	DaybookTxn *x = DBTXN(o, t);
	int32_t		l;
	DaybookLine *ln;

	x->daybook = o->daybook;
	x->entry_date = d;
	x->created = Min(time_from_date(d, 15, 0, 0), gen_horizon);
	x->voucher_no = voucher;
	x->description = desc;
	x->api_type = "entry";
	x->state = ST_DRAFT;
	x->txn = -1;
	x->line_start = o->tab[RK_DAYBOOK_LINE].n;
	x->line_count = 1;
	l = rec_new_from(o, RK_DAYBOOK_LINE, &o->books_rng);
	ln = DBLINE(o, l);
	ln->dbt = t;
	ln->account = account;
	ln->contra = contra;
	ln->tax_rate = -1;
	ln->side = (uint8_t) side;
	ln->amount = amount;
	ln->currency = CUR_DKK;
	ln->priority = 0;
	ln->text = desc;
	return t;
}

typedef struct LineSpec
{
	Date		date;
	int32_t		seq;
	uint8_t		side;
	uint8_t		subj_kind;		/* RK_BANK_PAYMENT, RK_DAYBOOK_TXN, or
								 * RK__COUNT: unmatched */
	int32_t		account;
	int32_t		subj_idx;
	uint8_t		pays_kind;		/* unmatched: RK_INVOICE or RK_BILL it pays,
								 * else RK__COUNT */
	int32_t		pays_idx;
	int64_t		amount;
	const char *text;
} LineSpec;

/* cmp_line_spec orders statement lines by date, then as made */
static int
cmp_line_spec(const void *a, const void *b)
{
	const LineSpec *x = a,
			   *y = b;

	if (x->date != y->date)
		return x->date < y->date ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

typedef struct LineVec
{
	LineSpec   *v;
	int64_t		n;
	int64_t		cap;
} LineVec;

/* lv_add appends a statement line spec */
static void
lv_add(LineVec *lv, Date d, int side, int subj_kind, int32_t account, int32_t subj, int64_t amount,
	   const char *text)
{
	LineSpec	ls = {
		.date = d,.seq = (int32_t) lv->n,.side = (uint8_t) side,.subj_kind = (uint8_t) subj_kind,
		.account = account,.subj_idx = subj,.pays_kind = RK__COUNT,.pays_idx = -1,.amount = amount,.text = text
	};

	if (lv->n == lv->cap)
	{
		lv->cap = lv->cap ? lv->cap * 2 : 1024;
		lv->v = xrealloc(lv->v, sizeof(LineSpec) * (size_t) lv->cap);
	}
	lv->v[lv->n] = ls;
	lv->n++;
}

/* upper_name: a contact's name in capitals, as bank statements print it (ASCII only) */
static const char *
upper_name(Org *o, int32_t c, int max)
{
	char		tmp[64];
	const char *s = contact_name(o, c);
	int			k = 0;

	/* cut at max bytes, but never inside a UTF-8 sequence */
	for (; *s && k < (int) sizeof(tmp) - 4; s++)
	{
		if (k >= max && (*s & 0xC0) != 0x80)
			break;
		tmp[k++] = (*s >= 'a' && *s <= 'z') ? (char) (*s - 32) : *s;
	}
	tmp[k] = '\0';
	return arena_strdup(&o->arena, tmp);
}

/* make_statement creates the bank lines, matching each matched one */
static void
make_statement(Org *o, LineVec *lv, Time horizon)
{
	if (lv->n > 0)
		qsort(lv->v, (size_t) lv->n, sizeof(LineSpec), cmp_line_spec);
	for (int64_t i = 0; i < lv->n; i++)
	{
		LineSpec   *s = &lv->v[i];
		int32_t		l = rec_new_from(o, RK_BANK_LINE, &o->books_rng);
		BankLine   *bl = BANKLINE(o, l);
		Time		at = Min(time_from_date(s->date, 6, 0, 0), horizon);

		bl->account = s->account;
		bl->entry_date = s->date;
		bl->created = at;
		bl->amount = s->amount;
		bl->side = s->side;
		bl->description = s->text;
		bl->match = -1;
		bl->next = -1;
		bl->pays_kind = s->pays_kind;
		bl->pays_idx = s->pays_idx;
		if (s->subj_kind == RK_BANK_PAYMENT || s->subj_kind == RK_DAYBOOK_TXN)
		{
			int32_t		m = rec_new_from(o, RK_BANK_MATCH, &o->books_rng);
			BankMatch  *bm = BANKMATCH(o, m);
			int32_t		sj;

			bm->account = s->account;
			bm->entry_date = s->date;
			bm->created = at;
			bm->approved = true;
			bm->approved_time = at;
			bm->amount = s->amount;
			bm->side = s->side;
			bm->line_head = l;
			bm->subj_start = o->tab[RK_BANK_SUBJECT].n;
			bm->subj_count = 1;
			sj = rec_new_from(o, RK_BANK_SUBJECT, &o->books_rng);
			BANKSUBJ(o, sj)->match = m;
			BANKSUBJ(o, sj)->subj_kind = s->subj_kind;
			BANKSUBJ(o, sj)->subj_idx = s->subj_idx;
			BANKLINE(o, l)->match = m;
			mark_matched(o, (RK) s->subj_kind, s->subj_idx, s->account, true, NULL);
		}
	}
}

/*
 * books_generate books the generated history in time order (documents at
 * approval, voids after, credit note settlements, payments; salaries and
 * the opening capital as journal entries), then makes the bank statement
 * (a matched line per payment and bank journal entry, unmatched lines for
 * open invoices and bills paid but not yet registered, and noise: fees,
 * card purchases, interest) and receipts (a generated PDF attached to most
 * bills).
 */
void
books_generate(Org *o, Date start, Date today)
{
	Rng		   *r = &o->books_rng;
	EvVec		ev = {0};
	LineVec		lv = {0};
	int64_t    *rb_inv = xmalloc(sizeof(int64_t) * (size_t) Max(o->tab[RK_INVOICE].n, 1));
	int64_t    *rb_bill = xmalloc(sizeof(int64_t) * (size_t) Max(o->tab[RK_BILL].n, 1));
	int32_t		n_dbt0 = o->tab[RK_DAYBOOK_TXN].n;
	Time		horizon = gen_horizon;

	/*
	 * journal entries: opening capital, then salaries on the last weekday of
	 * each month
	 */
	{
		int64_t		capital = 1000000 * (int64_t) rng_range(r, 5, 20);
		int64_t		salary = 100 * (int64_t) rng_range(r, 28000, 42000);
		int			no = 1;
		Date		m = start;

		gen_journal(o, start, "Indskud af egenkapital", arena_printf(&o->arena, "J-%d", no++),
					o->acc_bank, SIDE_DEBIT, capital, o->acc_equity);
		for (;;)
		{
			Date		last = date_add_months(m, 1) - 1;

			while (date_weekday(last) >= 5)
				last--;
			if (last > today)
				break;
			gen_journal(o, last, "Løn", arena_printf(&o->arena, "J-%d", no++), o->acc_salary, SIDE_DEBIT,
						salary, o->acc_bank);
			salary += round_div(salary * 4, 1000);
			m = date_add_months(m, 1);
		}
	}

	for (int32_t i = 0; i < o->tab[RK_INVOICE].n; i++)
	{
		Invoice    *v = INVOICE(o, i);

		if (v->h.dead || v->state == ST_DRAFT)
			continue;
		rb_inv[i] = v->gross;
		evv_add(&ev, v->approved != TIME_NONE ? v->approved : v->created, BE_APPROVE, RK_INVOICE, i);
		if (v->state == ST_VOIDED)
			evv_add(&ev, (v->approved != TIME_NONE ? v->approved : v->created) + 60, BE_VOID, RK_INVOICE, i);
	}
	for (int32_t i = 0; i < o->tab[RK_BILL].n; i++)
	{
		Bill	   *b = BILL(o, i);

		if (b->h.dead || b->state == ST_DRAFT)
			continue;
		rb_bill[i] = b->gross;
		evv_add(&ev, b->approved != TIME_NONE ? b->approved : b->created, BE_APPROVE, RK_BILL, i);
		if (b->state == ST_VOIDED)
			evv_add(&ev, (b->approved != TIME_NONE ? b->approved : b->created) + 60, BE_VOID, RK_BILL, i);
	}
	for (int32_t i = n_dbt0; i < o->tab[RK_DAYBOOK_TXN].n; i++)
		evv_add(&ev, DBTXN(o, i)->created, BE_JOURNAL, RK_DAYBOOK_TXN, i);
	for (int32_t i = 0; i < o->tab[RK_BALANCE_MODIFIER].n; i++)
	{
		BalanceModifier *m = MODIFIER(o, i);

		/*
		 * a settlement is two modifiers in a row: (cn -> orig), then (orig ->
		 * cn)
		 */
		if (m->mod_kind != RK_BANK_PAYMENT && i + 1 < o->tab[RK_BALANCE_MODIFIER].n &&
			MODIFIER(o, i + 1)->mod_kind == m->mod_kind && MODIFIER(o, i + 1)->subj_idx == m->mod_idx &&
			MODIFIER(o, i + 1)->mod_idx == m->subj_idx)
		{
			evv_add(&ev, m->created, BE_SETTLE, m->subj_kind, i);
			i++;
		}
	}
	for (int32_t i = 0; i < o->tab[RK_BANK_PAYMENT].n; i++)
		if (!PAYMENT(o, i)->h.dead)
			evv_add(&ev, PAYMENT(o, i)->created, BE_PAY, RK_BANK_PAYMENT, i);
	if (ev.n > 0)
		qsort(ev.v, (size_t) ev.n, sizeof(BookEvent), cmp_book_event);

	for (int64_t k = 0; k < ev.n; k++)
	{
		BookEvent  *e = &ev.v[k];

		switch (e->what)
		{
			case BE_APPROVE:
				doc_book(o, (RK) e->kind, e->idx, e->at, NULL);
				break;
			case BE_VOID:
				{
					int32_t		t = txn_find(o, (RK) e->kind, e->idx);

					if (t >= 0)
						txn_void(o, t, e->at, NULL);
					break;
				}
			case BE_JOURNAL:
				books_dbt_approve(o, e->idx, e->at, NULL);
				break;
			case BE_SETTLE:
				{
					BalanceModifier *m = MODIFIER(o, e->idx);
					RK			kind = (RK) m->subj_kind;
					int64_t    *rb = kind == RK_INVOICE ? rb_inv : rb_bill;
					int32_t		orig = m->subj_idx,
								cn = m->mod_idx;
					int64_t		applied = -m->amount;

					settlement_book(o, kind, cn, orig, rb[cn], rb[orig], applied, m->entry_date, e->at, NULL);
					rb[cn] -= applied;
					rb[orig] -= applied;
					break;
				}
			case BE_PAY:
				{
					BankPayment *bp = PAYMENT(o, e->idx);
					int64_t		before[16];

					for (int32_t j = 0; j < bp->assoc_count && j < 16; j++)
					{
						BalanceModifier *m = MODIFIER(o, bp->assoc_start + j);
						int64_t    *rb = m->subj_kind == RK_INVOICE ? rb_inv : rb_bill;

						before[j] = rb[m->subj_idx];
						if (!m->voided)
							rb[m->subj_idx] += m->amount;
					}
					payment_book(o, e->idx, before, e->at, NULL);
					break;
				}
		}
	}
	free(ev.v);
	free(rb_inv);
	free(rb_bill);

	/*
	 * the statement: every payment and bank journal entry, as the bank
	 * printed it
	 */
	for (int32_t i = 0; i < o->tab[RK_BANK_PAYMENT].n; i++)
	{
		BankPayment *bp = PAYMENT(o, i);
		Date		d = bp->entry_date;
		const char *text;

		if (bp->h.dead || bp->voided)
			continue;
		if (rng_chance(r, 0.2) && d < today)
			d++;
		if (bp->cash_side == SIDE_DEBIT)
		{
			BalanceModifier *m = MODIFIER(o, bp->assoc_start);
			const char *no = m->subj_kind == RK_INVOICE ? INVOICE(o, m->subj_idx)->invoice_no : NULL;

			text = rng_chance(r, 0.6) && no
				? arena_printf(&o->arena, "Indbetaling %s fak. %s", upper_name(o, bp->contact, 20), no)
				: arena_printf(&o->arena, "Overførsel fra %s", upper_name(o, bp->contact, 24));
		}
		else
			text = arena_printf(&o->arena, "%s %s", rng_chance(r, 0.5) ? "Betalingsservice" : "Overførsel til",
								upper_name(o, bp->contact, 24));
		lv_add(&lv, d, bp->cash_side, RK_BANK_PAYMENT, bp->cash_account, i, bp->cash_amount, text);
	}
	for (int32_t i = n_dbt0; i < o->tab[RK_DAYBOOK_TXN].n; i++)
	{
		DaybookTxn *x = DBTXN(o, i);
		DaybookLine *ln = DBLINE(o, x->line_start);
		bool		in = ln->contra == o->acc_bank ? ln->side == SIDE_CREDIT : ln->side == SIDE_DEBIT;

		lv_add(&lv, x->entry_date, in ? SIDE_DEBIT : SIDE_CREDIT, RK_DAYBOOK_TXN, o->acc_bank, i, ln->amount,
			   ln->contra == o->acc_bank ? "Lønoverførsel" : "Indskud");
	}

	/*
	 * open invoices and bills the bank shows paid but nobody has registered
	 * yet
	 */
	for (int32_t i = 0; i < o->tab[RK_INVOICE].n; i++)
	{
		Invoice    *v = INVOICE(o, i);
		Date		d;
		int			style;

		if (v->h.dead || v->state != ST_APPROVED || v->type != DOC_INVOICE || v->balance <= 0 ||
			(v->currency != CUR_DKK && v->currency != CUR_EUR) ||
			v->due_date < today - 60 || v->entry_date > today - 3 || !rng_chance(r, 0.35))
			continue;
		d = Min(today, Max(v->entry_date + 2, v->due_date - 3 + (int) rng_below(r, 10)));
		style = (int) rng_below(r, 3);
		lv_add(&lv, d, SIDE_DEBIT, RK__COUNT, cash_account_for(o, v->currency), -1, v->balance,
			   style == 0 ? arena_printf(&o->arena, "Indbetaling %s fak. %s", upper_name(o, v->contact, 20),
										 v->invoice_no ? v->invoice_no : "")
			   : style == 1 ? arena_printf(&o->arena, "Overførsel fra %s", upper_name(o, v->contact, 24))
			   : arena_printf(&o->arena, "FI-indbetaling %s", v->invoice_no ? v->invoice_no : ""));
		lv.v[lv.n - 1].pays_kind = RK_INVOICE;
		lv.v[lv.n - 1].pays_idx = i;
	}
	for (int32_t i = 0; i < o->tab[RK_BILL].n; i++)
	{
		Bill	   *b = BILL(o, i);

		if (b->h.dead || b->state != ST_APPROVED || b->type != DOC_INVOICE || b->balance <= 0 ||
			b->currency != CUR_DKK || b->due_date < today - 30 || b->due_date > today || !rng_chance(r, 0.3))
			continue;
		lv_add(&lv, b->due_date, SIDE_CREDIT, RK__COUNT, o->acc_bank, -1, b->balance,
			   arena_printf(&o->arena, "Betalingsservice %s", upper_name(o, b->contact, 24)));
		lv.v[lv.n - 1].pays_kind = RK_BILL;
		lv.v[lv.n - 1].pays_idx = i;
	}
	/* noise: fees, card purchases and interest */
	{
		static const char *const shops[] = {"7-ELEVEN", "NETTO", "CIRCLE K", "IKEA", "SILVAN", "PARKERING KBH"};

		for (Date m = start; m <= today; m = date_add_months(m, 1))
		{
			Date		end = Min(today, date_add_months(m, 1) - 1);
			int			span = end - m + 1;

			lv_add(&lv, end, SIDE_CREDIT, RK__COUNT, o->acc_bank, -1, 100 * rng_range(r, 25, 150), "Gebyr");
			for (int k = (int) rng_below(r, 3); k > 0; k--)
				lv_add(&lv, m + (int) rng_below(r, (uint64_t) span), SIDE_CREDIT, RK__COUNT, o->acc_bank, -1,
					   rng_range(r, 2500, 90000),
					   arena_printf(&o->arena, "Dankort-køb %s", shops[rng_below(r, lengthof(shops))]));
			if (rng_chance(r, 0.3))
				lv_add(&lv, end, SIDE_DEBIT, RK__COUNT, o->acc_bank, -1, rng_range(r, 100, 4000), "Rente");
		}
	}
	make_statement(o, &lv, horizon);
	free(lv.v);

	/* receipts: a generated PDF attached to most booked bills */
	for (int32_t i = 0; i < o->tab[RK_BILL].n; i++)
	{
		Bill	   *b = BILL(o, i);
		int32_t		f,
					a;
		File	   *fr;
		char	   *tmp;
		int64_t		len;

		if (b->h.dead || b->state == ST_DRAFT || !rng_chance(r, 0.85))
			continue;
		f = rec_new_from(o, RK_FILE, r);
		fr = FILEREC(o, f);
		fr->generated = true;
		fr->owner_kind = RK_BILL;
		fr->owner_idx = i;
		fr->created = b->created;
		fr->content_type = "application/pdf";
		fr->name = arena_printf(&o->arena, "bilag-%s.pdf", b->voucher_no ? b->voucher_no : "0");
		free((void *) file_bytes(o, f, &tmp, &len));
		FILEREC(o, f)->size = len;
		a = rec_new_from(o, RK_ATTACHMENT, r);
		ATTACH(o, a)->owner_kind = RK_BILL;
		ATTACH(o, a)->owner_idx = i;
		ATTACH(o, a)->file = f;
		ATTACH(o, a)->created = b->created;
	}
}
