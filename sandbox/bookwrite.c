/*
 * bookwrite.c - the write endpoints of the books: journal entries
 * (daybookTransactions: create, approve, void, delete drafts), bank
 * statement lines (add, delete unmatched), bank line matches (match to
 * bank payments, journal entries, or open invoices and bills, which makes
 * the payment; unmatch), file uploads (PDFs and images only) and their
 * download, attachments (attach a file to a bill, invoice or journal
 * entry; detach).  The same envelopes and 422 shape as write.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "books.h"
#include "ledger.h"
#include "render.h"
#include "write.h"

static const char *const sides[] = {"debit", "credit"};
static const char *const dbt_states[] = {"draft", "approved", "voided"};

/* parse_reference reads "kind:ID" for the kinds in allowed (bit per RK); -1 if none */
static int32_t
parse_reference(Org *o, const char *r, uint32_t allowed, RK *kind)
{
	static const RK kinds[] = {RK_INVOICE, RK_BILL, RK_BANK_PAYMENT, RK_DAYBOOK_TXN};
	const char *colon = r ? strchr(r, ':') : NULL;

	if (colon == NULL)
		return -1;
	for (int i = 0; i < lengthof(kinds); i++)
	{
		const char *p = ref_prefix(kinds[i]);

		if ((allowed & (1u << kinds[i])) && strlen(p) == (size_t) (colon - r) &&
			strncmp(r, p, (size_t) (colon - r)) == 0)
		{
			*kind = kinds[i];
			return id_find(o, kinds[i], colon + 1);
		}
	}
	return -1;
}

/* ------------------------------------------------------------ journal entries */

typedef struct DbLineIn
{
	int32_t		account;
	int32_t		contra;
	int32_t		tax_rate;
	int			side;
	int			currency;
	int64_t		amount;
	int64_t		priority;
	const char *text;
} DbLineIn;

/* parse_db_lines reads a journal entry's lines; accountId or accountNo, side, amount */
static DbLineIn *
parse_db_lines(Fields *pf, int *n_out)
{
	json_t	   *arr = json_object_get(pf->obj, "lines");
	DbLineIn   *in;
	int			n;

	*n_out = 0;
	if (!json_is_array(arr) || json_array_size(arr) == 0)
	{
		ferr(pf, "lines", "A journal entry needs at least one line.");
		return NULL;
	}
	n = (int) json_array_size(arr);
	in = xcalloc((size_t) n, sizeof(DbLineIn));
	for (int i = 0; i < n; i++)
	{
		json_t	   *lo = json_array_get(arr, (size_t) i);
		Fields		f;
		char		prefix[32];
		int64_t		no;
		const char *cur = NULL;

		snprintf(prefix, sizeof(prefix), "lines.%d.", i);
		if (!json_is_object(lo))
		{
			char		a[32];

			snprintf(a, sizeof(a), "lines.%d", i);
			ferr(pf, a, "Each line must be an object.");
			continue;
		}
		fields_init(&f, pf->o, pf->v, lo, "daybookTransaction", pf->key, prefix);
		in[i].account = in[i].contra = in[i].tax_rate = -1;
		in[i].side = -1;
		in[i].currency = CUR_DKK;
		in[i].priority = i;
		if (has(&f, "accountId"))
			get_ref(&f, "accountId", RK_ACCOUNT, &in[i].account, true);
		else if (get_int(&f, "accountNo", 1, 99999999, &no))
		{
			for (int32_t a = 0; a < pf->o->tab[RK_ACCOUNT].n; a++)
				if (ACCOUNT(pf->o, a)->account_no == no && !ACCOUNT(pf->o, a)->h.dead)
					in[i].account = a;
			if (in[i].account < 0)
				ferr(&f, "accountNo", "No account has that number.");
		}
		else
			ferr(&f, "accountId", "accountId (or accountNo) is required.");
		get_ref(&f, "contraAccountId", RK_ACCOUNT, &in[i].contra, false);
		get_ref(&f, "taxRateId", RK_TAX_RATE, &in[i].tax_rate, false);
		if (!has(&f, "side"))
			ferr(&f, "side", "side is required (debit or credit).");
		else
			get_enum(&f, "side", sides, 2, &in[i].side);
		if (get_scaled(&f, "amount", 100, &in[i].amount, true) && in[i].amount <= 0)
			ferr(&f, "amount", "amount must be positive; use side for the direction.");
		/* another currency converts at its rate on the entry date when booked */
		if (get_str(&f, "currencyId", &cur, false) && cur && (in[i].currency = cur_by_code(cur)) < 0)
		{
			in[i].currency = CUR_DKK;
			ferr(&f, "currencyId", "Unknown currency.");
		}
		get_int(&f, "priority", 0, 1000000, &in[i].priority);
		get_str(&f, "text", &in[i].text, false);
		if (in[i].account >= 0 && in[i].account == in[i].contra)
			ferr(&f, "contraAccountId", "contraAccountId must differ from accountId.");
	}
	*n_out = n;
	return in;
}

/* store_db_lines replaces a journal entry's lines */
static void
store_db_lines(Org *o, int32_t dbt, const DbLineIn *in, int n, ChangeSet *cs)
{
	DaybookTxn *d = DBTXN(o, dbt);

	rec_kill_block(o, RK_DAYBOOK_LINE, d->line_start, d->line_count, cs);
	d->line_start = o->tab[RK_DAYBOOK_LINE].n;
	d->line_count = n;
	for (int i = 0; i < n; i++)
	{
		int32_t		l = rec_new_from(o, RK_DAYBOOK_LINE, &o->books_rng);
		DaybookLine *ln = DBLINE(o, l);

		ln->dbt = dbt;
		ln->account = in[i].account;
		ln->contra = in[i].contra;
		ln->tax_rate = in[i].tax_rate;
		ln->side = (uint8_t) in[i].side;
		ln->amount = in[i].amount;
		ln->currency = (uint8_t) in[i].currency;
		ln->priority = (int32_t) in[i].priority;
		ln->text = adup(o, in[i].text);
		cs_add(cs, RK_DAYBOOK_LINE, l, OP_CREATED);
	}
}

/* unbalanced_error: the 422 for a journal entry whose lines do not balance in a currency */
static void
unbalanced_error(Fields *f, int cur, int64_t debit, int64_t credit)
{
	char		m[160],
				d[32],
				c[32];

	fmt_scaled(d, debit, 2);
	fmt_scaled(c, credit, 2);
	snprintf(m, sizeof(m), "The journal entry does not balance%s%s: debits %s, credits %s.",
			 cur == CUR_DKK ? "" : " in ", cur == CUR_DKK ? "" : currencies[cur].id, d, c);
	ferr(f, "lines", m);
}

/*
 * dbt_write creates (dbt < 0) or updates a journal entry.  Drafts take any
 * field and new lines; state "approved" books it (its lines must balance),
 * "voided" voids an approved one.
 */
static void
dbt_write(WriteCtx *w, int32_t dbt)
{
	Org		   *o = w->o;
	json_t	   *obj = root_object(w, "daybookTransaction");
	VErr		v = {0};
	Fields		f;
	DbLineIn   *lines = NULL;
	int			nlines = 0,
				state = -1;
	int32_t		daybook = o->daybook;
	Date		entry = DATE_NONE;
	const char *voucher = NULL,
			   *desc = NULL,
			   *ext = NULL,
			   *api_type = NULL;
	bool		has_voucher,
				has_desc,
				has_ext,
				has_type;
	int64_t		prio = 0;
	ChangeSet	cs = {0};
	Time		now;
	int			cur_state = dbt >= 0 ? DBTXN(o, dbt)->state : ST_DRAFT;

	if (obj == NULL)
		return;
	fields_init(&f, o, &v, obj, "daybookTransaction", NULL, NULL);
	check_org_id(&f);
	if (dbt >= 0)
	{
		const char *s = NULL;

		if (get_str(&f, "id", &s, false) && s && strcmp(s, DBTXN(o, dbt)->h.id) != 0)
			ferr(&f, "id", "id does not match the URL.");
	}
	if (has(&f, "daybookId"))
		get_ref(&f, "daybookId", RK_DAYBOOK, &daybook, true);
	get_date(&f, "entryDate", &entry, dbt < 0);
	has_voucher = get_str(&f, "voucherNo", &voucher, false);
	has_desc = get_str(&f, "description", &desc, false);
	has_ext = get_str(&f, "extendedDescription", &ext, false);
	has_type = get_str(&f, "apiType", &api_type, false);
	get_int(&f, "priority", 0, 1000000, &prio);
	get_enum(&f, "state", dbt_states, 3, &state);
	if (dbt < 0 || has(&f, "lines"))
		lines = parse_db_lines(&f, &nlines);
	if (cur_state != ST_DRAFT)
	{
		/* booked: only the state may move on, approved -> voided */
		if (cur_state == ST_VOIDED)
			ferr(&f, "state", "A voided journal entry cannot change.");
		else if (has(&f, "lines") || has(&f, "entryDate") || has(&f, "daybookId"))
			ferr(&f, "state", "An approved journal entry cannot change; void it and make a new one.");
		else if (state >= 0 && state != ST_VOIDED && state != ST_APPROVED)
			ferr(&f, "state", "An approved journal entry can only be voided.");
	}
	else if (state == ST_VOIDED)
		ferr(&f, "state", "Only an approved journal entry can be voided; delete a draft instead.");
	if (v.n == 0 && state == ST_APPROVED && cur_state == ST_DRAFT)
	{
		/*
		 * an entry is approved only if its lines balance: checked before
		 * anything changes
		 */
		int			n = lines ? nlines : DBTXN(o, dbt)->line_count;
		DaybookLine *tmp = xcalloc((size_t) Max(n, 1), sizeof(DaybookLine));
		int64_t		debit,
					credit;
		int			cur;

		for (int i = 0; i < n; i++)
			if (lines)
			{
				tmp[i].account = lines[i].account;
				tmp[i].contra = lines[i].contra;
				tmp[i].tax_rate = lines[i].tax_rate;
				tmp[i].side = (uint8_t) lines[i].side;
				tmp[i].currency = (uint8_t) lines[i].currency;
				tmp[i].amount = lines[i].amount;
			}
			else
				tmp[i] = *DBLINE(o, DBTXN(o, dbt)->line_start + i);
		if (!dblines_balance(o, tmp, n, entry != DATE_NONE ? entry : DBTXN(o, dbt)->entry_date, &cur, &debit, &credit))
			unbalanced_error(&f, cur, debit, credit);
		free(tmp);
	}
	if (v.n)
	{
		resp_validation(w->rs, &v);
		free(lines);
		return;
	}

	now = clock_tick();
	if (dbt < 0)
	{
		dbt = rec_new_from(o, RK_DAYBOOK_TXN, &o->books_rng);
		DBTXN(o, dbt)->created = now;
		DBTXN(o, dbt)->state = ST_DRAFT;
		DBTXN(o, dbt)->txn = -1;
		DBTXN(o, dbt)->line_start = o->tab[RK_DAYBOOK_LINE].n;
		DBTXN(o, dbt)->api_type = "entry";
		cs_add(&cs, RK_DAYBOOK_TXN, dbt, OP_CREATED);
		if (!has_voucher || voucher == NULL)
		{
			voucher = arena_printf(&o->arena, "J-%d", o->tab[RK_DAYBOOK_TXN].n);
			has_voucher = true;
		}
	}
	else
		cs_add(&cs, RK_DAYBOOK_TXN, dbt, OP_UPDATED);
	{
		DaybookTxn *d = DBTXN(o, dbt);

		d->daybook = daybook;
		if (entry != DATE_NONE)
			d->entry_date = entry;
		if (has_voucher)
			d->voucher_no = voucher == DBTXN(o, dbt)->voucher_no ? voucher : adup(o, voucher);
		if (has_desc)
			d->description = adup(o, desc);
		if (has_ext)
			d->extended = adup(o, ext);
		if (has_type && api_type)
			d->api_type = adup(o, api_type);
		if (has(&f, "priority"))
			d->priority = (int32_t) prio;
	}
	if (lines)
		store_db_lines(o, dbt, lines, nlines, &cs);
	free(lines);
	touch(o, RK_DAYBOOK_TXN);
	if (state == ST_APPROVED && DBTXN(o, dbt)->state == ST_DRAFT)
		books_dbt_approve(o, dbt, now, &cs);
	else if (state == ST_VOIDED && DBTXN(o, dbt)->state == ST_APPROVED)
		books_dbt_void(o, dbt, now, &cs);
	write_respond(w->rs, o, &cs, RK_DAYBOOK_TXN);
	cs_free(&cs);
}

/* ------------------------------------------------------------ bank lines */

/* bank_line_create adds a statement line (unmatched) to a bank account */
static void
bank_line_create(WriteCtx *w)
{
	Org		   *o = w->o;
	json_t	   *obj = root_object(w, "bankLine");
	VErr		v = {0};
	Fields		f;
	int32_t		account = -1;
	Date		entry = DATE_NONE;
	int64_t		amount = 0;
	int			side = -1;
	const char *desc = NULL;
	ChangeSet	cs = {0};
	int32_t		l;

	if (obj == NULL)
		return;
	fields_init(&f, o, &v, obj, "bankLine", NULL, NULL);
	check_org_id(&f);
	if (get_ref(&f, "accountId", RK_ACCOUNT, &account, true) && account >= 0 && !ACCOUNT(o, account)->bank)
		ferr(&f, "accountId", "Bank lines belong to a bank account (isBankAccount).");
	get_date(&f, "entryDate", &entry, true);
	if (get_scaled(&f, "amount", 100, &amount, true) && amount <= 0)
		ferr(&f, "amount", "amount must be positive; use side for the direction.");
	if (!has(&f, "side"))
		ferr(&f, "side", "side is required (debit: money in, credit: money out).");
	else
		get_enum(&f, "side", sides, 2, &side);
	get_str(&f, "description", &desc, false);
	if (v.n)
	{
		resp_validation(w->rs, &v);
		return;
	}
	l = rec_new_from(o, RK_BANK_LINE, &o->books_rng);
	BANKLINE(o, l)->account = account;
	BANKLINE(o, l)->entry_date = entry;
	BANKLINE(o, l)->created = clock_tick();
	BANKLINE(o, l)->amount = amount;
	BANKLINE(o, l)->side = (uint8_t) side;
	BANKLINE(o, l)->description = adup(o, desc);
	BANKLINE(o, l)->match = -1;
	BANKLINE(o, l)->next = -1;
	cs_add(&cs, RK_BANK_LINE, l, OP_CREATED);
	write_respond(w->rs, o, &cs, RK_BANK_LINE);
	cs_free(&cs);
}

/* ------------------------------------------------------------ bank line matches */

/* subject_bank_amount: a matched subject's signed amount on the bank account (debit +); false if none */
static bool
subject_bank_amount(Org *o, RK kind, int32_t idx, int32_t account, int64_t *amt, bool *matched)
{
	if (kind == RK_BANK_PAYMENT)
	{
		BankPayment *bp = PAYMENT(o, idx);

		if (bp->voided || bp->cash_account != account)
			return false;
		*amt = bp->cash_side == SIDE_DEBIT ? bp->cash_amount : -bp->cash_amount;
	}
	else
	{
		DaybookTxn *d = DBTXN(o, idx);
		Transaction *t;

		if (d->state != ST_APPROVED || d->txn < 0)
			return false;
		t = TXN(o, d->txn);
		*amt = 0;
		for (int32_t p = t->posting_start; p < t->posting_start + t->posting_count; p++)
			if (POSTING(o, p)->account == account)
			{
				*amt = POSTING(o, p)->side == SIDE_DEBIT ? POSTING(o, p)->amount : -POSTING(o, p)->amount;
				*matched = POSTING(o, p)->bank_matched;
				return true;
			}
		return false;
	}
	/* a payment's bank posting says whether it is matched */
	{
		*matched = false;
		for (int32_t s = 0; s < o->tab[RK_BANK_SUBJECT].n; s++)
			if (!BANKSUBJ(o, s)->h.dead && BANKSUBJ(o, s)->subj_kind == RK_BANK_PAYMENT &&
				BANKSUBJ(o, s)->subj_idx == idx)
				*matched = true;
	}
	return true;
}

/*
 * match_create matches bank lines of one account to subjects: bank
 * payments or journal entries already booked on that account (amounts must
 * equal the lines'), or open invoices/bills (a bank payment of the lines'
 * amount is made for them, dated the last line's date).  Matches are
 * approved when made.
 */
static void
match_create(WriteCtx *w)
{
	Org		   *o = w->o;
	json_t	   *obj = root_object(w, "bankLineMatch");
	VErr		v = {0};
	Fields		f;
	int32_t		account = -1,
				lines[64];
	int			nl = 0;
	RK			skind[16];
	int32_t		sidx[16];
	int			ns = 0,
				n_docs = 0;
	int64_t		net = 0,
				subj_sum = 0,
				open = 0;
	Date		last = DATE_NONE;
	json_t	   *arr;
	ChangeSet	cs = {0};
	PaymentSpec ps;
	int			subj_cur = -1;
	int64_t		doc_rate6 = RATE_SCALE;
	Time		now;
	int32_t		m;

	if (obj == NULL)
		return;
	fields_init(&f, o, &v, obj, "bankLineMatch", NULL, NULL);
	check_org_id(&f);
	get_ref(&f, "accountId", RK_ACCOUNT, &account, false);
	arr = json_object_get(obj, "lineIds");
	if (arr == NULL)
		arr = json_object_get(obj, "lines");
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		ferr(&f, "lineIds", "A match needs at least one bank line (lineIds).");
	else if (json_array_size(arr) > lengthof(lines))
		ferr(&f, "lineIds", "Too many bank lines (at most 64).");
	else
		for (size_t i = 0; i < json_array_size(arr); i++)
		{
			json_t	   *j = json_array_get(arr, i);
			const char *id = json_is_string(j) ? json_string_value(j)
			: json_is_object(j) && json_is_string(json_object_get(j, "id"))
			? json_string_value(json_object_get(j, "id")) : NULL;
			int32_t		l = id ? id_find(o, RK_BANK_LINE, id) : -1;
			char		a[32];

			snprintf(a, sizeof(a), "lineIds.%zu", i);
			if (l < 0)
			{
				ferr(&f, a, "No such bank line.");
				continue;
			}
			if (BANKLINE(o, l)->match >= 0)
				ferr(&f, a, "The bank line is already matched; unmatch it first.");
			if (account < 0)
				account = BANKLINE(o, l)->account;
			else if (BANKLINE(o, l)->account != account)
				ferr(&f, a, "All bank lines of a match must be on the match's account.");
			for (int k = 0; k < nl; k++)
				if (lines[k] == l)
					ferr(&f, a, "The same bank line is listed twice.");
			net += BANKLINE(o, l)->side == SIDE_DEBIT ? BANKLINE(o, l)->amount : -BANKLINE(o, l)->amount;
			last = last == DATE_NONE ? BANKLINE(o, l)->entry_date : Max(last, BANKLINE(o, l)->entry_date);
			lines[nl++] = l;
		}
	if (nl && net == 0)
		ferr(&f, "lineIds", "The bank lines add up to nothing.");
	arr = json_object_get(obj, "subjectAssociations");
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		ferr(&f, "subjectAssociations", "A match needs at least one subject (subjectAssociations).");
	else if (json_array_size(arr) > lengthof(sidx))
		ferr(&f, "subjectAssociations", "Too many subjects (at most 16).");
	else
		for (size_t i = 0; i < json_array_size(arr); i++)
		{
			json_t	   *j = json_array_get(arr, i);
			json_t	   *ref = json_is_object(j) ? json_object_get(j, "subjectReference") : NULL;
			char		a[64];
			RK			k = RK_INVOICE;
			int32_t		idx = parse_reference(o, json_is_string(ref) ? json_string_value(ref) : NULL,
											  (1u << RK_INVOICE) | (1u << RK_BILL) | (1u << RK_BANK_PAYMENT) |
											  (1u << RK_DAYBOOK_TXN), &k);

			snprintf(a, sizeof(a), "subjectAssociations.%zu.subjectReference", i);
			if (idx < 0)
			{
				ferr(&f, a, "subjectReference must name an existing invoice:, bill:, bankPayment: or daybookTransaction:.");
				continue;
			}
			for (int q = 0; q < ns; q++)
				if (skind[q] == k && sidx[q] == idx)
					ferr(&f, a, "The same subject is listed twice.");
			if (k == RK_INVOICE || k == RK_BILL)
			{
				n_docs++;
				if ((k == RK_INVOICE ? INVOICE(o, idx)->state : BILL(o, idx)->state) != ST_APPROVED ||
					doc_balance(o, k, idx) <= 0)
					ferr(&f, a, "Only approved invoices and bills with an open balance can be matched.");
				else
				{
					if (subj_cur >= 0 && doc_currency(o, k, idx) != subj_cur)
						ferr(&f, a, "All subjects must be in the same currency.");
					if (net != 0 && doc_expected_side(o, k, idx) != (net > 0 ? SIDE_DEBIT : SIDE_CREDIT))
						ferr(&f, a, net > 0 ? "Money in pays invoices (or refunds bill credit notes)."
							 : "Money out pays bills (or refunds invoice credit notes).");
					subj_cur = doc_currency(o, k, idx);
					doc_rate6 = k == RK_INVOICE ? INVOICE(o, idx)->rate6 : BILL(o, idx)->rate6;
					open += doc_balance(o, k, idx);
				}
			}
			else if (account >= 0)
			{
				int64_t		amt = 0;
				bool		matched = false;

				if (!subject_bank_amount(o, k, idx, account, &amt, &matched))
					ferr(&f, a, "The subject is not booked on the bank lines' account.");
				else if (matched)
					ferr(&f, a, "The subject is already matched to a bank line.");
				subj_sum += amt;
			}
			skind[ns] = k;
			sidx[ns++] = idx;
		}
	if (v.n == 0 && n_docs > 0 && n_docs != ns)
		ferr(&f, "subjectAssociations", "Match either open invoices/bills or booked payments and journal entries, not both.");
	if (v.n == 0 && n_docs == 0 && subj_sum != net)
		ferr(&f, "subjectAssociations", "The subjects' amounts on the account differ from the bank lines' total.");
	if (v.n == 0 && n_docs > 0)
	{
		memset(&ps, 0, sizeof(ps));
		ps.contact = -1;
		ps.entry = last;
		ps.cash_amount = net > 0 ? net : -net;
		ps.side = net > 0 ? SIDE_DEBIT : SIDE_CREDIT;
		ps.cash_account = account;
		ps.cash_rate6 = cash_rate_for(o, account, subj_cur, doc_rate6);
		ps.subject_currency = subj_cur;
		ps.fee_account = -1;
		ps.n = ns;
		for (int q = 0; q < ns; q++)
		{
			ps.subj[q].kind = skind[q];
			ps.subj[q].idx = sidx[q];
		}
		if (!ACCOUNT(o, account)->payment_enabled)
			ferr(&f, "accountId", "The bank account is not enabled for payments.");
		else if (payment_subject_amount(&ps) > open + (ps.cash_rate6 != RATE_SCALE ? 1 : 0))
			ferr(&f, "lineIds", "The bank lines exceed the open balance of the subjects.");
	}
	if (v.n)
	{
		resp_validation(w->rs, &v);
		return;
	}

	now = clock_tick();
	m = rec_new_from(o, RK_BANK_MATCH, &o->books_rng);
	{
		BankMatch  *bm = BANKMATCH(o, m);

		bm->account = account;
		bm->entry_date = last;
		bm->created = now;
		bm->approved = true;
		bm->approved_time = now;
		bm->amount = net > 0 ? net : -net;
		bm->side = net > 0 ? SIDE_DEBIT : SIDE_CREDIT;
		bm->line_head = -1;
		bm->subj_start = o->tab[RK_BANK_SUBJECT].n;
		bm->subj_count = ns;
	}
	cs_add(&cs, RK_BANK_MATCH, m, OP_CREATED);
	for (int q = 0; q < ns; q++)
	{
		int32_t		s = rec_new_from(o, RK_BANK_SUBJECT, &o->books_rng);

		BANKSUBJ(o, s)->match = m;
		BANKSUBJ(o, s)->subj_kind = (uint8_t) skind[q];
		BANKSUBJ(o, s)->subj_idx = sidx[q];
		cs_add(&cs, RK_BANK_SUBJECT, s, OP_CREATED);
	}
	for (int k = nl - 1; k >= 0; k--)
	{
		BANKLINE(o, lines[k])->match = m;
		BANKLINE(o, lines[k])->next = BANKMATCH(o, m)->line_head;
		BANKMATCH(o, m)->line_head = lines[k];
		cs_add(&cs, RK_BANK_LINE, lines[k], OP_UPDATED);
	}
	touch(o, RK_BANK_LINE);
	if (n_docs > 0)
	{
		int32_t		p = payment_create(o, &ps, now, &cs);

		PAYMENT(o, p)->made_by_match = m + 1;
		books_match_payment_posting(o, p, true, &cs);
	}
	else
		for (int q = 0; q < ns; q++)
		{
			if (skind[q] == RK_BANK_PAYMENT)
				books_match_payment_posting(o, sidx[q], true, &cs);
			else
			{
				Transaction *t = TXN(o, DBTXN(o, sidx[q])->txn);

				for (int32_t p = t->posting_start; p < t->posting_start + t->posting_count; p++)
					if (POSTING(o, p)->account == account)
					{
						POSTING(o, p)->bank_matched = true;
						cs_add(&cs, RK_POSTING, p, OP_UPDATED);
					}
				touch(o, RK_POSTING);
			}
		}
	write_respond(w->rs, o, &cs, RK_BANK_MATCH);
	cs_free(&cs);
}

/* ------------------------------------------------------------ files and attachments */

/* mime_ok: is the content type one Billy takes, and do the bytes look like it? */
static const char *
mime_check(const char *ct, const unsigned char *b, size_t n)
{
	char		t[64];
	size_t		k = 0;

	if (ct == NULL)
		return NULL;
	while (*ct && *ct != ';' && k < sizeof(t) - 1)
		t[k++] = (char) (*ct >= 'A' && *ct <= 'Z' ? *ct + 32 : *ct), ct++;
	while (k > 0 && t[k - 1] == ' ')
		k--;
	t[k] = '\0';
	if (strcmp(t, "application/pdf") == 0 && n >= 5 && memcmp(b, "%PDF-", 5) == 0)
		return "application/pdf";
	if ((strcmp(t, "image/jpeg") == 0 || strcmp(t, "image/jpg") == 0) && n >= 3 &&
		b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF)
		return "image/jpeg";
	if (strcmp(t, "image/png") == 0 && n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0)
		return "image/png";
	if (strcmp(t, "image/gif") == 0 && n >= 6 && (memcmp(b, "GIF87a", 6) == 0 || memcmp(b, "GIF89a", 6) == 0))
		return "image/gif";
	return NULL;
}

#define MAX_FILE (20 * 1024 * 1024)

/*
 * books_file_upload answers POST /v2/files: the raw bytes of a PDF or an
 * image (JPEG, PNG, GIF), the name in X-Filename, the type in Content-Type
 * (which must agree with the bytes).  At most 20 MB.
 */
void
books_file_upload(WriteCtx *w)
{
	Org		   *o = w->o;
	const Request *rq = w->rq;
	const char *type;
	ChangeSet	cs = {0};
	int32_t		f;
	unsigned char *bytes;

	if (rq->body_len == 0 || rq->body_too_large || rq->body_len > MAX_FILE)
	{
		resp_unprocessable(w->rs, "file", "file", rq->body_len == 0
						   ? "The request body must be the file's bytes."
						   : "The file is too large (at most 20 MB).");
		return;
	}
	type = mime_check(rq->content_type, (const unsigned char *) rq->body, rq->body_len);
	if (type == NULL)
	{
		resp_unprocessable(w->rs, "file", "fileType",
						   "Only PDF files and images (JPEG, PNG, GIF) can be uploaded; Content-Type must match the bytes.");
		return;
	}
	pthread_rwlock_wrlock(&o->lock);
	bytes = xmalloc(rq->body_len);
	memcpy(bytes, rq->body, rq->body_len);
	f = rec_new_from(o, RK_FILE, &o->books_rng);
	FILEREC(o, f)->bytes = bytes;
	FILEREC(o, f)->size = (int64_t) rq->body_len;
	FILEREC(o, f)->content_type = type;
	FILEREC(o, f)->name = rq->filename && rq->filename[0] ? adup(o, rq->filename)
		: strcmp(type, "application/pdf") == 0 ? "upload.pdf" : "upload";
	FILEREC(o, f)->created = clock_tick();
	FILEREC(o, f)->owner_kind = -1;
	cs_add(&cs, RK_FILE, f, OP_CREATED);
	write_respond(w->rs, o, &cs, RK_FILE);
	cs_free(&cs);
	pthread_rwlock_unlock(&o->lock);
}

/* books_file_download answers GET /v2/files/:id/download with the bytes */
void
books_file_download(Org *o, const char *id, Response *rs)
{
	int32_t		f = id_find(o, RK_FILE, id);
	char	   *tmp;
	int64_t		len;
	const unsigned char *b;

	if (f < 0)
	{
		write_not_found(rs, RK_FILE, id);
		return;
	}
	b = file_bytes(o, f, &tmp, &len);
	rs->status = 200;
	buf_put(&rs->body, (const char *) b, (size_t) len);
	rs->content_type = FILEREC(o, f)->content_type;
	free(tmp);
}

/* attachment_create attaches a file to a bill, invoice or journal entry */
static void
attachment_create(WriteCtx *w)
{
	Org		   *o = w->o;
	json_t	   *obj = root_object(w, "attachment");
	VErr		v = {0};
	Fields		f;
	const char *ref = NULL;
	int32_t		file = -1,
				owner = -1,
				a;
	RK			kind = RK_BILL;
	int64_t		prio = 0;
	ChangeSet	cs = {0};

	if (obj == NULL)
		return;
	fields_init(&f, o, &v, obj, "attachment", NULL, NULL);
	check_org_id(&f);
	get_ref(&f, "fileId", RK_FILE, &file, true);
	if (get_str(&f, "ownerReference", &ref, true) && ref)
	{
		owner = parse_reference(o, ref, (1u << RK_INVOICE) | (1u << RK_BILL) | (1u << RK_DAYBOOK_TXN), &kind);
		if (owner < 0)
			ferr(&f, "ownerReference", "ownerReference must name an existing bill:, invoice: or daybookTransaction:.");
	}
	get_int(&f, "priority", 0, 1000000, &prio);
	if (v.n)
	{
		resp_validation(w->rs, &v);
		return;
	}
	a = rec_new_from(o, RK_ATTACHMENT, &o->books_rng);
	ATTACH(o, a)->owner_kind = (uint8_t) kind;
	ATTACH(o, a)->owner_idx = owner;
	ATTACH(o, a)->file = file;
	ATTACH(o, a)->priority = (int32_t) prio;
	ATTACH(o, a)->created = clock_tick();
	cs_add(&cs, RK_ATTACHMENT, a, OP_CREATED);
	write_respond(w->rs, o, &cs, RK_ATTACHMENT);
	cs_free(&cs);
}

/* ------------------------------------------------------------ dispatch */

/* books_write_create: POST on the books' collections (lock held) */
void
books_write_create(WriteCtx *w)
{
	switch (w->rk)
	{
		case RK_DAYBOOK_TXN:
			dbt_write(w, -1);
			break;
		case RK_BANK_LINE:
			bank_line_create(w);
			break;
		case RK_BANK_MATCH:
			match_create(w);
			break;
		case RK_ATTACHMENT:
			attachment_create(w);
			break;
		default:
			resp_error(w->rs, 405, "METHOD_NOT_ALLOWED", "The method is not allowed for this resource.");
	}
}

/* books_write_update: PUT on a journal entry (lock held) */
void
books_write_update(WriteCtx *w, int32_t i)
{
	if (w->rk == RK_DAYBOOK_TXN)
		dbt_write(w, i);
	else
		resp_error(w->rs, 405, "METHOD_NOT_ALLOWED", "The method is not allowed for this resource.");
}

/*
 * books_write_delete: DELETE a draft journal entry, an unmatched bank line,
 * a match (unmatch) or an attachment; a missing id is 200 with nothing
 * deleted (lock held).
 */
void
books_write_delete(WriteCtx *w)
{
	Org		   *o = w->o;
	int32_t		i = id_find(o, w->rk, w->id);
	ChangeSet	cs = {0};

	if (i >= 0)
	{
		const char *problem = NULL;

		if (w->rk == RK_DAYBOOK_TXN && DBTXN(o, i)->state != ST_DRAFT)
			problem = "Only draft journal entries can be deleted; void an approved one.";
		else if (w->rk == RK_BANK_LINE && BANKLINE(o, i)->match >= 0)
			problem = "A matched bank line cannot be deleted; unmatch it first.";
		if (problem)
		{
			resp_unprocessable(w->rs, res_defs[w->rk].singular, "id", problem);
			return;
		}
		clock_tick();
		switch (w->rk)
		{
			case RK_DAYBOOK_TXN:
				{
					DaybookTxn *d = DBTXN(o, i);

					rec_kill_block(o, RK_DAYBOOK_LINE, d->line_start, d->line_count, &cs);
					rec_kill(o, RK_DAYBOOK_TXN, i);
					cs_add(&cs, RK_DAYBOOK_TXN, i, OP_DELETED);
					break;
				}
			case RK_BANK_MATCH:
				books_unmatch(o, i, &cs);
				break;
			default:
				rec_kill(o, w->rk, i);
				cs_add(&cs, w->rk, i, OP_DELETED);
				break;
		}
		write_respond(w->rs, o, &cs, w->rk);
		cs_free(&cs);
		return;
	}
	resp_json_begin(w->rs, 200);
	buf_printf(&w->rs->body, ",\"deletedRecords\":{\"%s\":[]}}}", res_defs[w->rk].plural);
	w->rs->wrote = true;
}
