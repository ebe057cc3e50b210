/*
 * gen.c - deterministic generation of a realistic Danish small business:
 * the organization, its chart of accounts, tax rates and rulesets,
 * customers and suppliers with contact persons, products with prices,
 * about three years of invoices (seasonal, with credit notes, drafts and
 * voids), bills, bank payments with balance modifiers and sales tax
 * returns.  Everything is a function of (seed, organization index, sizes,
 * today): one generator stream makes the choices, another the ids.
 */
#include "gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "books.h"
#include "ledger.h"
#include "refdata.h"

Time		gen_horizon = INT64_MAX;

typedef struct Gen
{
	Org		   *o;
	const GenParams *gp;
	Rng			r;
	Date		start;
	Date		today;
	int			n_days;
	double	   *cdf_inv;		/* cumulative day weights for invoices */
	double	   *cdf_bill;
	int32_t    *cust;			/* customer contacts in creation order */
	Date	   *cust_date;
	int			n_cust;
	uint8_t    *payer;			/* per contact: 0 prompt, 1 late, 2 bad */
	int32_t		sup_contact[64];
	int			sup_def[64];
	int			sup_next_no[64];
	int			n_sup;
	int32_t    *prod;			/* products for sale */
	int			n_prod;
	int64_t		webshop_no;
} Gen;

#define PICK(r, list) ((list).v[rng_below((r), (uint64_t) (list).n)])

/* gen_time: a time of day on a date, never after the generation horizon */
static Time
gen_time(Date d, int tod)
{
	Time		t = time_from_date(d, 0, 0, 0) + tod;

	return t < gen_horizon ? t : gen_horizon;
}

/* office_tod: a random time between 08:00 and 17:00, in seconds */
static int
office_tod(Rng *r)
{
	return 8 * 3600 + (int) rng_below(r, 9 * 3600);
}

/*
 * rate_on gives a currency's exchange rate (DKK per unit, 6 decimals
 * rounded to 4) on a day: a slow deterministic drift around the base rate,
 * narrow for the euro (the krone is pegged to it).
 */
int64_t
rate_on(int currency, Date d)
{
	int64_t		base = currencies[currency].rate6;
	int64_t		period = 173 + currency * 37;
	int64_t		ph = ((int64_t) d + currency * 61) % period;
	int64_t		tri;			/* -1000..1000 */
	int64_t		amp = currency == CUR_EUR ? 2 : 40; /* per mille */
	int64_t		r;

	if (ph < 0)
		ph += period;
	tri = ph < period / 2 ? ph * 4000 / period - 1000 : 3000 - ph * 4000 / period;
	if (currency == CUR_DKK)
		return RATE_SCALE;
	r = base + base * amp * tri / 1000000;
	return round_div(r, 100) * 100;
}

/* Easter Sunday by the anonymous Gregorian algorithm */
static Date
easter(int y)
{
	int			a = y % 19,
				b = y / 100,
				c = y % 100,
				d = b / 4,
				e = b % 4,
				f = (b + 8) / 25,
				g = (b - f + 1) / 3,
				h = (19 * a + b - d - g + 15) % 30,
				i = c / 4,
				k = c % 4,
				l = (32 + 2 * e + 2 * i - h - k) % 7,
				m = (a + 11 * h + 22 * l) / 451,
				month = (h + l - 7 * m + 114) / 31,
				day = (h + l - 7 * m + 114) % 31 + 1;

	return date_from_ymd(y, month, day);
}

/*
 * dk_is_closed: Saturdays, Sundays and Danish public holidays (with
 * Grundlovsdag, 24 and 31 December treated as closed, and Store Bededag
 * until 2023), the days on which a VAT deadline moves to the next weekday.
 */
bool
dk_is_closed(Date d)
{
	int			y,
				m,
				dd;
	Date		e;

	if (date_weekday(d) >= 5)
		return true;
	date_to_ymd(d, &y, &m, &dd);
	if ((m == 1 && dd == 1) || (m == 6 && dd == 5) ||
		(m == 12 && (dd == 24 || dd == 25 || dd == 26 || dd == 31)))
		return true;
	e = easter(y);
	if (d == e - 3 || d == e - 2 || d == e + 1 || d == e + 39 || d == e + 50)
		return true;
	if (y <= 2023 && d == e + 26)
		return true;
	return false;
}

/* vat_period_bounds gives the first and last day of a VAT period */
void
vat_period_bounds(int period_type, int year, int num, Date *start, Date *end)
{
	int			months = period_type == VP_MONTH ? 1 : period_type == VP_QUARTER ? 3 : 6;
	Date		s = date_from_ymd(year, (num - 1) * months + 1, 1);

	*start = s;
	*end = date_add_months(s, months) - 1;
}

/*
 * vat_deadline: month -> 25th of the next month (June -> 17 August);
 * quarter -> 1st of the third month after the period; half-year ->
 * 1 September / 1 March; moved to the next open day.
 */
Date
vat_deadline(int period_type, int year, int num)
{
	Date		start,
				end,
				d;

	vat_period_bounds(period_type, year, num, &start, &end);
	if (period_type == VP_MONTH)
	{
		if (num == 6)
			d = date_from_ymd(year, 8, 17);
		else
			d = date_add_months(end + 1, 0) + 24;
	}
	else
		d = date_add_months(end + 1, 2);
	while (dk_is_closed(d))
		d++;
	return d;
}

static const int month_weight_inv[12] = {85, 90, 100, 100, 100, 95, 45, 85, 110, 115, 135, 125};
static const int month_weight_bill[12] = {95, 95, 100, 100, 100, 100, 70, 95, 100, 105, 110, 105};

/* build_cdf: cumulative weights of the days from start to today */
static double *
build_cdf(Gen *g, const int *month_weight)
{
	double	   *cdf = xmalloc(sizeof(double) * (size_t) g->n_days);
	double		acc = 0;

	for (int i = 0; i < g->n_days; i++)
	{
		Date		d = g->start + i;
		int			y,
					m,
					dd,
					wd = date_weekday(d);
		double		w = wd == 5 ? 0.08 : wd == 6 ? 0.04 : 1.0;

		date_to_ymd(d, &y, &m, &dd);
		w *= month_weight[m - 1] / 100.0;
		w *= 1.0 + 0.15 * i / 365.0;	/* the business grows */
		acc += w;
		cdf[i] = acc;
	}
	return cdf;
}

/* sample_day draws a day from the cumulative weights */
static Date
sample_day(Gen *g, const double *cdf)
{
	double		u = rng_double(&g->r) * cdf[g->n_days - 1];
	int			lo = 0,
				hi = g->n_days - 1;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (cdf[mid] > u)
			hi = mid;
		else
			lo = mid + 1;
	}
	return g->start + lo;
}

/* gen_cvr makes a valid CVR number: 8 digits, weights 2765432 1, sum % 11 == 0 */
static void
gen_cvr(Rng *r, char out[9])
{
	static const int w[8] = {2, 7, 6, 5, 4, 3, 2, 1};

	for (;;)
	{
		int			d[8],
					s = 0,
					c;

		d[0] = 1 + (int) rng_below(r, 9);
		for (int i = 1; i < 7; i++)
			d[i] = (int) rng_below(r, 10);
		for (int i = 0; i < 7; i++)
			s += w[i] * d[i];
		c = (11 - s % 11) % 11;
		if (c == 10)
			continue;
		d[7] = c;
		for (int i = 0; i < 8; i++)
			out[i] = (char) ('0' + d[i]);
		out[8] = '\0';
		return;
	}
}

/* digits writes n random digits, the first not zero */
static void
digits(Rng *r, char *out, int n)
{
	for (int i = 0; i < n; i++)
		out[i] = (char) ('0' + (i == 0 ? 1 + rng_below(r, 9) : rng_below(r, 10)));
	out[n] = '\0';
}

/* gen_vat_no makes a registration/VAT number in the country's format */
static const char *
gen_vat_no(Gen *g, int kind)
{
	char		d[16],
				e[16];
	Arena	   *a = &g->o->arena;

	switch (kind)
	{
		case VAT_CVR:
			gen_cvr(&g->r, d);
			return arena_strdup(a, d);
		case VAT_DE:
			digits(&g->r, d, 9);
			return arena_printf(a, "DE%s", d);
		case VAT_SE:
			digits(&g->r, d, 10);
			return arena_printf(a, "SE%s01", d);
		case VAT_NL:
			digits(&g->r, d, 9);
			return arena_printf(a, "NL%sB01", d);
		case VAT_FR:
			digits(&g->r, d, 2);
			digits(&g->r, e, 9);
			return arena_printf(a, "FR%s%s", d, e);
		case VAT_FI:
			digits(&g->r, d, 8);
			return arena_printf(a, "FI%s", d);
		case VAT_PL:
			digits(&g->r, d, 10);
			return arena_printf(a, "PL%s", d);
		case VAT_IE:
			digits(&g->r, d, 7);
			return arena_printf(a, "IE%sW", d);
		case VAT_AT:
			digits(&g->r, d, 8);
			return arena_printf(a, "ATU%s", d);
		case VAT_ES:
			digits(&g->r, d, 8);
			return arena_printf(a, "ESB%s", d);
		case VAT_NO:
			digits(&g->r, d, 9);
			return arena_printf(a, "NO%sMVA", d);
		case VAT_GB:
			digits(&g->r, d, 9);
			return arena_printf(a, "GB%s", d);
		case VAT_CH:
			digits(&g->r, d, 9);
			return arena_printf(a, "CHE-%.3s.%.3s.%.3s MWST", d, d + 3, d + 6);
		case VAT_US:
			digits(&g->r, d, 9);
			return arena_printf(a, "%.2s-%s", d, d + 2);
	}
	return NULL;
}

/* strip_form drops a company form ("aps", "as", "is") from the end of a slug */
static void
strip_form(char *slug)
{
	static const char *const forms[] = {"aps", "as", "is"};
	size_t		n = strlen(slug);

	for (int i = 0; i < lengthof(forms); i++)
	{
		size_t		k = strlen(forms[i]);

		if (n > k + 2 && strcmp(slug + n - k, forms[i]) == 0)
		{
			slug[n - k] = '\0';
			if (slug[n - k - 1] == '-')
				slug[n - k - 1] = '\0';
			return;
		}
	}
}

/* strip_form_slug drops a trailing company form ("-a-s", "-gmbh" ...) from a dashed slug */
static void
strip_form_slug(char *slug)
{
	static const char *const forms[] = {"-a-s", "-aps", "-i-s", "-gmbh", "-ab", "-ltd", "-inc", "-b-v",
	"-sp-z-o-o", "-as", "-ag", "-sas", "-oy", "-s-l"};
	size_t		n = strlen(slug);

	for (int i = 0; i < lengthof(forms); i++)
	{
		size_t		k = strlen(forms[i]);

		if (n > k + 2 && strcmp(slug + n - k, forms[i]) == 0)
		{
			slug[n - k] = '\0';
			return;
		}
	}
}

/* gen_phone makes a phone number in the country's style */
static const char *
gen_phone(Gen *g, const CountryGen *cg)
{
	char		d[16];

	digits(&g->r, d, 8);
	if (strcmp(cg->code, "DK") == 0)
		return arena_printf(&g->o->arena, "+45 %.2s %.2s %.2s %.2s", d, d + 2, d + 4, d + 6);
	return arena_printf(&g->o->arena, "%s %s", cg->phone_prefix, d);
}

/* account_by_no finds an account by its number */
static int32_t
account_by_no(Org *o, int no)
{
	for (int32_t i = 0; i < o->tab[RK_ACCOUNT].n; i++)
		if (ACCOUNT(o, i)->account_no == no)
			return i;
	return -1;
}

/* add_rule appends a rule to the ruleset being built */
static int32_t
add_rule(Org *o, int32_t rs, const char *country, int group, int type, TaxKind tk, int prio)
{
	int32_t		i = rec_new(o, RK_RULE);
	Rule	   *r = RULE(o, i);

	r->ruleset = rs;
	snprintf(r->country, sizeof(r->country), "%s", country ? country : "");
	r->country_group = (uint8_t) group;
	r->contact_type = (uint8_t) type;
	r->tax_rate = o->tax[tk];
	r->priority = prio;
	return i;
}

/* add_ruleset starts a ruleset; its rules follow contiguously */
static int32_t
add_ruleset(Org *o, const char *name, const char *abbrev, const char *desc, TaxKind fallback)
{
	int32_t		i = rec_new(o, RK_RULESET);
	Ruleset    *rs = RULESET(o, i);

	rs->name = name;
	rs->abbrev = abbrev;
	rs->description = desc;
	rs->fallback = o->tax[fallback];
	rs->rule_start = o->tab[RK_RULE].n;
	return i;
}

/*
 * setup_reference creates what every organization has, empty or not: the
 * chart of accounts, the predefined tax rates and the sales tax rulesets.
 */
static void
setup_reference(Org *o, Rng *r)
{
	int32_t		rs;

	for (int i = 0; i < n_account_defs; i++)
	{
		const AccountDef *d = &account_defs[i];
		int32_t		a = rec_new(o, RK_ACCOUNT);
		Account    *ac = ACCOUNT(o, a);

		ac->account_no = d->no;
		ac->name = d->name;
		ac->description = d->description;
		ac->nature = d->nature;
		ac->system_role = d->role;
		ac->currency = (uint8_t) d->currency;
		ac->payment_enabled = d->payment;
		ac->bank = d->bank;
		ac->tax_rate = -1;
		if (d->bank)
		{
			char		reg[8],
						no[16];

			digits(r, reg, 4);
			digits(r, no, 10);
			ac->bank_name = "Danske Bank";
			ac->bank_reg = arena_strdup(&o->arena, reg);
			ac->bank_account_no = arena_strdup(&o->arena, no);
			ac->bank_swift = "DABADKKK";
			ac->bank_iban = arena_printf(&o->arena, "DK%02d%s%s", (int) rng_below(r, 90) + 10, reg, no);
		}
	}
	for (int k = 0; k < TR__COUNT; k++)
	{
		const TaxRateDef *d = &taxrate_defs[k];
		int32_t		t = rec_new(o, RK_TAX_RATE);
		TaxRate    *tr = TAXRATE(o, t);

		tr->kind = (uint8_t) d->kind;
		tr->name = d->name;
		tr->abbrev = d->abbrev;
		tr->description = d->description;
		tr->rate6 = d->rate6;
		tr->sales = d->sales;
		tr->purchases = d->purchases;
		tr->reverse_charge = d->reverse_charge;
		tr->deduct_share6 = d->share6;
		tr->deduct_account = d->deduct_account_no ? account_by_no(o, d->deduct_account_no) : -1;
		o->tax[d->kind] = t;
	}
	for (int i = 0; i < n_account_defs; i++)
		if (account_defs[i].tax >= 0)
			ACCOUNT(o, i)->tax_rate = o->tax[account_defs[i].tax];

	o->acc_ar = account_by_no(o, 5710);
	o->acc_ap = account_by_no(o, 6810);
	o->acc_bank = account_by_no(o, 5810);
	o->acc_bank_eur = account_by_no(o, 5820);
	o->acc_cash = account_by_no(o, 5830);
	o->acc_sales_goods = account_by_no(o, 1110);
	o->acc_sales_services = account_by_no(o, 1140);
	o->acc_sales_exempt = account_by_no(o, 1170);
	o->acc_fee = account_by_no(o, 4310);
	o->acc_fx = account_by_no(o, 4350);

	rs = add_ruleset(o, "Varer", "VARER",
					 "Salg af varer: dansk moms i Danmark og til private i EU, "
					 "0% til virksomheder med momsnummer i andre EU-lande, eksport uden moms",
					 TR_S25);
	add_rule(o, rs, "DK", GROUP_NONE, RULE_ANY_TYPE, TR_S25, 1);
	add_rule(o, rs, NULL, GROUP_EU, RULE_COMPANY, TR_EUV, 2);
	add_rule(o, rs, NULL, GROUP_EU, RULE_PERSON, TR_S25, 3);
	add_rule(o, rs, NULL, GROUP_NONE, RULE_ANY_TYPE, TR_EKS, 4);
	RULESET(o, rs)->rule_count = o->tab[RK_RULE].n - RULESET(o, rs)->rule_start;
	o->rs_goods = rs;

	rs = add_ruleset(o, "Ydelser", "YDELSER",
					 "Salg af ydelser: dansk moms i Danmark og til private i EU, "
					 "0% til virksomheder i andre EU-lande, uden moms uden for EU",
					 TR_S25);
	add_rule(o, rs, "DK", GROUP_NONE, RULE_ANY_TYPE, TR_S25, 1);
	add_rule(o, rs, NULL, GROUP_EU, RULE_COMPANY, TR_EUY, 2);
	add_rule(o, rs, NULL, GROUP_EU, RULE_PERSON, TR_S25, 3);
	add_rule(o, rs, NULL, GROUP_NONE, RULE_ANY_TYPE, TR_EKS, 4);
	RULESET(o, rs)->rule_count = o->tab[RK_RULE].n - RULESET(o, rs)->rule_start;
	o->rs_services = rs;

	rs = add_ruleset(o, "Momsfri", "MOMSFRI", "Momsfritaget salg (momslovens § 13)", TR_FRI);
	add_rule(o, rs, NULL, GROUP_NONE, RULE_ANY_TYPE, TR_FRI, 1);
	RULESET(o, rs)->rule_count = o->tab[RK_RULE].n - RULESET(o, rs)->rule_start;
	o->rs_exempt = rs;
}

/* add_person adds a contact person to the contact being built (contiguous block) */
static void
add_person(Gen *g, int32_t contact, const char *first, const char *last,
		   const char *domain, bool primary, const CountryGen *cg)
{
	Org		   *o = g->o;
	int32_t		p = rec_new(o, RK_CONTACT_PERSON);
	ContactPerson *cp = PERSON(o, p);
	char		f[64],
				l[64];

	ascii_slug(f, sizeof(f), first, 0);
	ascii_slug(l, sizeof(l), last, 0);
	cp->contact = contact;
	cp->primary = primary;
	cp->name = arena_printf(&o->arena, "%s %s", first, last);
	if (domain)
		cp->email = arena_printf(&o->arena, "%s.%s@%s", f, l, domain);
	else
		cp->email = arena_printf(&o->arena, "%s.%s%d@%s", f, l, (int) rng_below(&g->r, 90) + 10,
								 PICK(&g->r, email_domains_private));
	cp->phone = gen_phone(g, cg);
}

/*
 * make_contact creates a contact (company or person) in a country, with
 * one to three contact persons.  Names are built from name parts; the
 * e-mail domain is a slug of the company name.
 */
static int32_t
make_contact(Gen *g, const CountryGen *cg, bool company, const char *fixed_name, Time created)
{
	Org		   *o = g->o;
	Rng		   *r = &g->r;
	int32_t		c = rec_new(o, RK_CONTACT);
	Contact    *ct;
	char		base[160],
				slug[160],
				domain[200];
	const char *form = cg->form;
	const Place *pl = &cg->places[rng_below(r, (uint64_t) cg->n_places)];
	bool		dk = strcmp(cg->code, "DK") == 0;
	const char *first = PICK(r, cg->first_names);
	const char *last = PICK(r, cg->surnames);
	int			npersons;

	if (fixed_name)
		snprintf(base, sizeof(base), "%s", fixed_name);
	else if (!company)
		snprintf(base, sizeof(base), "%s %s", first, last);
	else if (dk)
	{
		int			pat = (int) rng_below(r, 10);

		if (pat < 3)
			snprintf(base, sizeof(base), "%s %s", PICK(r, cg->surnames), PICK(r, dk_trades));
		else if (pat < 6)
			snprintf(base, sizeof(base), "%s %s", PICK(r, dk_company_words), PICK(r, dk_trades));
		else if (pat < 8)
			snprintf(base, sizeof(base), "%s %s", PICK(r, dk_places), PICK(r, dk_trades));
		else
			snprintf(base, sizeof(base), "%s & %s", PICK(r, cg->surnames), PICK(r, cg->surnames));
		form = pat == 9 ? "I/S" : rng_chance(r, 0.2) ? "A/S" : "ApS";
	}
	else if (rng_chance(r, 0.5))
		snprintf(base, sizeof(base), "%s %s", PICK(r, cg->surnames), PICK(r, cg->words));
	else
		snprintf(base, sizeof(base), "%s", PICK(r, cg->words));

	ascii_slug(slug, sizeof(slug), base, '-');
	if (fixed_name)
		strip_form_slug(slug);
	snprintf(domain, sizeof(domain), "%s.%s", slug, cg->tld);

	ct = CONTACT(o, c);
	ct->type = company ? CT_COMPANY : CT_PERSON;
	if (fixed_name || !company)
		ct->name = arena_strdup(&o->arena, base);
	else
		ct->name = arena_printf(&o->arena, "%s %s", base, form);
	snprintf(ct->country, sizeof(ct->country), "%s", cg->code);
	ct->created = created;
	ct->street = arena_printf(&o->arena, "%s %d", PICK(r, cg->streets), (int) rng_range(r, 1, 140));
	ct->zipcode = pl->zip;
	ct->city = pl->city;
	ct->phone = gen_phone(g, cg);
	ct->locale = cg->locale;
	ct->currency = (uint8_t) cg->currency;
	ct->terms_mode = TERMS_NET;
	ct->terms_days = !company ? 8 : !dk ? 30 : (int16_t) (rng_chance(r, 0.2) ? 8 : rng_chance(r, 0.5) ? 14 : 30);
	ct->registration_no = company ? gen_vat_no(g, cg->vat_kind) : NULL;
	ct->contact_no = arena_printf(&o->arena, "%d", o->next_contact_no++);
	{
		char		code[TOKEN_LEN + 1];

		rng_token(r, code);
		ct->access_code = arena_strndup(&o->arena, code, 16);
	}
	ct->gen_kind = -1;
	ct->person_start = o->tab[RK_CONTACT_PERSON].n;

	npersons = company ? 1 + (int) rng_below(r, 3) : 1;
	for (int i = 0; i < npersons; i++)
	{
		const char *f = first,
				   *l = last;

		/* colleagues get other names than the ones already there */
		for (int tries = 0; i > 0 && tries < 8; tries++)
		{
			bool		dup = false;

			f = PICK(r, cg->first_names);
			l = PICK(r, cg->surnames);
			for (int32_t k = CONTACT(o, c)->person_start; k < o->tab[RK_CONTACT_PERSON].n; k++)
				if (strncmp(PERSON(o, k)->name, f, strlen(f)) == 0)
					dup = true;
			if (!dup)
				break;
		}
		add_person(g, c, f, l, company ? domain : NULL, i == 0, cg);
	}
	CONTACT(o, c)->person_count = npersons;
	return c;
}

/* pick_eu_country: an EU country weighted like a Danish firm's customers */
static const CountryGen *
pick_eu_country(Rng *r)
{
	static const char *const codes[] = {"DE", "SE", "NL", "FR", "FI", "PL", "IE", "AT", "ES"};
	static const int w[] = {30, 20, 15, 10, 7, 6, 6, 4, 2};

	return country_gen(codes[rng_weighted(r, w, lengthof(w))]);
}

/* pick_world_country: a customer country outside the EU */
static const CountryGen *
pick_world_country(Rng *r)
{
	static const char *const codes[] = {"NO", "US", "GB", "CH"};
	static const int w[] = {35, 25, 25, 15};

	return country_gen(codes[rng_weighted(r, w, lengthof(w))]);
}

/*
 * gen_contacts: suppliers first (one per supplier template, in an order
 * that covers the interesting VAT cases even for tiny data sets), then
 * customers: about 70% Danish, 18% other EU, 12% outside the EU.
 */
static void
gen_contacts(Gen *g)
{
	static const int sup_order[] = {6, 13, 8, 11, 16, 0, 4, 2, 9, 18, 5, 3, 1, 7, 10, 12, 14, 15, 17};
	Org		   *o = g->o;
	int			n = g->gp->contacts;
	int			ns = n >= 4 ? Min(n_supplier_defs, n / 4) : n >= 2 ? 1 : 0;
	int			nc = n - ns;
	int			early = Max(1, nc / 5);
	Time		t0 = o->created + 3600;

	for (int i = 0; i < ns; i++)
	{
		int			d = sup_order[i % lengthof(sup_order)];
		const SupplierDef *sd = &supplier_defs[d];
		const CountryGen *cg = country_gen(sd->country);
		int32_t		c = make_contact(g, cg, true, sd->name, t0 + i * 600);
		Contact    *ct = CONTACT(o, c);

		ct->customer = false;
		ct->supplier = true;
		ct->currency = (uint8_t) sd->currency;
		ct->terms_days = (int16_t) sd->terms_days;
		ct->gen_kind = d;
		g->sup_contact[g->n_sup] = c;
		g->sup_def[g->n_sup] = d;
		g->sup_next_no[g->n_sup] = 10000 + (int) rng_below(&g->r, 80000);
		g->n_sup++;
	}

	g->cust = xmalloc(sizeof(int32_t) * (size_t) Max(nc, 1));
	g->cust_date = xmalloc(sizeof(Date) * (size_t) Max(nc, 1));
	for (int i = 0; i < nc; i++)
	{
		Rng		   *r = &g->r;
		double		u = rng_double(r);
		const CountryGen *cg;
		bool		company;
		Date		d;
		Time		created;
		int32_t		c;

		if (u < 0.70)
		{
			cg = country_gen("DK");
			company = rng_chance(r, 0.75);
		}
		else if (u < 0.88)
		{
			cg = pick_eu_country(r);
			company = rng_chance(r, 0.85);
		}
		else
		{
			cg = pick_world_country(r);
			company = rng_chance(r, 0.85);
		}
		if (i < early)
			d = g->start - 30 + (int) ((int64_t) i * 29 / early);
		else
			d = g->start + (int) ((int64_t) (i - early) * Max(g->n_days - 14, 1) / Max(nc - early, 1));
		created = gen_time(d, office_tod(r));
		if (i > 0 && created < CONTACT(o, g->cust[i - 1])->created)
			created = CONTACT(o, g->cust[i - 1])->created;
		c = make_contact(g, cg, company, NULL, created);
		{
			Contact    *ct = CONTACT(o, c);

			ct->customer = true;
			ct->supplier = rng_chance(r, 0.02);
			/* a few EU businesses never gave a VAT number: Danish VAT applies */
			if (company && country_is_eu(ct->country) && strcmp(ct->country, "DK") != 0 &&
				rng_chance(r, 0.05))
				ct->registration_no = NULL;
			if (i < early && rng_chance(r, 0.05))
				ct->archived = true;
			if (ct->currency == CUR_EUR && rng_chance(r, 0.15))
				ct->currency = CUR_DKK;
		}
		g->cust[i] = c;
		g->cust_date[i] = d;
	}
	g->n_cust = nc;

	g->payer = xcalloc((size_t) Max(o->tab[RK_CONTACT].n, 1), 1);
	for (int32_t i = 0; i < o->tab[RK_CONTACT].n; i++)
	{
		double		u = rng_double(&g->r);

		g->payer[i] = u < 0.70 ? 0 : u < 0.95 ? 1 : 2;
	}
}

/*
 * gen_products: a catalogue of lamps and furniture (goods), design
 * services and a few VAT-exempt courses, each with a DKK price and some
 * with a EUR price.
 */
static void
gen_products(Gen *g)
{
	Org		   *o = g->o;
	Rng		   *r = &g->r;
	int			n = g->gp->products;
	int			goods[32],
				ng = 0,
				other[32],
				no = 0,
				gi = 0,
				oi = 0;

	for (int i = 0; i < n_product_defs; i++)
	{
		if (product_defs[i].kind == PK_GOODS)
			goods[ng++] = i;
		else
			other[no++] = i;
	}
	g->prod = xmalloc(sizeof(int32_t) * (size_t) Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		const ProductDef *pd;
		int32_t		p;
		Product    *pr;
		int64_t		steps,
					price;
		const char *name;

		if ((i % 4 == 1 && oi < no) || ng == 0)
		{
			pd = &product_defs[other[oi % no]];
			name = oi < no ? pd->name : arena_printf(&o->arena, "%s (%d)", pd->name, oi / no + 1);
			oi++;
		}
		else
		{
			int			v = gi / ng;

			pd = &product_defs[goods[gi % ng]];
			if (v < product_variants.n)
				name = arena_printf(&o->arena, "%s %s", pd->name, product_variants.v[v]);
			else
				name = arena_printf(&o->arena, "%s %s %d", pd->name,
									product_variants.v[v % product_variants.n], v / product_variants.n + 1);
			gi++;
		}
		p = rec_new(o, RK_PRODUCT);
		pr = PRODUCT(o, p);
		pr->name = name;
		pr->product_no = arena_printf(&o->arena, "%d", 1001 + i);
		pr->created = o->created + 7200 + i * 60;
		pr->account = pd->kind == PK_GOODS ? o->acc_sales_goods
			: pd->kind == PK_SERVICE ? o->acc_sales_services : o->acc_sales_exempt;
		pr->ruleset = pd->kind == PK_GOODS ? o->rs_goods
			: pd->kind == PK_SERVICE ? o->rs_services : o->rs_exempt;
		if (pd->kind == PK_GOODS)
		{
			/* materials that suit the item */
			static const char *const lamp[] = {"messing", "opalglas", "sort metal", "hvid metal", "røget glas"};
			static const char *const wood[] = {"eg", "ask", "røget eg", "valnød", "sortbejdset ask"};
			static const char *const textile[] = {"uld", "hør", "bomuld", "bouclé"};
			static const char *const deco[] = {"stentøj", "porcelæn", "messing", "sort jern", "glas"};
			const char *const *mat;
			int			nmat;

			if (strstr("Pendel Bordlampe Gulvlampe Væglampe", pd->name))
				mat = lamp, nmat = lengthof(lamp);
			else if (strstr("Tæppe Pude Plaid", pd->name))
				mat = textile, nmat = lengthof(textile);
			else if (strstr("Vase Lysestage Spejl", pd->name))
				mat = deco, nmat = lengthof(deco);
			else
				mat = wood, nmat = lengthof(wood);
			pr->description = arena_printf(&o->arena, "%s i %s", pd->name, mat[rng_below(r, (uint64_t) nmat)]);
			if (rng_chance(r, 0.5))
				pr->suppliers_no = arena_printf(&o->arena, "KJ-%05d", (int) rng_below(r, 100000));
		}
		pr->archived = rng_chance(r, 0.05);
		pr->price_start = o->tab[RK_PRODUCT_PRICE].n;

		steps = (pd->max_price - pd->min_price) / pd->round_to;
		price = pd->min_price + rng_range(r, 0, steps) * pd->round_to;
		{
			int32_t		pp = rec_new(o, RK_PRODUCT_PRICE);

			PRICE(o, pp)->product = p;
			PRICE(o, pp)->currency = CUR_DKK;
			PRICE(o, pp)->unit_price = price;
		}
		if (pd->qty_kind != 2 && rng_chance(r, 0.4))
		{
			int32_t		pp = rec_new(o, RK_PRODUCT_PRICE);

			PRICE(o, pp)->product = p;
			PRICE(o, pp)->currency = CUR_EUR;
			/* whole euros */
			PRICE(o, pp)->unit_price = round_div(price * RATE_SCALE / currencies[CUR_EUR].rate6, 100) * 100;
		}
		PRODUCT(o, p)->price_count = o->tab[RK_PRODUCT_PRICE].n - PRODUCT(o, p)->price_start;
		g->prod[i] = p;
	}
	g->n_prod = n;
}

/* product_price: the product's price in a currency, converting from DKK if it has none */
static int64_t
product_price(Gen *g, int32_t p, int cur, int64_t rate6)
{
	Org		   *o = g->o;
	Product    *pr = PRODUCT(o, p);
	int64_t		dkk = 0;

	for (int32_t i = pr->price_start; i < pr->price_start + pr->price_count; i++)
	{
		if (PRICE(o, i)->currency == cur)
			return PRICE(o, i)->unit_price;
		if (PRICE(o, i)->currency == CUR_DKK)
			dkk = PRICE(o, i)->unit_price;
	}
	if (cur == CUR_DKK)
		return dkk;
	if (cur == CUR_SEK || cur == CUR_NOK)
		return round_div(dkk * RATE_SCALE / rate6, 100) * 100;
	return round_div(dkk * RATE_SCALE, rate6);
}

/* product_qty_kind: whether a product sells by the piece, hour or km */
static int
product_qty_kind(const Product *pr)
{
	for (int i = 0; i < n_product_defs; i++)
		if (strncmp(pr->name, product_defs[i].name, strlen(product_defs[i].name)) == 0)
			return product_defs[i].qty_kind;
	return 0;
}

/* one invoice to be created: base invoices first, credit notes added later */
typedef struct InvSpec
{
	Date		date;
	int32_t		tod;
	int32_t		seq;
	int32_t		credits;		/* spec index of the credited invoice, -1 */
	uint8_t		state;
	int32_t		rec;			/* record index once created */
} InvSpec;

/* cmp_spec orders invoice specs by date, time of day, then sequence */
static int
cmp_spec(const void *a, const void *b)
{
	const InvSpec *x = a,
			   *y = b;

	if (x->date != y->date)
		return x->date < y->date ? -1 : 1;
	if (x->tod != y->tod)
		return x->tod < y->tod ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* pick_customer: one of the customers that existed on date d, older ones more often */
static int32_t
pick_customer(Gen *g, Date d)
{
	int			lo = 0,
				hi = g->n_cust;
	double		u;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (g->cust_date[mid] <= d)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		lo = 1;
	u = rng_double(&g->r);
	return g->cust[(int) (lo * u * u)];
}

/* fill_line makes a realistic invoice line for a product (quantity, price, discount, tax rate) */
static void
fill_line(Gen *g, int32_t ln, int32_t inv, int32_t product, int prio)
{
	Org		   *o = g->o;
	Rng		   *r = &g->r;
	Invoice    *v = INVOICE(o, inv);
	InvoiceLine *l = ILINE(o, ln);
	const Product *pr = PRODUCT(o, product);
	int			qk = product_qty_kind(pr);

	l->invoice = inv;
	l->product = product;
	l->priority = prio;
	l->unit_price = product_price(g, product, v->currency, v->rate6);
	l->tax_rate = product_tax_rate(o, product, v->contact);
	l->description = pr->name;
	if (qk == 1)
	{
		l->quantity = rng_range(r, 2, 80) * (QTY_SCALE / 2);
		if (rng_chance(r, 0.3))
		{
			int			y,
						m,
						d;

			date_to_ymd(v->entry_date, &y, &m, &d);
			l->description = arena_printf(&o->arena, "%s, uge %d", pr->name,
										  (v->entry_date - date_from_ymd(y, 1, 1)) / 7 + 1);
		}
	}
	else if (qk == 2)
		l->quantity = rng_range(r, 12, 250) * QTY_SCALE;
	else
	{
		double		u = rng_double(r);

		l->quantity = (u < 0.6 ? 1 : u < 0.8 ? 2 : u < 0.92 ? rng_range(r, 3, 5) : rng_range(r, 6, 20)) * QTY_SCALE;
	}
	if (rng_chance(r, 0.08))
	{
		static const int64_t pct[] = {50000, 100000, 125000, 150000, 200000, 250000};

		l->discount_mode = DISC_PERCENT;
		l->discount_value = pct[rng_below(r, lengthof(pct))];
		l->discount_text = arena_printf(&o->arena, "Rabat %s%%",
										l->discount_value == 125000 ? "12,5" : "");
		if (l->discount_value != 125000)
			l->discount_text = arena_printf(&o->arena, "Rabat %lld%%", (long long) (l->discount_value / QTY_SCALE));
	}
	else if (rng_chance(r, 0.02))
	{
		int64_t		gross = l->unit_price * l->quantity / QTY_SCALE;
		int64_t		v100 = Min(rng_range(r, 50, 500) * 100, gross / 2 / 100 * 100);

		if (v100 > 0)
		{
			l->discount_mode = DISC_CASH;
			l->discount_value = v100 * (QTY_SCALE / 100);
			l->discount_text = "Mængderabat";
		}
	}
}

/*
 * gen_invoices creates the invoices in creation order (entry date, then
 * time of day): base invoices sampled over about three years with
 * seasonality and growth, and credit notes for about 3% of them, dated
 * after the invoice they credit.  Approved documents are numbered in
 * approval order.  Balances are set to the gross; payments come later.
 */
static InvSpec *
gen_invoices(Gen *g, int *n_specs_out)
{
	Org		   *o = g->o;
	Rng		   *r = &g->r;
	int			n = g->gp->invoices;
	int			n_cn = n >= 20 ? n * 3 / 100 : 0;
	int			nb = n - n_cn;
	InvSpec    *s;
	int32_t    *count;
	int			k = 0;
	int64_t		no = 1;
	Time		last_approved = TIME_NONE;

	if (g->n_cust == 0 || g->n_prod == 0)
		n = nb = n_cn = 0;
	s = xmalloc(sizeof(InvSpec) * (size_t) Max(n, 1));
	/* sample dates, then counting-sort them */
	count = xcalloc((size_t) g->n_days + 1, sizeof(int32_t));
	{
		Date	   *tmp = xmalloc(sizeof(Date) * (size_t) Max(nb, 1));

		for (int i = 0; i < nb; i++)
		{
			tmp[i] = sample_day(g, g->cdf_inv);
			count[tmp[i] - g->start]++;
		}
		for (int d = 0; d < g->n_days; d++)
			for (int j = 0; j < count[d]; j++)
			{
				s[k].date = g->start + d;
				s[k].tod = office_tod(r);
				s[k].seq = k;
				s[k].credits = -1;
				s[k].rec = -1;
				k++;
			}
		free(tmp);
	}
	free(count);
	for (int i = 0; i < nb; i++)
	{
		int			age = g->today - s[i].date;
		double		u = rng_double(r);

		if (age <= 21)
			s[i].state = u < 0.20 ? ST_DRAFT : ST_APPROVED;
		else
			s[i].state = u < 0.005 ? ST_DRAFT : u < 0.02 ? ST_VOIDED : ST_APPROVED;
	}
	/* credit notes for approved invoices old enough to be credited */
	for (int c = 0; c < n_cn; c++)
	{
		int			orig = -1;

		for (int tries = 0; tries < 50; tries++)
		{
			int			cand = (int) rng_below(r, (uint64_t) nb);

			if (s[cand].state == ST_APPROVED && s[cand].date < g->today - 2 && s[cand].credits == -1)
			{
				orig = cand;
				break;
			}
		}
		if (orig < 0)
			continue;
		s[k].date = Min(g->today, s[orig].date + 1 + (int) rng_below(r, 40));
		s[k].tod = office_tod(r);
		s[k].seq = k;
		s[k].credits = s[orig].seq;
		s[k].state = ST_APPROVED;
		s[k].rec = -1;
		s[orig].credits = -2;	/* has a credit note */
		k++;
	}
	n = k;
	/* base specs keep seq == index; sort all by time, then map seq -> index */
	qsort(s, (size_t) n, sizeof(InvSpec), cmp_spec);
	{
		int32_t    *pos = xmalloc(sizeof(int32_t) * (size_t) Max(n, 1));

		for (int i = 0; i < n; i++)
			pos[s[i].seq] = i;
		for (int i = 0; i < n; i++)
			if (s[i].credits >= 0)
				s[i].credits = pos[s[i].credits];
		free(pos);
	}

	for (int i = 0; i < n; i++)
	{
		int32_t		inv = rec_new(o, RK_INVOICE);
		Invoice    *v = INVOICE(o, inv);
		int			nlines;
		Contact    *ct;

		s[i].rec = inv;
		v->att_person = -1;
		v->credited = -1;
		v->bm_head = v->bm_tail = -1;
		v->entry_date = s[i].date;
		v->created = gen_time(s[i].date, s[i].tod);
		v->state = s[i].state;
		v->terms_mode = TERMS_NET;
		v->line_start = o->tab[RK_INVOICE_LINE].n;

		if (s[i].credits >= 0)
		{
			/* a credit note: same customer and terms, some or all lines */
			int32_t		oi = s[s[i].credits].rec;
			Invoice    *ov = INVOICE(o, oi);
			bool		full = rng_chance(r, 0.5);
			int			first = full ? 0 : (int) rng_below(r, (uint64_t) ov->line_count);
			int			cnt = full ? ov->line_count : 1;

			v->type = DOC_CREDIT_NOTE;
			v->credited = oi;
			v->contact = ov->contact;
			v->att_person = ov->att_person;
			v->currency = ov->currency;
			v->rate6 = ov->rate6;
			v->tax_mode = ov->tax_mode;
			v->terms_days = ov->terms_days;
			v->contact_message = arena_printf(&o->arena, "Kreditnota vedrørende faktura nr. %s",
											  ov->invoice_no ? ov->invoice_no : "");
			for (int j = 0; j < cnt; j++)
			{
				int32_t		ln = rec_new(o, RK_INVOICE_LINE);
				InvoiceLine *src = ILINE(o, INVOICE(o, oi)->line_start + first + j);
				InvoiceLine *dst = ILINE(o, ln);
				RecHead		h = dst->h;

				memset(dst, 0, sizeof(*dst));
				dst->h = h;
				dst->invoice = inv;
				dst->product = src->product;
				dst->tax_rate = src->tax_rate;
				dst->priority = j;
				dst->description = src->description;
				dst->unit_price = src->unit_price;
				dst->discount_mode = src->discount_mode;
				dst->discount_value = src->discount_value;
				dst->discount_text = src->discount_text;
				dst->quantity = src->quantity;
				if (!full && src->quantity >= 2 * QTY_SCALE)
					dst->quantity = src->quantity / QTY_SCALE / 2 * QTY_SCALE;
				if (dst->discount_mode == DISC_CASH)
				{
					dst->discount_mode = DISC_NONE;
					dst->discount_value = 0;
					dst->discount_text = NULL;
				}
			}
			nlines = cnt;
		}
		else
		{
			static const int lw[] = {0, 25, 25, 20, 13, 8, 5, 0, 4};
			int32_t		c = pick_customer(g, s[i].date);

			ct = CONTACT(o, c);
			v->type = DOC_INVOICE;
			v->contact = c;
			v->currency = ct->currency;
			v->rate6 = rate_on(v->currency, s[i].date);
			v->tax_mode = ct->type == CT_PERSON ? (rng_chance(r, 0.7) ? TAX_INCL : TAX_EXCL)
				: (rng_chance(r, 0.03) ? TAX_INCL : TAX_EXCL);
			v->terms_days = ct->terms_days;
			if (ct->type == CT_COMPANY && ct->person_count > 0 && rng_chance(r, 0.6))
				v->att_person = ct->person_start + (int32_t) rng_below(r, (uint64_t) ct->person_count);
			if (rng_chance(r, 0.15))
				v->contact_message = rng_chance(r, 0.5) ? "Tak for handlen." : "Betaling senest på forfaldsdatoen.";
			if (ct->type == CT_COMPANY && rng_chance(r, 0.2))
				v->order_no = arena_printf(&o->arena, "PO-%05d", (int) rng_below(r, 100000));
			if (ct->type == CT_PERSON && v->tax_mode == TAX_INCL && rng_chance(r, 0.5))
				v->external_id = arena_printf(&o->arena, "webshop-%lld", (long long) ++g->webshop_no);
			nlines = rng_weighted(r, lw, lengthof(lw));
			for (int j = 0; j < nlines; j++)
			{
				int32_t		ln = rec_new(o, RK_INVOICE_LINE);
				int32_t		p;
				double		u = rng_double(r);

				p = g->prod[(int) (g->n_prod * u * u)];
				if (PRODUCT(o, p)->archived)
					p = g->prod[rng_below(r, (uint64_t) g->n_prod)];
				fill_line(g, ln, inv, p, j);
			}
		}
		v = INVOICE(o, inv);
		v->line_count = nlines;
		v->due_date = v->entry_date + v->terms_days;
		invoice_recalc(o, inv);
		v = INVOICE(o, inv);
		if (v->state != ST_DRAFT)
		{
			/* numbered in approval order: approvals keep the creation order */
			Time		at = v->created + 30 + (Time) rng_below(r, 600);

			v->invoice_no = arena_printf(&o->arena, "%lld", (long long) no++);
			at = Max(at, last_approved);
			v->approved = Min(at, gen_horizon);
			last_approved = v->approved;
			{
				double		u = rng_double(r);

				v->sent_state = u < 0.10 ? SENT_UNSENT : u < 0.30 ? SENT_SENT
					: u < 0.50 ? SENT_OPENED : SENT_VIEWED;
			}
			v->balance = v->state == ST_APPROVED ? v->gross : 0;
		}
		else
		{
			v->approved = TIME_NONE;
			v->sent_state = SENT_UNSENT;
			v->balance = 0;
		}
	}
	o->next_invoice_no = no;
	*n_specs_out = n;
	return s;
}

/* gen_bills: purchases from the supplier templates, one or a few lines each */
typedef struct BillPlan
{
	int32_t		bill;
	Date		pay;			/* DATE_NONE: unpaid */
} BillPlan;

/* gen_bills makes the bills and plans their payments */
static BillPlan *
gen_bills(Gen *g, int *n_out)
{
	Org		   *o = g->o;
	Rng		   *r = &g->r;
	int			n = g->n_sup > 0 ? g->gp->bills : 0;
	BillPlan   *plan = xmalloc(sizeof(BillPlan) * (size_t) Max(n, 1));
	InvSpec    *s = xmalloc(sizeof(InvSpec) * (size_t) Max(n, 1));
	int			weights[64];
	int64_t		voucher = 1;
	Time		last_approved = TIME_NONE;
	static const char *const months[] = {"januar", "februar", "marts", "april", "maj", "juni", "juli",
	"august", "september", "oktober", "november", "december"};

	for (int i = 0; i < g->n_sup; i++)
		weights[i] = supplier_defs[g->sup_def[i]].weight;
	for (int i = 0; i < n; i++)
	{
		s[i].date = sample_day(g, g->cdf_bill);
		s[i].tod = office_tod(r);
		s[i].seq = i;
	}
	qsort(s, (size_t) n, sizeof(InvSpec), cmp_spec);
	for (int i = 0; i < n; i++)
	{
		int			si = rng_weighted(r, weights, g->n_sup);
		const SupplierDef *sd = &supplier_defs[g->sup_def[si]];
		int32_t		b = rec_new(o, RK_BILL);
		Bill	   *bl = BILL(o, b);
		int			nlines = 1;
		int			y,
					m,
					d;
		int			age = g->today - s[i].date;
		double		u = rng_double(r);

		date_to_ymd(s[i].date, &y, &m, &d);
		bl->type = DOC_INVOICE;
		bl->contact = g->sup_contact[si];
		bl->credited = -1;
		bl->bm_head = bl->bm_tail = -1;
		bl->entry_date = s[i].date;
		bl->due_date = s[i].date + sd->terms_days;
		bl->created = gen_time(s[i].date, s[i].tod);
		bl->tax_mode = (uint8_t) sd->tax_mode;
		bl->currency = (uint8_t) sd->currency;
		bl->rate6 = rate_on(sd->currency, s[i].date);
		bl->suppliers_invoice_no = arena_printf(&o->arena, "%d", g->sup_next_no[si]++);
		bl->state = age <= 10 ? (u < 0.15 ? ST_DRAFT : ST_APPROVED) : (u < 0.01 ? ST_VOIDED : ST_APPROVED);
		bl->line_start = o->tab[RK_BILL_LINE].n;
		if (sd->kind == SUP_GOODS_DK || sd->kind == SUP_GOODS_EU)
			nlines = 1 + (int) rng_below(r, 3);
		for (int j = 0; j < nlines; j++)
		{
			int32_t		ln = rec_new(o, RK_BILL_LINE);
			BillLine   *l = BLINE(o, ln);
			int64_t		amt = rng_range(r, sd->min_amount, sd->max_amount);

			l->bill = b;
			l->priority = j;
			l->account = account_by_no(o, sd->account_no);
			l->tax_rate = o->tax[sd->tax];
			if (sd->kind == SUP_RESTAURANT || sd->kind == SUP_OFFICE)
				amt = amt / 100 * 100;	/* receipts in whole kroner */
			l->input_amount = amt;
			if (sd->kind == SUP_RENT)
				l->description = arena_printf(&o->arena, "%s %s %d", sd->line_text, months[m - 1], y);
			else if (sd->kind == SUP_SAAS || sd->kind == SUP_PHONE)
				l->description = arena_printf(&o->arena, "%s %02d/%d", sd->line_text, m, y);
			else if (j == nlines - 1 && j > 0 && sd->kind == SUP_GOODS_DK)
			{
				l->description = "Fragt";
				l->account = account_by_no(o, 1340);
				l->input_amount = rng_range(r, 150, 900) * 100;
			}
			else if (sd->kind == SUP_GOODS_DK || sd->kind == SUP_GOODS_EU)
				l->description = arena_printf(&o->arena, "%s, varenr. %05d", sd->line_text,
											  (int) rng_below(r, 100000));
			else
				l->description = sd->line_text;
		}
		bl = BILL(o, b);
		bl->line_count = nlines;
		bill_recalc(o, b);
		bl = BILL(o, b);
		plan[i].bill = b;
		plan[i].pay = DATE_NONE;
		if (bl->state != ST_DRAFT)
		{
			bl->voucher_no = arena_printf(&o->arena, "%lld", (long long) voucher++);
			bl->approved = Min(Max(bl->created + 60 + (Time) rng_below(r, 1800), last_approved), gen_horizon);
			last_approved = bl->approved;
			bl->balance = bl->state == ST_APPROVED ? bl->gross : 0;
			if (bl->state == ST_APPROVED && bl->gross > 0)
			{
				Date		pay;
				double		v = rng_double(r);

				if (sd->terms_days == 0)
					pay = bl->entry_date;
				else if (v < 0.80)
					pay = bl->due_date;
				else if (v < 0.95)
					pay = bl->due_date + 1 + (int) rng_below(r, 10);
				else
					pay = DATE_NONE;	/* disputed: stays unpaid */
				if (pay != DATE_NONE && pay <= g->today)
					plan[i].pay = pay;
			}
		}
		else
		{
			bl->approved = TIME_NONE;
			bl->balance = 0;
		}
	}
	o->next_voucher_no = voucher;
	free(s);
	*n_out = n;
	return plan;
}

/* payment events, processed in date order */
enum
{
	EV_CREDIT,					/* a credit note is applied to its invoice */
	EV_PAY_FULL,
	EV_PAY_PART,
	EV_REFUND,
	EV_BILL_PAY
};

typedef struct Event
{
	Date		date;
	uint8_t		kind;
	uint8_t		currency;
	int16_t		permille;
	int32_t		contact;
	int32_t		doc;
	int32_t		group;			/* payment group: events paid together */
} Event;

/* cmp_event orders payment events by date; credit notes first, then by customer so that same-day payments group */
static int
cmp_event(const void *a, const void *b)
{
	const Event *x = a,
			   *y = b;

	if (x->date != y->date)
		return x->date < y->date ? -1 : 1;
	if ((x->kind == EV_CREDIT) != (y->kind == EV_CREDIT))
		return x->kind == EV_CREDIT ? -1 : 1;
	if (x->contact != y->contact)
		return x->contact < y->contact ? -1 : 1;
	if (x->currency != y->currency)
		return x->currency < y->currency ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return x->doc < y->doc ? -1 : x->doc > y->doc;
}

typedef struct Events
{
	Event	   *v;
	int			n;
	int			cap;
} Events;

/* ev_add appends a payment event */
static void
ev_add(Events *e, Date date, int kind, int32_t doc, int32_t contact, int cur, int permille)
{
	Event		ev = {
		.date = date,.kind = (uint8_t) kind,.doc = doc,.contact = contact,
		.currency = (uint8_t) cur,.permille = (int16_t) permille,.group = -1
	};

	if (e->n == e->cap)
	{
		e->cap = e->cap ? e->cap * 2 : 1024;
		e->v = xrealloc(e->v, sizeof(Event) * (size_t) e->cap);
	}
	e->v[e->n++] = ev;
}

/*
 * plan_invoice_payments decides when each approved invoice is paid, from
 * its customer's habits (prompt, late, bad), and when credit notes apply
 * or are refunded.
 */
static void
plan_invoice_payments(Gen *g, InvSpec *s, int n, Events *ev)
{
	Org		   *o = g->o;
	Rng		   *r = &g->r;
	Date	   *paid_on = xmalloc(sizeof(Date) * (size_t) Max(o->tab[RK_INVOICE].n, 1));

	for (int32_t i = 0; i < o->tab[RK_INVOICE].n; i++)
		paid_on[i] = DATE_NONE;
	for (int i = 0; i < n; i++)
	{
		int32_t		inv = s[i].rec;
		Invoice    *v = INVOICE(o, inv);
		int			prof = g->payer[v->contact];
		Date		pay;

		if (v->state != ST_APPROVED || v->gross <= 0)
			continue;
		if (v->type == DOC_CREDIT_NOTE)
		{
			ev_add(ev, v->entry_date, EV_CREDIT, inv, v->contact, v->currency, 0);
			continue;
		}
		if (prof == 0)
			pay = rng_chance(r, 0.4) ? v->due_date
				: v->entry_date + 1 + (int) rng_below(r, (uint64_t) Max(v->terms_days, 1));
		else if (prof == 1)
			pay = v->due_date + 3 + (int) rng_below(r, 38);
		else
			pay = rng_chance(r, 0.4) ? DATE_NONE : v->due_date + 20 + (int) rng_below(r, 70);
		if (pay == DATE_NONE || pay > g->today)
			continue;
		if (rng_chance(r, 0.05))
		{
			Date		rest = pay + 10 + (int) rng_below(r, 35);

			ev_add(ev, pay, EV_PAY_PART, inv, v->contact, v->currency, 300 + (int) rng_below(r, 400));
			/* some customers never pay the rest (disputes, small claims) */
			if (rest <= g->today && rng_chance(r, 0.6))
			{
				ev_add(ev, rest, EV_PAY_FULL, inv, v->contact, v->currency, 0);
				paid_on[inv] = rest;
			}
		}
		else
		{
			ev_add(ev, pay, EV_PAY_FULL, inv, v->contact, v->currency, 0);
			paid_on[inv] = pay;
		}
	}

	/*
	 * a credit note for an invoice already paid is refunded (most of the
	 * time)
	 */
	for (int i = 0; i < n; i++)
	{
		int32_t		cn = s[i].rec;
		Invoice    *v = INVOICE(o, cn);

		if (v->type != DOC_CREDIT_NOTE || v->state != ST_APPROVED)
			continue;
		if (paid_on[v->credited] != DATE_NONE && paid_on[v->credited] <= v->entry_date && rng_chance(r, 0.7))
		{
			Date		d = v->entry_date + 3 + (int) rng_below(r, 18);

			if (d <= g->today)
				ev_add(ev, d, EV_REFUND, cn, v->contact, v->currency, 0);
		}
	}
	free(paid_on);
}

/*
 * process_events turns the sorted events into bank payments and balance
 * modifiers, in date order.  Full payments by one customer on one day in
 * one currency become one bank payment with several associations.  With
 * --bank-payments N, N of them are kept, chosen by selection sampling in
 * date order (fewer only if the last candidates find nothing to pay).
 */
static void
process_events(Gen *g, Events *ev)
{
	Org		   *o = g->o;
	Rng		   *r = &g->r;
	int			groups = 0;
	int			limit,
				left,
				made = 0;
	Date		day = DATE_NONE;
	int			in_day = 0;

	if (ev->n > 0)
		qsort(ev->v, (size_t) ev->n, sizeof(Event), cmp_event);
	for (int i = 0; i < ev->n; i++)
	{
		Event	   *e = &ev->v[i];

		if (e->kind == EV_CREDIT)
			continue;
		if (e->kind == EV_PAY_FULL && i > 0 && ev->v[i - 1].kind == EV_PAY_FULL &&
			ev->v[i - 1].date == e->date && ev->v[i - 1].contact == e->contact &&
			ev->v[i - 1].currency == e->currency && ev->v[i - 1].group >= 0)
		{
			int			members = 0;

			for (int j = i - 1; j >= 0 && ev->v[j].group == ev->v[i - 1].group; j--)
				members++;
			if (members < 16)
			{
				e->group = ev->v[i - 1].group;
				continue;
			}
		}
		e->group = groups++;
	}

	/*
	 * with --bank-payments N, groups are chosen by selection sampling as they
	 * come
	 */
	limit = g->gp->bank_payments;
	left = groups;
	for (int i = 0; i < ev->n;)
	{
		Event	   *e = &ev->v[i];
		PaymentSpec ps;
		int			j;
		Time		at;
		RK			kind = e->kind == EV_BILL_PAY ? RK_BILL : RK_INVOICE;
		int64_t		total = 0;
		int64_t		doc_rate;

		if (e->date != day)
		{
			day = e->date;
			in_day = 0;
		}
		at = gen_time(e->date, 9 * 3600 + 13 * in_day++);
		if (e->kind == EV_CREDIT)
		{
			credit_note_apply(o, e->doc, e->date, at, NULL);
			i++;
			continue;
		}
		memset(&ps, 0, sizeof(ps));
		for (j = i; j < ev->n && ev->v[j].group == e->group && ev->v[j].kind != EV_CREDIT; j++)
		{
			int64_t		bal = doc_balance(o, kind, ev->v[j].doc);

			if (bal <= 0 || ps.n >= 16)
				continue;
			ps.subj[ps.n].kind = kind;
			ps.subj[ps.n].idx = ev->v[j].doc;
			ps.n++;
			if (ev->v[j].kind == EV_PAY_PART)
			{
				int64_t		unit = ev->v[j].currency == CUR_DKK || ev->v[j].currency == CUR_SEK ? 10000 : 1000;
				int64_t		part = round_div(bal * ev->v[j].permille / 1000, unit) * unit;

				total += Max(Min(part, bal - 100), 100);
			}
			else
				total += bal;
		}
		if (ps.n == 0 || total <= 0)
		{
			/* nothing left to pay (a credit note settled it): not a choice */
			left--;
			i = j;
			continue;
		}
		if (limit >= 0 && (made >= limit || rng_below(r, (uint64_t) left) >= (uint64_t) (limit - made)))
		{
			left--;
			i = j;
			continue;
		}
		left--;
		made++;
		doc_rate = kind == RK_INVOICE ? INVOICE(o, ps.subj[0].idx)->rate6 : BILL(o, ps.subj[0].idx)->rate6;
		ps.contact = e->contact;
		ps.entry = e->date;
		ps.side = doc_expected_side(o, kind, ps.subj[0].idx);
		ps.subject_currency = e->currency;
		ps.cash_account = cash_account_for(o, e->currency);
		ps.cash_rate6 = cash_rate_for(o, ps.cash_account, e->currency, doc_rate);
		ps.fee_account = -1;
		if (e->currency == CUR_USD || e->currency == CUR_GBP)
		{
			ps.fee = 1500;
			ps.fee_account = o->acc_fee;
		}
		{
			int64_t		cash = round_div(total * ps.cash_rate6, RATE_SCALE);

			ps.cash_amount = ps.side == SIDE_DEBIT ? cash - ps.fee : cash + ps.fee;
		}
		payment_create(o, &ps, at, NULL);
		i = j;
	}
}

/* gen_tax_returns makes one sales tax return per ended VAT period */
static void
gen_tax_returns(Gen *g)
{
	Org		   *o = g->o;
	int			pt = o->vat_period;
	int			per_year = pt == VP_MONTH ? 12 : pt == VP_QUARTER ? 4 : 2;
	int			y,
				m,
				d;

	date_to_ymd(g->start, &y, &m, &d);
	for (int num = (m - 1) * per_year / 12 + 1;; num++)
	{
		Date		ps,
					pe;
		int32_t		t;
		SalesTaxReturn *st;

		if (num > per_year)
		{
			num = 1;
			y++;
		}
		vat_period_bounds(pt, y, num, &ps, &pe);
		if (pe >= g->today)
			break;
		t = rec_new(o, RK_SALES_TAX_RETURN);
		st = TAXRETURN(o, t);
		st->period_type = (uint8_t) pt;
		st->year = (int16_t) y;
		st->num = (int16_t) num;
		st->start = ps;
		st->end = pe;
		st->deadline = vat_deadline(pt, y, num);
		st->created = gen_time(pe + 1, 7 * 3600);
		st->settled = st->deadline < g->today;
		st->paid = st->settled;
	}
}

/*
 * gen_org builds one organization from its parameters.
 */
Org *
gen_org(const GenParams *gp)
{
	Org		   *o = xcalloc(1, sizeof(Org));
	Gen			g;
	Rng			idr;
	int			vp[4] = {VP_QUARTER, VP_HALFYEAR, VP_QUARTER, VP_MONTH};
	int			fe[4] = {12, 12, 6, 12};
	int			y,
				m,
				d;
	char		cvr[9];
	char		slug[128];

	memset(&g, 0, sizeof(g));
	org_init_tables(o);
	o->gp = *gp;
	g.o = o;
	g.gp = &o->gp;
	g.today = gp->today;
	date_to_ymd(gp->today, &y, &m, &d);
	g.start = date_add_months(date_from_ymd(y, m, 1), -36);
	g.n_days = gp->today - g.start + 1;

	/* the org's id and token depend only on the seed and its index */
	rng_seed(&idr, gp->seed, 1000 + (uint64_t) gp->org_index);
	rng_id(&idr, o->id);
	rng_token(&idr, o->token);
	rng_seed(&o->rng, gp->seed, 2000 + (uint64_t) gp->org_index);
	rng_seed(&g.r, gp->seed, 3000 + (uint64_t) gp->org_index);

	o->name = gp->name ? arena_strdup(&o->arena, gp->name)
		: gp->org_index < org_names.n ? org_names.v[gp->org_index]
		: arena_printf(&o->arena, "%s %d", org_names.v[gp->org_index % org_names.n],
					   gp->org_index / org_names.n + 1);
	{
		const Place *places = country_gen("DK")->places;
		const Place *pl = &places[rng_below(&g.r, (uint64_t) country_gen("DK")->n_places)];

		o->street = arena_printf(&o->arena, "%s %d", PICK(&g.r, country_gen("DK")->streets),
								 (int) rng_range(&g.r, 1, 99));
		o->zipcode = pl->zip;
		o->city = pl->city;
	}
	gen_cvr(&g.r, cvr);
	o->registration_no = arena_strdup(&o->arena, cvr);
	ascii_slug(slug, sizeof(slug), o->name, 0);
	strip_form(slug);
	o->email = arena_printf(&o->arena, "kontakt@%s.dk", slug);
	o->phone = gen_phone(&g, country_gen("DK"));
	{
		char		uid[ID_LEN + 1];

		rng_id(&idr, uid);
		o->owner_user_id = arena_strdup(&o->arena, uid);
	}
	o->vat_period = (uint8_t) (gp->vat_period >= 0 ? gp->vat_period : vp[gp->org_index % 4]);
	o->fiscal_end_month = gp->fiscal_end_month > 0 ? gp->fiscal_end_month : fe[gp->org_index % 4];
	o->default_tax_mode = TAX_EXCL;
	o->terms_days = 8;
	o->next_invoice_no = 1;
	o->next_voucher_no = 1;
	o->next_contact_no = 1;
	o->created = gen_time(g.start - 45, 10 * 3600);
	{
		/* first fiscal year: the one that contains the creation date */
		Date		cd = date_of_time(o->created);
		int			cy,
					cm,
					cdd;
		Date		fs;

		date_to_ymd(cd, &cy, &cm, &cdd);
		fs = date_from_ymd(cy, o->fiscal_end_month % 12 + 1, 1);
		while (fs > cd)
			fs = date_add_months(fs, -12);
		o->first_fy_start = fs;
		o->first_fy_end = date_add_months(fs, 12) - 1;
	}

	setup_reference(o, &g.r);
	books_setup(o);
	if (!gp->empty)
	{
		InvSpec    *specs;
		int			n_specs = 0,
					n_bills = 0;
		BillPlan   *bp;
		Events		ev = {0};

		g.cdf_inv = build_cdf(&g, month_weight_inv);
		g.cdf_bill = build_cdf(&g, month_weight_bill);
		gen_contacts(&g);
		gen_products(&g);
		specs = gen_invoices(&g, &n_specs);
		bp = gen_bills(&g, &n_bills);
		plan_invoice_payments(&g, specs, n_specs, &ev);
		for (int i = 0; i < n_bills; i++)
			if (bp[i].pay != DATE_NONE)
			{
				Bill	   *b = BILL(o, bp[i].bill);

				ev_add(&ev, bp[i].pay, EV_BILL_PAY, bp[i].bill, b->contact, b->currency, 0);
			}
		process_events(&g, &ev);
		gen_tax_returns(&g);
		books_generate(o, g.start, g.today);
		free(ev.v);
		free(specs);
		free(bp);
		free(g.cdf_inv);
		free(g.cdf_bill);
		free(g.cust);
		free(g.cust_date);
		free(g.payer);
		free(g.prod);
	}
	o->books_live = true;
	o->next_product_no = 1001 + o->tab[RK_PRODUCT].n;
	/* generation is not a change: start every table at version 1 */
	for (int rk = 0; rk < RK__TABLES; rk++)
		o->tab[rk].version = 1;
	return o;
}

/*
 * Generators for single records made by mutations (mutate.c): a new
 * customer, a new invoice for an existing customer, a new bill from an
 * existing supplier.  They use the same realism as the bulk generator.
 * r is the mutation's generator; it is copied in and out.
 */
static void
gen_single_init(Gen *g, Org *o, Rng *r, Time now)
{
	memset(g, 0, sizeof(*g));
	g->o = o;
	g->r = *r;
	g->today = date_of_time(now);
}

/* gen_mut_contact: a new customer with contact persons */
int32_t
gen_mut_contact(Org *o, Rng *r, Time now, ChangeSet *cs)
{
	Gen			g;
	int32_t		c;
	double		u;
	const CountryGen *cg;

	gen_single_init(&g, o, r, now);
	u = rng_double(&g.r);
	cg = u < 0.75 ? country_gen("DK") : u < 0.9 ? pick_eu_country(&g.r) : pick_world_country(&g.r);
	c = make_contact(&g, cg, rng_chance(&g.r, 0.75), NULL, now);
	CONTACT(o, c)->customer = true;
	touch(o, RK_CONTACT);
	cs_add(cs, RK_CONTACT, c, OP_CREATED);
	for (int32_t k = CONTACT(o, c)->person_start; k < CONTACT(o, c)->person_start + CONTACT(o, c)->person_count; k++)
		cs_add(cs, RK_CONTACT_PERSON, k, OP_CREATED);
	*r = g.r;
	return c;
}

/* gen_mut_invoice: a new invoice dated today for a live customer; -1 if none */
int32_t
gen_mut_invoice(Org *o, Rng *r, Time now, bool approve, ChangeSet *cs)
{
	Gen			g;
	int32_t		c = -1,
				inv;
	int32_t    *prods;
	int			np = 0,
				nlines;
	Invoice    *v;
	Contact    *ct;

	gen_single_init(&g, o, r, now);
	for (int tries = 0; tries < 64 && c < 0; tries++)
	{
		int32_t		k = (int32_t) rng_below(&g.r, (uint64_t) Max(o->tab[RK_CONTACT].n, 1));

		if (k < o->tab[RK_CONTACT].n && CONTACT(o, k)->customer && !CONTACT(o, k)->archived &&
			!CONTACT(o, k)->h.dead)
			c = k;
	}
	prods = xmalloc(sizeof(int32_t) * (size_t) Max(o->tab[RK_PRODUCT].n, 1));
	for (int32_t k = 0; k < o->tab[RK_PRODUCT].n; k++)
		if (!PRODUCT(o, k)->archived && !PRODUCT(o, k)->h.dead && PRODUCT(o, k)->price_count > 0)
			prods[np++] = k;
	if (c < 0 || np == 0)
	{
		free(prods);
		*r = g.r;
		return -1;
	}
	inv = rec_new(o, RK_INVOICE);
	v = INVOICE(o, inv);
	ct = CONTACT(o, c);
	v->type = DOC_INVOICE;
	v->state = ST_DRAFT;
	v->contact = c;
	v->att_person = -1;
	v->credited = -1;
	v->bm_head = v->bm_tail = -1;
	v->entry_date = g.today;
	v->created = now;
	v->approved = TIME_NONE;
	v->currency = ct->currency;
	v->rate6 = rate_on(v->currency, g.today);
	v->tax_mode = ct->type == CT_PERSON ? TAX_INCL : TAX_EXCL;
	v->terms_mode = TERMS_NET;
	v->terms_days = ct->terms_days ? ct->terms_days : o->terms_days;
	v->due_date = v->entry_date + v->terms_days;
	v->line_start = o->tab[RK_INVOICE_LINE].n;
	nlines = 1 + (int) rng_below(&g.r, 4);
	for (int j = 0; j < nlines; j++)
	{
		int32_t		ln = rec_new(o, RK_INVOICE_LINE);

		fill_line(&g, ln, inv, prods[rng_below(&g.r, (uint64_t) np)], j);
		cs_add(cs, RK_INVOICE_LINE, ln, OP_CREATED);
	}
	INVOICE(o, inv)->line_count = nlines;
	invoice_recalc(o, inv);
	touch(o, RK_INVOICE);
	cs_add(cs, RK_INVOICE, inv, OP_CREATED);
	if (approve)
		invoice_approve(o, inv, now, cs);
	free(prods);
	*r = g.r;
	return inv;
}

/* gen_mut_bill: a new approved bill dated today from a generated supplier; -1 if none */
int32_t
gen_mut_bill(Org *o, Rng *r, Time now, ChangeSet *cs)
{
	Gen			g;
	int32_t		c = -1,
				b,
				ln;
	const SupplierDef *sd;
	Bill	   *bl;
	BillLine   *l;

	gen_single_init(&g, o, r, now);
	{
		int32_t		start = (int32_t) rng_below(&g.r, (uint64_t) Max(o->tab[RK_CONTACT].n, 1));

		for (int32_t k = 0; k < o->tab[RK_CONTACT].n && c < 0; k++)
		{
			int32_t		i = (start + k) % o->tab[RK_CONTACT].n;

			if (CONTACT(o, i)->gen_kind >= 0 && !CONTACT(o, i)->h.dead)
				c = i;
		}
	}
	if (c < 0)
	{
		*r = g.r;
		return -1;
	}
	sd = &supplier_defs[CONTACT(o, c)->gen_kind];
	b = rec_new(o, RK_BILL);
	bl = BILL(o, b);
	bl->type = DOC_INVOICE;
	bl->state = ST_DRAFT;
	bl->contact = c;
	bl->credited = -1;
	bl->bm_head = bl->bm_tail = -1;
	bl->entry_date = g.today;
	bl->due_date = g.today + sd->terms_days;
	bl->created = now;
	bl->approved = TIME_NONE;
	bl->tax_mode = (uint8_t) sd->tax_mode;
	bl->currency = (uint8_t) sd->currency;
	bl->rate6 = rate_on(sd->currency, g.today);
	bl->suppliers_invoice_no = arena_printf(&o->arena, "%d", 100000 + (int) rng_below(&g.r, 900000));
	bl->line_start = o->tab[RK_BILL_LINE].n;
	ln = rec_new(o, RK_BILL_LINE);
	l = BLINE(o, ln);
	l->bill = b;
	l->account = account_by_no(o, sd->account_no);
	l->tax_rate = o->tax[sd->tax];
	l->description = sd->line_text;
	l->input_amount = rng_range(&g.r, sd->min_amount, sd->max_amount);
	if (sd->tax_mode == TAX_INCL)
		l->input_amount = l->input_amount / 100 * 100;
	BILL(o, b)->line_count = 1;
	bill_recalc(o, b);
	touch(o, RK_BILL);
	cs_add(cs, RK_BILL, b, OP_CREATED);
	cs_add(cs, RK_BILL_LINE, ln, OP_CREATED);
	bill_approve(o, b, now, cs);
	*r = g.r;
	return b;
}
