/*
 * ledger.h - the bookkeeping rules shared by the generator, the write API
 * and mutations: Billy's totals algorithm, tax rate derivation from
 * rulesets, approval and numbering, balance modifiers, bank payments and
 * voiding.  Callers hold the org's lock exclusively.
 */
#ifndef SANDBOX_LEDGER_H
#define SANDBOX_LEDGER_H

#include "store.h"

/* one line as the totals algorithm sees it */
typedef struct TotLine
{
	int64_t		quantity;		/* QTY_SCALE */
	int64_t		unit_price;		/* øre */
	uint8_t		discount_mode;
	int64_t		discount_value; /* QTY_SCALE */
	int64_t		rate6;			/* effective rate: 0 for reverse charge */
	/* results */
	int64_t		line_amount;	/* round2(qty*price) after discount */
	int64_t		amount;			/* net, for display */
	int64_t		tax;			/* line tax rounded to øre, for display */
} TotLine;

void		totals_compute(TotLine *l, int n, int tax_mode,
						   int64_t *amount, int64_t *tax);

int32_t		ruleset_tax_rate(const Org *o, int32_t ruleset, int32_t contact);
int32_t		product_tax_rate(const Org *o, int32_t product, int32_t contact);

void		invoice_recalc(Org *o, int32_t inv);
void		bill_recalc(Org *o, int32_t bill);

bool		invoice_no_taken(const Org *o, const char *no, int32_t except);
const char *invoice_no_next(Org *o);

/* approval, voiding */
void		invoice_approve(Org *o, int32_t inv, Time now, ChangeSet *cs);
void		bill_approve(Org *o, int32_t bill, Time now, ChangeSet *cs);
void		credit_note_apply(Org *o, int32_t cn, Date entry, Time now, ChangeSet *cs);
bool		doc_has_live_modifiers(const Org *o, RK kind, int32_t idx);
void		invoice_void(Org *o, int32_t inv, ChangeSet *cs);
void		bill_void(Org *o, int32_t bill, ChangeSet *cs);

/* balance modifiers and bank payments */
int32_t		modifier_add(Org *o, RK mod_kind, int32_t mod_idx, RK subj_kind,
						 int32_t subj_idx, int64_t amount, Date entry, Time now,
						 ChangeSet *cs);

typedef struct PaySubject
{
	RK			kind;			/* RK_INVOICE or RK_BILL */
	int32_t		idx;
} PaySubject;

typedef struct PaymentSpec
{
	int32_t		contact;		/* -1: from the first subject */
	Date		entry;
	int64_t		cash_amount;
	int			side;
	int32_t		cash_account;
	int64_t		cash_rate6;		/* 1 subject unit in cash currency */
	int			subject_currency;
	int64_t		fee;
	int32_t		fee_account;
	int			n;
	PaySubject	subj[16];
} PaymentSpec;

int64_t		doc_balance(const Org *o, RK kind, int32_t idx);
int			doc_currency(const Org *o, RK kind, int32_t idx);
int			doc_expected_side(const Org *o, RK kind, int32_t idx);
int64_t		payment_subject_amount(const PaymentSpec *ps);
int32_t		payment_create(Org *o, const PaymentSpec *ps, Time now, ChangeSet *cs);
void		payment_void(Org *o, int32_t pay, ChangeSet *cs);

/* the bank account a payment in this currency goes through */
int32_t		cash_account_for(const Org *o, int currency);
int64_t		cash_rate_for(const Org *o, int32_t account, int subject_currency, int64_t doc_rate6);

#endif
