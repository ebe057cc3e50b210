/*
 * ledger.c - bookkeeping rules shared by the generator, the write API and
 * mutations.  All amounts are int64 øre; intermediate products use 128-bit
 * integers so that nothing is ever rounded except where Billy's algorithm
 * says so (README "Totals").
 */
#include "ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "books.h"
#include "refdata.h"

/* gcd128: greatest common divisor, for keeping the tax sum in lowest terms */
static __int128
gcd128(__int128 a, __int128 b)
{
	if (a < 0)
		a = -a;
	while (b)
	{
		__int128	t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/*
 * totals_compute applies Billy's invoice-total algorithm to n lines:
 *   lineAmount = round2(qty * unitPrice), then the discount
 *     (percent: round2(lineAmount * (1 - p/100)); cash: round2(lineAmount - v));
 *   lineTax = lineAmount * rate (excl) or lineAmount * rate / (1 + rate) (incl),
 *     kept as an exact fraction;
 *   tax = round2(sum of the exact line taxes);
 *   amount = sum of lineAmount (minus tax when incl).
 * Each line also gets a display tax (its own lineTax rounded to øre) and a
 * display net amount (lineAmount, minus the display tax when incl).
 * round2 rounds half away from zero.
 */
void
totals_compute(TotLine *l, int n, int tax_mode, int64_t *amount, int64_t *tax)
{
	__int128	sn = 0,
				sd = 1;
	int64_t		sum = 0,
				total_tax;

	for (int i = 0; i < n; i++)
	{
		__int128	la = round_div128((__int128) l[i].quantity * l[i].unit_price, QTY_SCALE);
		__int128	num,
					den,
					g;

		if (l[i].discount_mode == DISC_PERCENT)
			la = round_div128(la * (100 * (__int128) QTY_SCALE - l[i].discount_value),
							  100 * (__int128) QTY_SCALE);
		else if (l[i].discount_mode == DISC_CASH)
			la = round_div128(la * (QTY_SCALE / 100) - l[i].discount_value, QTY_SCALE / 100);
		l[i].line_amount = (int64_t) la;
		sum += (int64_t) la;

		num = la * l[i].rate6;
		den = tax_mode == TAX_INCL ? RATE_SCALE + l[i].rate6 : RATE_SCALE;
		l[i].tax = (int64_t) round_div128(num, den);
		l[i].amount = tax_mode == TAX_INCL ? (int64_t) la - l[i].tax : (int64_t) la;

		/* sn/sd += num/den, kept in lowest terms */
		sn = sn * den + num * sd;
		sd = sd * den;
		g = gcd128(sn, sd);
		if (g > 1)
		{
			sn /= g;
			sd /= g;
		}
	}
	total_tax = (int64_t) round_div128(sn, sd);
	*tax = total_tax;
	*amount = tax_mode == TAX_INCL ? sum - total_tax : sum;
}

/*
 * ruleset_tax_rate picks the tax rate a ruleset gives a contact: the
 * matching rule with the lowest priority number, else the fallback.  A rule
 * matches on country (or any), country group (EU) and contact type; a
 * company without a registration (VAT) number counts as a person, so an EU
 * business that gave no VAT number is charged Danish VAT.
 */
int32_t
ruleset_tax_rate(const Org *o, int32_t ruleset, int32_t contact)
{
	const Ruleset *rs;
	const Contact *c;
	bool		eu;
	int			type;
	int32_t		best = -1;
	int32_t		best_prio = 0;

	if (ruleset < 0)
		return o->tax[TR_S25];
	rs = RULESET(o, ruleset);
	if (contact < 0)
		return rs->fallback;
	c = CONTACT(o, contact);
	eu = country_is_eu(c->country);
	type = (c->type == CT_COMPANY && c->registration_no && c->registration_no[0])
		? RULE_COMPANY : RULE_PERSON;
	for (int32_t i = rs->rule_start; i < rs->rule_start + rs->rule_count; i++)
	{
		const Rule *r = RULE(o, i);

		if (r->h.dead)
			continue;
		if (r->country[0] && strcmp(r->country, c->country) != 0)
			continue;
		if (r->country_group == GROUP_EU && !eu)
			continue;
		if (r->contact_type != RULE_ANY_TYPE && r->contact_type != type)
			continue;
		if (best < 0 || r->priority < best_prio)
		{
			best = r->tax_rate;
			best_prio = r->priority;
		}
	}
	return best >= 0 ? best : rs->fallback;
}

/* product_tax_rate: the tax rate a product gets for a contact */
int32_t
product_tax_rate(const Org *o, int32_t product, int32_t contact)
{
	return ruleset_tax_rate(o, PRODUCT(o, product)->ruleset, contact);
}

/*
 * invoice_recalc recomputes an invoice's lines and totals from quantities,
 * prices, discounts and tax rates.  The balance is not touched.
 */
void
invoice_recalc(Org *o, int32_t inv)
{
	Invoice    *v = INVOICE(o, inv);
	TotLine		stackl[32];
	TotLine    *l = v->line_count <= 32 ? stackl : xmalloc(sizeof(TotLine) * (size_t) v->line_count);

	for (int i = 0; i < v->line_count; i++)
	{
		InvoiceLine *ln = ILINE(o, v->line_start + i);

		l[i].quantity = ln->quantity;
		l[i].unit_price = ln->unit_price;
		l[i].discount_mode = ln->discount_mode;
		l[i].discount_value = ln->discount_value;
		l[i].rate6 = ln->tax_rate >= 0 ? TAXRATE(o, ln->tax_rate)->rate6 : 0;
	}
	totals_compute(l, v->line_count, v->tax_mode, &v->amount, &v->tax);
	v->gross = v->amount + v->tax;
	for (int i = 0; i < v->line_count; i++)
	{
		InvoiceLine *ln = ILINE(o, v->line_start + i);

		ln->amount = l[i].amount;
		ln->tax = l[i].tax;
	}
	if (l != stackl)
		free(l);
}

/*
 * bill_recalc: a bill line is one amount (gross when the bill's taxMode is
 * incl).  Reverse-charge lines carry no tax: the supplier charges none and
 * the buyer self-assesses, so their tax (and their share of the bill's
 * tax) is 0.  Restaurant lines carry the full 25%.
 */
void
bill_recalc(Org *o, int32_t bill)
{
	Bill	   *b = BILL(o, bill);
	TotLine		stackl[32];
	TotLine    *l = b->line_count <= 32 ? stackl : xmalloc(sizeof(TotLine) * (size_t) b->line_count);

	for (int i = 0; i < b->line_count; i++)
	{
		BillLine   *ln = BLINE(o, b->line_start + i);
		const TaxRate *tr = ln->tax_rate >= 0 ? TAXRATE(o, ln->tax_rate) : NULL;

		l[i].quantity = QTY_SCALE;
		l[i].unit_price = ln->input_amount;
		l[i].discount_mode = DISC_NONE;
		l[i].discount_value = 0;
		l[i].rate6 = tr && !tr->reverse_charge ? tr->rate6 : 0;
	}
	totals_compute(l, b->line_count, b->tax_mode, &b->amount, &b->tax);
	b->gross = b->amount + b->tax;
	for (int i = 0; i < b->line_count; i++)
	{
		BillLine   *ln = BLINE(o, b->line_start + i);

		ln->amount = l[i].amount;
		ln->tax = l[i].tax;
	}
	if (l != stackl)
		free(l);
}

/* invoice_no_taken: is the number used by another live invoice? */
bool
invoice_no_taken(const Org *o, const char *no, int32_t except)
{
	for (int32_t i = 0; i < o->tab[RK_INVOICE].n; i++)
	{
		const Invoice *v = INVOICE(o, i);

		if (i != except && !v->h.dead && v->invoice_no && strcmp(v->invoice_no, no) == 0)
			return true;
	}
	return false;
}

/* invoice_no_next takes the next free number of the org's sequence */
const char *
invoice_no_next(Org *o)
{
	char		tmp[32];

	for (;;)
	{
		snprintf(tmp, sizeof(tmp), "%lld", (long long) o->next_invoice_no++);
		if (!invoice_no_taken(o, tmp, -1))
			break;
	}
	o->org_version++;
	return arena_strdup(&o->arena, tmp);
}

/* doc_balance_ptr: where an invoice's or bill's balance lives */
static int64_t *
doc_balance_ptr(Org *o, RK kind, int32_t idx)
{
	return kind == RK_INVOICE ? &INVOICE(o, idx)->balance : &BILL(o, idx)->balance;
}

/* doc_balance: an invoice's or bill's open balance */
int64_t
doc_balance(const Org *o, RK kind, int32_t idx)
{
	return kind == RK_INVOICE ? INVOICE(o, idx)->balance : BILL(o, idx)->balance;
}

/* doc_currency: an invoice's or bill's currency */
int
doc_currency(const Org *o, RK kind, int32_t idx)
{
	return kind == RK_INVOICE ? INVOICE(o, idx)->currency : BILL(o, idx)->currency;
}

/* invoices are paid by deposits, bills by withdrawals; credit notes the other way */
int
doc_expected_side(const Org *o, RK kind, int32_t idx)
{
	if (kind == RK_INVOICE)
		return INVOICE(o, idx)->type == DOC_INVOICE ? SIDE_DEBIT : SIDE_CREDIT;
	return BILL(o, idx)->type == DOC_INVOICE ? SIDE_CREDIT : SIDE_DEBIT;
}

/*
 * modifier_add records a balance modifier on a subject (invoice or bill)
 * and applies it to the subject's balance.
 */
int32_t
modifier_add(Org *o, RK mod_kind, int32_t mod_idx, RK subj_kind, int32_t subj_idx,
			 int64_t amount, Date entry, Time now, ChangeSet *cs)
{
	int32_t		m = rec_new(o, RK_BALANCE_MODIFIER);
	BalanceModifier *bm = MODIFIER(o, m);
	int32_t    *head,
			   *tail;

	bm->mod_kind = (uint8_t) mod_kind;
	bm->mod_idx = mod_idx;
	bm->subj_kind = (uint8_t) subj_kind;
	bm->subj_idx = subj_idx;
	bm->amount = amount;
	bm->entry_date = entry;
	bm->created = now;
	bm->next = -1;
	if (subj_kind == RK_INVOICE)
	{
		head = &INVOICE(o, subj_idx)->bm_head;
		tail = &INVOICE(o, subj_idx)->bm_tail;
	}
	else
	{
		head = &BILL(o, subj_idx)->bm_head;
		tail = &BILL(o, subj_idx)->bm_tail;
	}
	if (*tail >= 0)
		MODIFIER(o, *tail)->next = m;
	else
		*head = m;
	*tail = m;
	*doc_balance_ptr(o, subj_kind, subj_idx) += amount;
	touch(o, subj_kind);
	if (cs)
	{
		cs_add(cs, RK_BALANCE_MODIFIER, m, OP_CREATED);
		cs_add(cs, subj_kind, subj_idx, OP_UPDATED);
	}
	return m;
}

/* doc_has_live_modifiers: does anything (not voided) modify the balance? */
bool
doc_has_live_modifiers(const Org *o, RK kind, int32_t idx)
{
	int32_t		m = kind == RK_INVOICE ? INVOICE(o, idx)->bm_head : BILL(o, idx)->bm_head;

	for (; m >= 0; m = MODIFIER(o, m)->next)
		if (!MODIFIER(o, m)->voided)
			return true;
	return false;
}

/*
 * credit_note_apply lets an approved credit note reduce the balance of the
 * document it credits, as far as that balance goes.  Two modifiers record
 * it, one on each side, so that for every approved document
 * balance = grossAmount + sum of its live modifiers.
 */
static void
doc_credit_apply(Org *o, RK kind, int32_t cn, Date entry, Time now, ChangeSet *cs)
{
	int32_t		orig;
	int64_t		applied;

	if (kind == RK_INVOICE)
	{
		Invoice    *v = INVOICE(o, cn);

		orig = v->credited;
		if (orig < 0 || INVOICE(o, orig)->h.dead || INVOICE(o, orig)->state != ST_APPROVED)
			return;
		applied = Min(v->balance, INVOICE(o, orig)->balance);
	}
	else
	{
		Bill	   *b = BILL(o, cn);

		orig = b->credited;
		if (orig < 0 || BILL(o, orig)->h.dead || BILL(o, orig)->state != ST_APPROVED)
			return;
		applied = Min(b->balance, BILL(o, orig)->balance);
	}
	if (applied <= 0)
		return;
	modifier_add(o, kind, cn, kind, orig, -applied, entry, now, cs);
	modifier_add(o, kind, orig, kind, cn, -applied, entry, now, cs);
	books_settlement(o, kind, cn, orig, applied, entry, now, cs);
}

/* credit_note_apply settles an approved invoice credit note against its invoice */
void
credit_note_apply(Org *o, int32_t cn, Date entry, Time now, ChangeSet *cs)
{
	doc_credit_apply(o, RK_INVOICE, cn, entry, now, cs);
}

/*
 * invoice_approve books a draft: it gets the next invoice number unless it
 * has one, its approvedTime, and its balance; an approved credit note then
 * reduces the invoice it credits.
 */
void
invoice_approve(Org *o, int32_t inv, Time now, ChangeSet *cs)
{
	Invoice    *v = INVOICE(o, inv);

	if (v->invoice_no == NULL)
	{
		const char *no = invoice_no_next(o);

		v = INVOICE(o, inv);
		v->invoice_no = no;
		if (cs)
			cs->org_changed = true;
	}
	v->state = ST_APPROVED;
	v->approved = now;
	v->balance = v->gross;
	touch(o, RK_INVOICE);
	if (cs)
		cs_add(cs, RK_INVOICE, inv, OP_UPDATED);
	books_doc_approved(o, RK_INVOICE, inv, now, cs);
	v = INVOICE(o, inv);
	if (v->type == DOC_CREDIT_NOTE)
		credit_note_apply(o, inv, v->entry_date, now, cs);
}

/* bill_approve books a draft bill: voucherNo, approvedTime, balance */
void
bill_approve(Org *o, int32_t bill, Time now, ChangeSet *cs)
{
	Bill	   *b = BILL(o, bill);

	if (b->voucher_no == NULL)
	{
		b->voucher_no = arena_printf(&o->arena, "%lld", (long long) o->next_voucher_no++);
		o->org_version++;
	}
	b->state = ST_APPROVED;
	b->approved = now;
	b->balance = b->gross;
	touch(o, RK_BILL);
	if (cs)
		cs_add(cs, RK_BILL, bill, OP_UPDATED);
	books_doc_approved(o, RK_BILL, bill, now, cs);
	b = BILL(o, bill);
	if (b->type == DOC_CREDIT_NOTE)
		doc_credit_apply(o, RK_BILL, bill, b->entry_date, now, cs);
}

/* invoice_void: callers check that it is approved and has no live modifiers */
void
invoice_void(Org *o, int32_t inv, ChangeSet *cs)
{
	Invoice    *v = INVOICE(o, inv);

	v->state = ST_VOIDED;
	v->balance = 0;
	touch(o, RK_INVOICE);
	if (cs)
		cs_add(cs, RK_INVOICE, inv, OP_UPDATED);
	books_doc_voided(o, RK_INVOICE, inv, clock_now(), cs);
}

/* bill_void: callers check that it is approved and has no live modifiers */
void
bill_void(Org *o, int32_t bill, ChangeSet *cs)
{
	Bill	   *b = BILL(o, bill);

	b->state = ST_VOIDED;
	b->balance = 0;
	touch(o, RK_BILL);
	if (cs)
		cs_add(cs, RK_BILL, bill, OP_UPDATED);
	books_doc_voided(o, RK_BILL, bill, clock_now(), cs);
}

/* cash_account_for: the bank account payments in this currency go through */
int32_t
cash_account_for(const Org *o, int currency)
{
	return currency == CUR_EUR && o->acc_bank_eur >= 0 ? o->acc_bank_eur : o->acc_bank;
}

/* cash_rate_for: 1 subject unit expressed in the cash account's currency */
int64_t
cash_rate_for(const Org *o, int32_t account, int subject_currency, int64_t doc_rate6)
{
	const Account *a = ACCOUNT(o, account);
	int			cash_cur = a->currency == CUR_NONE ? CUR_DKK : a->currency;

	if (cash_cur == subject_currency)
		return RATE_SCALE;
	if (cash_cur == CUR_DKK)
		return doc_rate6;
	/* cash in a foreign currency, subject in another: go through DKK */
	return (int64_t) round_div128((__int128) doc_rate6 * RATE_SCALE, currencies[cash_cur].rate6);
}

/*
 * payment_subject_amount: what a payment is worth in the subjects'
 * currency.  A deposit settles cash + fee, a withdrawal cash - fee.
 */
int64_t
payment_subject_amount(const PaymentSpec *ps)
{
	int64_t		cash = ps->side == SIDE_DEBIT ? ps->cash_amount + ps->fee : ps->cash_amount - ps->fee;

	return (int64_t) round_div128((__int128) cash * RATE_SCALE, ps->cash_rate6);
}

/*
 * payment_create records a bank payment and one association (balance
 * modifier with a negative amount) per subject, allocating the payment to
 * the subjects in order, each up to its balance.  When currency
 * conversion leaves a subject one øre short of (or over) its balance, the
 * øre is settled and shown as realizedCurrencyDifference (in DKK).
 * Callers validate that the payment does not exceed the balances.
 */
int32_t
payment_create(Org *o, const PaymentSpec *ps, Time now, ChangeSet *cs)
{
	int32_t		p = rec_new(o, RK_BANK_PAYMENT);
	BankPayment *bp = PAYMENT(o, p);
	int64_t		remaining = payment_subject_amount(ps);

	bp->contact = ps->contact;
	if (bp->contact < 0 && ps->n > 0)
		bp->contact = ps->subj[0].kind == RK_INVOICE
			? INVOICE(o, ps->subj[0].idx)->contact : BILL(o, ps->subj[0].idx)->contact;
	bp->entry_date = ps->entry;
	bp->created = now;
	bp->cash_amount = ps->cash_amount;
	bp->cash_side = (uint8_t) ps->side;
	bp->cash_account = ps->cash_account;
	bp->cash_rate6 = ps->cash_rate6;
	bp->subject_currency = (uint8_t) ps->subject_currency;
	bp->fee_amount = ps->fee;
	bp->fee_account = ps->fee_account;
	bp->assoc_start = o->tab[RK_BALANCE_MODIFIER].n;
	bp->assoc_count = ps->n;
	if (cs)
		cs_add(cs, RK_BANK_PAYMENT, p, OP_CREATED);

	for (int i = 0; i < ps->n; i++)
	{
		int64_t		bal = doc_balance(o, ps->subj[i].kind, ps->subj[i].idx);
		int64_t		a = Min(bal, remaining);
		int64_t		diff = 0;
		int32_t		m;

		if (i == ps->n - 1 && ps->cash_rate6 != RATE_SCALE &&
			remaining - bal >= -1 && remaining - bal <= 1 && remaining != bal)
		{
			diff = remaining - bal;
			a = bal;
		}
		if (a < 0)
			a = 0;
		remaining -= a + diff;
		m = modifier_add(o, RK_BANK_PAYMENT, p, ps->subj[i].kind, ps->subj[i].idx,
						 -a, ps->entry, now, cs);
		if (diff)
		{
			int64_t		rate = ps->subj[i].kind == RK_INVOICE
			? INVOICE(o, ps->subj[i].idx)->rate6 : BILL(o, ps->subj[i].idx)->rate6;
			int64_t		dkk = round_div(diff * rate, RATE_SCALE);

			MODIFIER(o, m)->realized_diff = dkk ? dkk : (diff > 0 ? 1 : -1);
		}
	}
	touch(o, RK_BANK_PAYMENT);
	books_payment(o, p, now, cs);
	return p;
}

/* payment_void marks a payment and its associations voided and restores balances */
void
payment_void(Org *o, int32_t pay, ChangeSet *cs)
{
	BankPayment *bp = PAYMENT(o, pay);

	bp->voided = true;
	touch(o, RK_BANK_PAYMENT);
	if (cs)
		cs_add(cs, RK_BANK_PAYMENT, pay, OP_UPDATED);
	for (int32_t m = bp->assoc_start; m < bp->assoc_start + bp->assoc_count; m++)
	{
		BalanceModifier *bm = MODIFIER(o, m);

		if (bm->voided)
			continue;
		bm->voided = true;
		*doc_balance_ptr(o, bm->subj_kind, bm->subj_idx) -= bm->amount;
		touch(o, RK_BALANCE_MODIFIER);
		touch(o, bm->subj_kind);
		if (cs)
		{
			cs_add(cs, RK_BALANCE_MODIFIER, m, OP_UPDATED);
			cs_add(cs, bm->subj_kind, bm->subj_idx, OP_UPDATED);
		}
	}
	books_payment_voided(o, pay, clock_now(), cs);
}
