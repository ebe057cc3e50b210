/*
 * render.c - JSON rendering of every record kind with Billy's field names
 * (spec §5), written straight into the response buffer.  Has-many
 * children are rendered embedded ("lines":[...]) or sideloaded
 * ("lineIds":[...] plus a root array); a belongs-to contact embedded
 * ("contact":{...}) or sideloaded (root "contacts", once each).
 */
#include "render.h"

#include <stdlib.h>
#include <string.h>

#include "books.h"
#include "rng.h"

const RelDef rel_defs[REL__COUNT] = {
	[REL_INVOICE_LINES] = {RK_INVOICE, "invoice.lines", "lines", RK_INVOICE_LINE, "lineIds", true},
	[REL_INVOICE_MODIFIERS] = {RK_INVOICE, "invoice.balanceModifiers", "balanceModifiers", RK_BALANCE_MODIFIER, "balanceModifierIds", true},
	[REL_INVOICE_CONTACT] = {RK_INVOICE, "invoice.contact", "contact", RK_CONTACT, NULL, false},
	[REL_BILL_LINES] = {RK_BILL, "bill.lines", "lines", RK_BILL_LINE, "lineIds", true},
	[REL_BILL_MODIFIERS] = {RK_BILL, "bill.balanceModifiers", "balanceModifiers", RK_BALANCE_MODIFIER, "balanceModifierIds", true},
	[REL_BILL_CONTACT] = {RK_BILL, "bill.contact", "contact", RK_CONTACT, NULL, false},
	[REL_PAYMENT_ASSOCIATIONS] = {RK_BANK_PAYMENT, "bankPayment.associations", "associations", RK_BALANCE_MODIFIER, "associationIds", true},
	[REL_PRODUCT_PRICES] = {RK_PRODUCT, "product.prices", "prices", RK_PRODUCT_PRICE, "priceIds", true},
	[REL_CONTACT_PERSONS] = {RK_CONTACT, "contact.contactPersons", "contactPersons", RK_CONTACT_PERSON, "contactPersonIds", true},
	[REL_RULESET_RULES] = {RK_RULESET, "salesTaxRuleset.rules", "rules", RK_RULE, "ruleIds", true},
	[REL_TXN_POSTINGS] = {RK_TRANSACTION, "transaction.postings", "postings", RK_POSTING, "postingIds", true},
	[REL_DBT_LINES] = {RK_DAYBOOK_TXN, "daybookTransaction.lines", "lines", RK_DAYBOOK_LINE, "lineIds", true},
	[REL_MATCH_LINES] = {RK_BANK_MATCH, "bankLineMatch.lines", "lines", RK_BANK_LINE, "lineIds", true},
	[REL_MATCH_SUBJECTS] = {RK_BANK_MATCH, "bankLineMatch.subjectAssociations", "subjectAssociations", RK_BANK_SUBJECT, "subjectAssociationIds", true},
};

const Include include_all_children = {
	.embed = (1u << REL_INVOICE_LINES) | (1u << REL_INVOICE_MODIFIERS) | (1u << REL_BILL_LINES) |
	(1u << REL_BILL_MODIFIERS) | (1u << REL_PAYMENT_ASSOCIATIONS) | (1u << REL_PRODUCT_PRICES) |
	(1u << REL_CONTACT_PERSONS) | (1u << REL_RULESET_RULES) | (1u << REL_TXN_POSTINGS) |
	(1u << REL_DBT_LINES) | (1u << REL_MATCH_LINES) | (1u << REL_MATCH_SUBJECTS),
	.side = 0
};

const ResDef res_defs[RK__COUNT] = {
	[RK_ACCOUNT] = {RK_ACCOUNT, "accounts", "account"},
	[RK_TAX_RATE] = {RK_TAX_RATE, "taxRates", "taxRate"},
	[RK_RULESET] = {RK_RULESET, "salesTaxRulesets", "salesTaxRuleset"},
	[RK_RULE] = {RK_RULE, "salesTaxRules", "salesTaxRule"},
	[RK_CONTACT] = {RK_CONTACT, "contacts", "contact"},
	[RK_CONTACT_PERSON] = {RK_CONTACT_PERSON, "contactPersons", "contactPerson"},
	[RK_PRODUCT] = {RK_PRODUCT, "products", "product"},
	[RK_PRODUCT_PRICE] = {RK_PRODUCT_PRICE, "productPrices", "productPrice"},
	[RK_INVOICE] = {RK_INVOICE, "invoices", "invoice"},
	[RK_INVOICE_LINE] = {RK_INVOICE_LINE, "invoiceLines", "invoiceLine"},
	[RK_BILL] = {RK_BILL, "bills", "bill"},
	[RK_BILL_LINE] = {RK_BILL_LINE, "billLines", "billLine"},
	[RK_BANK_PAYMENT] = {RK_BANK_PAYMENT, "bankPayments", "bankPayment"},
	[RK_BALANCE_MODIFIER] = {RK_BALANCE_MODIFIER, "balanceModifiers", "balanceModifier"},
	[RK_SALES_TAX_RETURN] = {RK_SALES_TAX_RETURN, "salesTaxReturns", "salesTaxReturn"},
	[RK_TRANSACTION] = {RK_TRANSACTION, "transactions", "transaction"},
	[RK_POSTING] = {RK_POSTING, "postings", "posting"},
	[RK_DAYBOOK] = {RK_DAYBOOK, "daybooks", "daybook"},
	[RK_DAYBOOK_TXN] = {RK_DAYBOOK_TXN, "daybookTransactions", "daybookTransaction"},
	[RK_DAYBOOK_LINE] = {RK_DAYBOOK_LINE, "daybookTransactionLines", "daybookTransactionLine"},
	[RK_BANK_LINE] = {RK_BANK_LINE, "bankLines", "bankLine"},
	[RK_BANK_MATCH] = {RK_BANK_MATCH, "bankLineMatches", "bankLineMatch"},
	[RK_BANK_SUBJECT] = {RK_BANK_SUBJECT, "bankLineSubjectAssociations", "bankLineSubjectAssociation"},
	[RK_FILE] = {RK_FILE, "files", "file"},
	[RK_ATTACHMENT] = {RK_ATTACHMENT, "attachments", "attachment"},
	[RK_ACCOUNT_GROUP] = {RK_ACCOUNT_GROUP, "accountGroups", "accountGroup"},
	[RK_CURRENCY] = {RK_CURRENCY, "currencies", "currency"},
	[RK_ORGANIZATION] = {RK_ORGANIZATION, "organizations", "organization"},
};

/* res_by_plural finds a resource by its URL segment */
const ResDef *
res_by_plural(const char *plural, size_t len)
{
	for (int i = 0; i < RK__COUNT; i++)
		if (strlen(res_defs[i].plural) == len && memcmp(res_defs[i].plural, plural, len) == 0)
			return &res_defs[i];
	return NULL;
}

/* json_id writes a quoted 22-character id */
static inline void
json_id(Buf *b, const char *id)
{
	buf_reserve(b, ID_LEN + 2);
	b->p[b->len] = '"';
	memcpy(b->p + b->len + 1, id, ID_LEN);
	b->p[b->len + ID_LEN + 1] = '"';
	b->len += ID_LEN + 2;
}

/* json_ref writes the id of record idx of kind rk, or null */
static inline void
json_ref(Buf *b, Org *o, RK rk, int32_t idx)
{
	if (idx < 0)
		buf_lit(b, "null");
	else
		json_id(b, rec_head(&o->tab[rk], idx)->id);
}

/* json_cur writes a currency code, or null */
static inline void
json_cur(Buf *b, int cur)
{
	if (cur == CUR_NONE)
		buf_lit(b, "null");
	else
	{
		buf_putc(b, '"');
		buf_put(b, currencies[cur].id, 3);
		buf_putc(b, '"');
	}
}

/* org_field writes ,"organizationId":"..." */
static inline void
org_field(Buf *b, Org *o)
{
	K(b, "organizationId");
	json_id(b, o->id);
}

static const char *const state_names[] = {"draft", "approved", "voided"};
static const char *const sent_names[] = {"unsent", "printed", "sent", "opened", "viewed"};
static const char *const nature_names[] = {"asset", "liability", "equity", "revenue", "expense"};
static const char *const role_names[] = {NULL, "accountsReceivable", "accountsPayable", "realizedCurrencyDifference"};
static const char *const vp_names[] = {"month", "quarter", "halfYear"};

static __thread Rng tl_rng;
static __thread bool tl_rng_ready;

/* download_token: a fresh random token per read (not seeded: it must change) */
static void
download_token(char out[TOKEN_LEN + 1])
{
	if (!tl_rng_ready)
	{
		static _Atomic uint64_t counter;
		uint64_t	c = counter++;

		rng_seed(&tl_rng, (uint64_t) (mono_now() * 1e9) ^ (uint64_t) (uintptr_t) &tl_rng, c);
		tl_rng_ready = true;
	}
	rng_token(&tl_rng, out);
}

/* line_description: Billy's invoice/bill lineDescription, the line texts joined */
static void
json_line_description(Buf *b, Org *o, RK line_rk, int32_t start, int32_t count)
{
	bool		first = true;

	buf_putc(b, '"');
	for (int32_t i = start; i < start + count; i++)
	{
		const char *d = line_rk == RK_INVOICE_LINE ? ILINE(o, i)->description : BLINE(o, i)->description;
		size_t		before;

		if (d == NULL || d[0] == '\0')
			continue;
		if (!first)
			buf_lit(b, ", ");
		first = false;
		/* escape by writing a JSON string and dropping its quotes */
		before = b->len;
		json_str(b, d);
		memmove(b->p + before, b->p + before + 1, b->len - before - 2);
		b->len -= 2;
	}
	buf_putc(b, '"');
}

/* render_account writes an account */
static void
render_account(Buf *b, Org *o, int32_t i)
{
	Account    *a = ACCOUNT(o, i);

	K0(b, "id");
	json_id(b, a->h.id);
	org_field(b, o);
	K(b, "name");
	json_str(b, a->name);
	K(b, "accountNo");
	json_int(b, a->account_no);
	K(b, "description");
	json_str(b, a->description);
	K(b, "groupId");
	json_ref(b, o, RK_ACCOUNT_GROUP, a->group);
	K(b, "natureId");
	json_str(b, nature_names[a->nature]);
	K(b, "systemRole");
	json_str(b, role_names[a->system_role]);
	K(b, "currencyId");
	json_cur(b, a->currency);
	K(b, "taxRateId");
	json_ref(b, o, RK_TAX_RATE, a->tax_rate);
	K(b, "isPaymentEnabled");
	json_bool(b, a->payment_enabled);
	K(b, "isBankAccount");
	json_bool(b, a->bank);
	K(b, "isArchived");
	json_bool(b, a->archived);
	K(b, "bankName");
	json_str(b, a->bank_name);
	K(b, "bankRoutingNo");
	json_str(b, a->bank_reg);
	K(b, "bankAccountNo");
	json_str(b, a->bank_account_no);
	K(b, "bankSwift");
	json_str(b, a->bank_swift);
	K(b, "bankIban");
	json_str(b, a->bank_iban);
	buf_putc(b, '}');
}

/* render_account_group writes an account group (a heading of the chart and the statements) */
static void
render_account_group(Buf *b, Org *o, int32_t i)
{
	AccountGroup *g = ACCGROUP(o, i);

	K0(b, "id");
	json_id(b, g->h.id);
	org_field(b, o);
	K(b, "natureId");
	json_str(b, nature_names[g->nature]);
	K(b, "name");
	json_str(b, g->name);
	K(b, "description");
	json_str(b, g->description);
	K(b, "priority");
	json_int(b, g->priority);
	buf_putc(b, '}');
}

/* render_tax_rate writes a tax rate with its deductionComponents */
static void
render_tax_rate(Buf *b, Org *o, int32_t i)
{
	TaxRate    *t = TAXRATE(o, i);

	K0(b, "id");
	json_id(b, t->h.id);
	org_field(b, o);
	K(b, "name");
	json_str(b, t->name);
	K(b, "abbreviation");
	json_str(b, t->abbrev);
	K(b, "description");
	json_str(b, t->description);
	K(b, "rate");
	json_rate(b, t->rate6);
	K(b, "appliesToSales");
	json_bool(b, t->sales);
	K(b, "appliesToPurchases");
	json_bool(b, t->purchases);
	K(b, "isPredefined");
	buf_lit(b, "true");
	K(b, "isActive");
	buf_lit(b, "true");
	K(b, "netAmountMetaFieldId");
	buf_lit(b, "null");
	K(b, "deductionComponents");
	if (t->deduct_share6 > 0)
	{
		buf_lit(b, "[{\"share\":");
		json_rate(b, t->deduct_share6);
		buf_lit(b, ",\"source\":\"tax\",\"accountId\":");
		json_ref(b, o, RK_ACCOUNT, t->deduct_account);
		buf_lit(b, ",\"priority\":1}]");
	}
	else
		buf_lit(b, "[]");
	buf_putc(b, '}');
}

/* render_ruleset writes a ruleset (object left open for includes) */
static void
render_ruleset(Buf *b, Org *o, int32_t i)
{
	Ruleset    *r = RULESET(o, i);

	K0(b, "id");
	json_id(b, r->h.id);
	org_field(b, o);
	K(b, "name");
	json_str(b, r->name);
	K(b, "abbreviation");
	json_str(b, r->abbrev);
	K(b, "description");
	json_str(b, r->description);
	K(b, "fallbackTaxRateId");
	json_ref(b, o, RK_TAX_RATE, r->fallback);
	K(b, "isPredefined");
	buf_lit(b, "true");
}

/* render_rule writes a sales tax rule */
static void
render_rule(Buf *b, Org *o, int32_t i)
{
	Rule	   *r = RULE(o, i);

	K0(b, "id");
	json_id(b, r->h.id);
	org_field(b, o);
	K(b, "rulesetId");
	json_ref(b, o, RK_RULESET, r->ruleset);
	K(b, "countryId");
	json_str(b, r->country[0] ? r->country : NULL);
	K(b, "stateId");
	buf_lit(b, "null");
	K(b, "countryGroupId");
	json_str(b, r->country_group == GROUP_EU ? "EU" : NULL);
	K(b, "contactType");
	json_str(b, r->contact_type == RULE_COMPANY ? "company" : r->contact_type == RULE_PERSON ? "person" : NULL);
	K(b, "taxRateId");
	json_ref(b, o, RK_TAX_RATE, r->tax_rate);
	K(b, "priority");
	json_int(b, r->priority);
	buf_putc(b, '}');
}

/* render_contact writes a contact (object left open for includes) */
static void
render_contact(Buf *b, Org *o, int32_t i)
{
	Contact    *c = CONTACT(o, i);

	K0(b, "id");
	json_id(b, c->h.id);
	org_field(b, o);
	K(b, "type");
	json_str(b, c->type == CT_COMPANY ? "company" : "person");
	K(b, "createdTime");
	json_datetime(b, c->created);
	K(b, "name");
	json_str(b, c->name);
	K(b, "countryId");
	json_str(b, c->country);
	K(b, "street");
	json_str(b, c->street);
	K(b, "cityId");
	buf_lit(b, "null");
	K(b, "cityText");
	json_str(b, c->city);
	K(b, "stateId");
	buf_lit(b, "null");
	K(b, "stateText");
	json_str(b, c->state_text);
	K(b, "zipcodeId");
	buf_lit(b, "null");
	K(b, "zipcodeText");
	json_str(b, c->zipcode);
	K(b, "contactNo");
	json_str(b, c->contact_no);
	K(b, "phone");
	json_str(b, c->phone);
	K(b, "fax");
	buf_lit(b, "null");
	K(b, "currencyId");
	json_cur(b, c->currency);
	K(b, "registrationNo");
	json_str(b, c->registration_no);
	K(b, "ean");
	json_str(b, c->ean);
	K(b, "localeId");
	json_str(b, c->locale);
	K(b, "isCustomer");
	json_bool(b, c->customer);
	K(b, "isSupplier");
	json_bool(b, c->supplier);
	K(b, "paymentTermsMode");
	json_str(b, c->terms_mode == TERMS_NET ? "net" : "date");
	K(b, "paymentTermsDays");
	json_int(b, c->terms_days);
	K(b, "accessCode");
	json_str(b, c->access_code);
	K(b, "emailAttachmentDeliveryMode");
	buf_lit(b, "\"link\"");
	K(b, "isArchived");
	json_bool(b, c->archived);
	K(b, "isSalesTaxExempt");
	json_bool(b, c->tax_exempt);
}

/* render_person writes a contact person */
static void
render_person(Buf *b, Org *o, int32_t i)
{
	ContactPerson *p = PERSON(o, i);

	K0(b, "id");
	json_id(b, p->h.id);
	org_field(b, o);
	K(b, "contactId");
	json_ref(b, o, RK_CONTACT, p->contact);
	K(b, "isPrimary");
	json_bool(b, p->primary);
	K(b, "name");
	json_str(b, p->name);
	K(b, "email");
	json_str(b, p->email);
	K(b, "phone");
	json_str(b, p->phone);
	buf_putc(b, '}');
}

/* render_product writes a product (object left open for includes) */
static void
render_product(Buf *b, Org *o, int32_t i)
{
	Product    *p = PRODUCT(o, i);

	K0(b, "id");
	json_id(b, p->h.id);
	org_field(b, o);
	K(b, "name");
	json_str(b, p->name);
	K(b, "description");
	json_str(b, p->description);
	K(b, "accountId");
	json_ref(b, o, RK_ACCOUNT, p->account);
	K(b, "productNo");
	json_str(b, p->product_no);
	K(b, "suppliersProductNo");
	json_str(b, p->suppliers_no);
	K(b, "salesTaxRulesetId");
	json_ref(b, o, RK_RULESET, p->ruleset);
	K(b, "isArchived");
	json_bool(b, p->archived);
	K(b, "isInInventory");
	buf_lit(b, "false");
	K(b, "inventoryAccountId");
	buf_lit(b, "null");
	K(b, "imageId");
	buf_lit(b, "null");
	K(b, "imageUrl");
	buf_lit(b, "null");
}

/* render_price writes a product price */
static void
render_price(Buf *b, Org *o, int32_t i)
{
	ProductPrice *p = PRICE(o, i);

	K0(b, "id");
	json_id(b, p->h.id);
	org_field(b, o);
	K(b, "productId");
	json_ref(b, o, RK_PRODUCT, p->product);
	K(b, "unitPrice");
	json_money(b, p->unit_price);
	K(b, "currencyId");
	json_cur(b, p->currency);
	buf_putc(b, '}');
}

/* render_invoice writes an invoice (object left open for includes) */
static void
render_invoice(Buf *b, Org *o, int32_t i, bool download_url)
{
	Invoice    *v = INVOICE(o, i);

	K0(b, "id");
	json_id(b, v->h.id);
	org_field(b, o);
	K(b, "type");
	json_str(b, v->type == DOC_INVOICE ? "invoice" : "creditNote");
	K(b, "createdTime");
	json_datetime(b, v->created);
	K(b, "approvedTime");
	json_datetime(b, v->approved);
	K(b, "contactId");
	json_ref(b, o, RK_CONTACT, v->contact);
	K(b, "attContactPersonId");
	json_ref(b, o, RK_CONTACT_PERSON, v->att_person);
	K(b, "entryDate");
	json_date(b, v->entry_date);
	K(b, "paymentTermsMode");
	json_str(b, v->terms_mode == TERMS_NET ? "net" : "date");
	K(b, "paymentTermsDays");
	json_int(b, v->terms_days);
	K(b, "dueDate");
	json_date(b, v->due_date);
	K(b, "state");
	json_str(b, state_names[v->state]);
	K(b, "sentState");
	json_str(b, sent_names[v->sent_state]);
	K(b, "invoiceNo");
	json_str(b, v->invoice_no);
	K(b, "taxMode");
	json_str(b, v->tax_mode == TAX_EXCL ? "excl" : "incl");
	K(b, "amount");
	json_money(b, v->amount);
	K(b, "tax");
	json_money(b, v->tax);
	K(b, "grossAmount");
	json_money(b, v->gross);
	K(b, "currencyId");
	json_cur(b, v->currency);
	K(b, "exchangeRate");
	json_rate(b, v->rate6);
	K(b, "balance");
	json_money(b, v->balance);
	K(b, "isPaid");
	json_bool(b, v->state == ST_APPROVED && v->balance == 0);
	K(b, "creditedInvoiceId");
	json_ref(b, o, RK_INVOICE, v->credited);
	K(b, "contactMessage");
	json_str(b, v->contact_message);
	K(b, "lineDescription");
	json_line_description(b, o, RK_INVOICE_LINE, v->line_start, v->line_count);
	K(b, "orderNo");
	json_str(b, v->order_no);
	K(b, "externalId");
	json_str(b, v->external_id);
	K(b, "recurringInvoiceId");
	buf_lit(b, "null");
	K(b, "quoteId");
	buf_lit(b, "null");
	if (download_url)
	{
		char		tok[TOKEN_LEN + 1];

		download_token(tok);
		K(b, "downloadUrl");
		buf_putc(b, '"');
		buf_puts(b, sb.host_url);
		buf_lit(b, "/v2/downloads/invoices/");
		buf_put(b, v->h.id, ID_LEN);
		buf_putc(b, '/');
		buf_put(b, o->id, ID_LEN);
		buf_putc(b, '/');
		buf_put(b, tok, TOKEN_LEN);
		if (v->invoice_no)
		{
			buf_lit(b, "/invoice-no-");
			/* invoice numbers are free text: keep only URL-safe characters */
			for (const char *p = v->invoice_no; *p; p++)
				if ((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') ||
					(*p >= 'a' && *p <= 'z') || *p == '-' || *p == '_')
					buf_putc(b, *p);
			buf_lit(b, ".pdf\"");
		}
		else
			buf_lit(b, "/invoice-draft.pdf\"");
	}
}

/* render_invoice_line writes an invoice line */
static void
render_invoice_line(Buf *b, Org *o, int32_t i)
{
	InvoiceLine *l = ILINE(o, i);

	K0(b, "id");
	json_id(b, l->h.id);
	org_field(b, o);
	K(b, "invoiceId");
	json_ref(b, o, RK_INVOICE, l->invoice);
	K(b, "productId");
	json_ref(b, o, RK_PRODUCT, l->product);
	K(b, "description");
	json_str(b, l->description);
	K(b, "quantity");
	json_scaled(b, l->quantity, 4);
	K(b, "unitPrice");
	json_money(b, l->unit_price);
	K(b, "amount");
	json_money(b, l->amount);
	K(b, "tax");
	json_money(b, l->tax);
	K(b, "taxRateId");
	json_ref(b, o, RK_TAX_RATE, l->tax_rate);
	K(b, "discountText");
	json_str(b, l->discount_text);
	K(b, "discountMode");
	json_str(b, l->discount_mode == DISC_CASH ? "cash" : l->discount_mode == DISC_PERCENT ? "percent" : NULL);
	K(b, "discountValue");
	if (l->discount_mode == DISC_NONE)
		buf_lit(b, "null");
	else
		json_scaled(b, l->discount_value, 4);
	K(b, "priority");
	json_int(b, l->priority);
	buf_putc(b, '}');
}

/* render_bill writes a bill (object left open for includes) */
static void
render_bill(Buf *b, Org *o, int32_t i)
{
	Bill	   *v = BILL(o, i);

	K0(b, "id");
	json_id(b, v->h.id);
	org_field(b, o);
	K(b, "type");
	json_str(b, v->type == DOC_INVOICE ? "bill" : "creditNote");
	K(b, "createdTime");
	json_datetime(b, v->created);
	K(b, "approvedTime");
	json_datetime(b, v->approved);
	K(b, "contactId");
	json_ref(b, o, RK_CONTACT, v->contact);
	K(b, "contactName");
	json_str(b, v->contact >= 0 ? CONTACT(o, v->contact)->name : NULL);
	K(b, "entryDate");
	json_date(b, v->entry_date);
	K(b, "paymentAccountId");
	buf_lit(b, "null");
	K(b, "paymentDate");
	buf_lit(b, "null");
	K(b, "dueDate");
	json_date(b, v->due_date);
	K(b, "isBare");
	buf_lit(b, "false");
	K(b, "state");
	json_str(b, state_names[v->state]);
	K(b, "suppliersInvoiceNo");
	json_str(b, v->suppliers_invoice_no);
	K(b, "taxMode");
	json_str(b, v->tax_mode == TAX_EXCL ? "excl" : "incl");
	K(b, "voucherNo");
	json_str(b, v->voucher_no);
	K(b, "amount");
	json_money(b, v->amount);
	K(b, "tax");
	json_money(b, v->tax);
	K(b, "grossAmount");
	json_money(b, v->gross);
	K(b, "currencyId");
	json_cur(b, v->currency);
	K(b, "exchangeRate");
	json_rate(b, v->rate6);
	K(b, "balance");
	json_money(b, v->balance);
	K(b, "isPaid");
	json_bool(b, v->state == ST_APPROVED && v->balance == 0);
	K(b, "lineDescription");
	json_line_description(b, o, RK_BILL_LINE, v->line_start, v->line_count);
	K(b, "creditedBillId");
	json_ref(b, o, RK_BILL, v->credited);
}

/* render_bill_line writes a bill line */
static void
render_bill_line(Buf *b, Org *o, int32_t i)
{
	BillLine   *l = BLINE(o, i);

	K0(b, "id");
	json_id(b, l->h.id);
	org_field(b, o);
	K(b, "billId");
	json_ref(b, o, RK_BILL, l->bill);
	K(b, "accountId");
	json_ref(b, o, RK_ACCOUNT, l->account);
	K(b, "taxRateId");
	json_ref(b, o, RK_TAX_RATE, l->tax_rate);
	K(b, "description");
	json_str(b, l->description);
	K(b, "amount");
	json_money(b, l->amount);
	K(b, "tax");
	json_money(b, l->tax);
	K(b, "priority");
	json_int(b, l->priority);
	buf_putc(b, '}');
}

/* render_payment writes a bank payment (object left open for includes) */
static void
render_payment(Buf *b, Org *o, int32_t i)
{
	BankPayment *p = PAYMENT(o, i);

	K0(b, "id");
	json_id(b, p->h.id);
	org_field(b, o);
	K(b, "contactId");
	json_ref(b, o, RK_CONTACT, p->contact);
	K(b, "createdTime");
	json_datetime(b, p->created);
	K(b, "entryDate");
	json_date(b, p->entry_date);
	K(b, "cashAmount");
	json_money(b, p->cash_amount);
	K(b, "cashSide");
	json_str(b, p->cash_side == SIDE_DEBIT ? "debit" : "credit");
	K(b, "cashAccountId");
	json_ref(b, o, RK_ACCOUNT, p->cash_account);
	K(b, "cashExchangeRate");
	json_rate(b, p->cash_rate6);
	K(b, "subjectCurrencyId");
	json_cur(b, p->subject_currency);
	K(b, "feeAmount");
	json_money(b, p->fee_amount);
	K(b, "feeAccountId");
	json_ref(b, o, RK_ACCOUNT, p->fee_account);
	K(b, "isVoided");
	json_bool(b, p->voided);
}

/* json_reference writes a "type:id" reference */
static void
json_reference(Buf *b, Org *o, RK kind, int32_t idx)
{
	buf_putc(b, '"');
	buf_puts(b, kind == RK_INVOICE ? "invoice:" : kind == RK_BILL ? "bill:" : "bankPayment:");
	buf_put(b, rec_head(&o->tab[kind], idx)->id, ID_LEN);
	buf_putc(b, '"');
}

/* render_modifier writes a balance modifier */
static void
render_modifier(Buf *b, Org *o, int32_t i)
{
	BalanceModifier *m = MODIFIER(o, i);

	K0(b, "id");
	json_id(b, m->h.id);
	org_field(b, o);
	K(b, "modifierReference");
	json_reference(b, o, m->mod_kind, m->mod_idx);
	K(b, "subjectReference");
	json_reference(b, o, m->subj_kind, m->subj_idx);
	K(b, "amount");
	json_money(b, m->amount);
	K(b, "entryDate");
	json_date(b, m->entry_date);
	K(b, "realizedCurrencyDifference");
	json_money(b, m->realized_diff);
	K(b, "isVoided");
	json_bool(b, m->voided);
	buf_putc(b, '}');
}

/* render_tax_return writes a sales tax return */
static void
render_tax_return(Buf *b, Org *o, int32_t i)
{
	SalesTaxReturn *t = TAXRETURN(o, i);
	static const char *const months[] = {"januar", "februar", "marts", "april", "maj", "juni", "juli",
	"august", "september", "oktober", "november", "december"};

	K0(b, "id");
	json_id(b, t->h.id);
	org_field(b, o);
	K(b, "createdTime");
	json_datetime(b, t->created);
	K(b, "periodType");
	json_str(b, vp_names[t->period_type]);
	K(b, "period");
	if (t->period_type == VP_MONTH)
		buf_printf(b, "\"month:%04d-%02d\"", t->year, t->num);
	else
		buf_printf(b, "\"%s:%04d-%d\"", vp_names[t->period_type], t->year, t->num);
	K(b, "periodText");
	if (t->period_type == VP_MONTH)
		buf_printf(b, "\"%s %d\"", months[t->num - 1], t->year);
	else
		buf_printf(b, "\"%d. %s %d\"", t->num, t->period_type == VP_QUARTER ? "kvartal" : "halvår", t->year);
	K(b, "correctionNo");
	json_int(b, t->correction_no);
	K(b, "startDate");
	json_date(b, t->start);
	K(b, "endDate");
	json_date(b, t->end);
	K(b, "reportDeadline");
	json_date(b, t->deadline);
	K(b, "isSettled");
	json_bool(b, t->settled);
	K(b, "isPaid");
	json_bool(b, t->paid);
	buf_putc(b, '}');
}

/* json_any_ref writes a "kind:id" reference of any kind */
static void
json_any_ref(Buf *b, Org *o, int kind, int32_t idx)
{
	buf_putc(b, '"');
	buf_puts(b, ref_prefix(kind));
	buf_putc(b, ':');
	buf_put(b, rec_head(&o->tab[kind], idx)->id, ID_LEN);
	buf_putc(b, '"');
}

/* render_transaction writes a transaction (object left open for includes) */
static void
render_transaction(Buf *b, Org *o, int32_t i)
{
	Transaction *t = TXN(o, i);

	K0(b, "id");
	json_id(b, t->h.id);
	org_field(b, o);
	K(b, "transactionNo");
	json_int(b, t->no);
	K(b, "voucherNo");
	json_str(b, t->voucher_no);
	K(b, "createdTime");
	json_datetime(b, t->created);
	K(b, "entryDate");
	json_date(b, t->entry_date);
	K(b, "originatorReference");
	json_any_ref(b, o, t->orig_kind, t->orig_idx);
	K(b, "originatorName");
	json_str(b, t->orig_name);
	K(b, "isVoided");
	json_bool(b, t->voided);
	K(b, "isVoid");
	json_bool(b, t->is_void);
}

/* render_posting writes a posting */
static void
render_posting(Buf *b, Org *o, int32_t i)
{
	Posting    *p = POSTING(o, i);

	K0(b, "id");
	json_id(b, p->h.id);
	org_field(b, o);
	K(b, "transactionId");
	json_ref(b, o, RK_TRANSACTION, p->txn);
	K(b, "entryDate");
	json_date(b, p->entry_date);
	K(b, "text");
	json_str(b, p->text);
	K(b, "accountId");
	json_ref(b, o, RK_ACCOUNT, p->account);
	K(b, "amount");
	json_money(b, p->amount);
	K(b, "side");
	json_str(b, p->side == SIDE_DEBIT ? "debit" : "credit");
	K(b, "currencyId");
	json_cur(b, CUR_DKK);
	K(b, "salesTaxReturnId");
	buf_lit(b, "null");
	K(b, "isVoided");
	json_bool(b, p->voided);
	K(b, "isBankMatched");
	json_bool(b, p->bank_matched);
	K(b, "priority");
	json_int(b, p->priority);
	buf_putc(b, '}');
}

/* render_daybook writes a daybook */
static void
render_daybook(Buf *b, Org *o, int32_t i)
{
	Daybook    *d = DAYBOOK(o, i);

	K0(b, "id");
	json_id(b, d->h.id);
	org_field(b, o);
	K(b, "name");
	json_str(b, d->name);
	K(b, "defaultContraAccountId");
	buf_lit(b, "null");
	K(b, "isTransactionSummaryEnabled");
	json_bool(b, false);
	buf_putc(b, '}');
}

/* render_dbt writes a daybook transaction (object left open for includes) */
static void
render_dbt(Buf *b, Org *o, int32_t i)
{
	DaybookTxn *d = DBTXN(o, i);

	K0(b, "id");
	json_id(b, d->h.id);
	org_field(b, o);
	K(b, "daybookId");
	json_ref(b, o, RK_DAYBOOK, d->daybook);
	K(b, "createdTime");
	json_datetime(b, d->created);
	K(b, "entryDate");
	json_date(b, d->entry_date);
	K(b, "voucherNo");
	json_str(b, d->voucher_no);
	K(b, "description");
	json_str(b, d->description);
	K(b, "extendedDescription");
	json_str(b, d->extended);
	K(b, "apiType");
	json_str(b, d->api_type);
	K(b, "state");
	json_str(b, state_names[d->state]);
	K(b, "priority");
	json_int(b, d->priority);
}

/* render_dbline writes a daybook transaction line */
static void
render_dbline(Buf *b, Org *o, int32_t i)
{
	DaybookLine *l = DBLINE(o, i);

	K0(b, "id");
	json_id(b, l->h.id);
	K(b, "daybookTransactionId");
	json_ref(b, o, RK_DAYBOOK_TXN, l->dbt);
	K(b, "text");
	json_str(b, l->text);
	K(b, "accountId");
	json_ref(b, o, RK_ACCOUNT, l->account);
	K(b, "taxRateId");
	json_ref(b, o, RK_TAX_RATE, l->tax_rate);
	K(b, "contraAccountId");
	json_ref(b, o, RK_ACCOUNT, l->contra);
	K(b, "amount");
	json_money(b, l->amount);
	K(b, "side");
	json_str(b, l->side == SIDE_DEBIT ? "debit" : "credit");
	K(b, "currencyId");
	json_cur(b, l->currency);
	K(b, "priority");
	json_int(b, l->priority);
	buf_putc(b, '}');
}

/* render_bank_line writes a bank statement line */
static void
render_bank_line(Buf *b, Org *o, int32_t i)
{
	BankLine   *l = BANKLINE(o, i);

	K0(b, "id");
	json_id(b, l->h.id);
	org_field(b, o);
	K(b, "accountId");
	json_ref(b, o, RK_ACCOUNT, l->account);
	K(b, "matchId");
	json_ref(b, o, RK_BANK_MATCH, l->match);
	K(b, "entryDate");
	json_date(b, l->entry_date);
	K(b, "description");
	json_str(b, l->description);
	K(b, "amount");
	json_money(b, l->amount);
	K(b, "side");
	json_str(b, l->side == SIDE_DEBIT ? "debit" : "credit");
	K(b, "isReconciled");
	json_bool(b, l->match >= 0 && BANKMATCH(o, l->match)->approved);
	buf_putc(b, '}');
}

/* render_bank_match writes a bank line match (object left open for includes) */
static void
render_bank_match(Buf *b, Org *o, int32_t i)
{
	BankMatch  *m = BANKMATCH(o, i);

	K0(b, "id");
	json_id(b, m->h.id);
	org_field(b, o);
	K(b, "accountId");
	json_ref(b, o, RK_ACCOUNT, m->account);
	K(b, "createdTime");
	json_datetime(b, m->created);
	K(b, "entryDate");
	json_date(b, m->entry_date);
	K(b, "amount");
	json_money(b, m->amount);
	K(b, "side");
	json_str(b, m->side == SIDE_DEBIT ? "debit" : "credit");
	K(b, "isApproved");
	json_bool(b, m->approved);
	K(b, "approvedTime");
	json_datetime(b, m->approved ? m->approved_time : TIME_NONE);
}

/* render_bank_subject writes a bank line match's subject association */
static void
render_bank_subject(Buf *b, Org *o, int32_t i)
{
	BankSubject *s = BANKSUBJ(o, i);

	K0(b, "id");
	json_id(b, s->h.id);
	org_field(b, o);
	K(b, "matchId");
	json_ref(b, o, RK_BANK_MATCH, s->match);
	K(b, "subjectReference");
	json_any_ref(b, o, s->subj_kind, s->subj_idx);
	buf_putc(b, '}');
}

/* render_file writes a file's metadata; downloadUrl serves its bytes */
static void
render_file(Buf *b, Org *o, int32_t i, bool download_url)
{
	File	   *f = FILEREC(o, i);
	bool		image = strncmp(f->content_type, "image/", 6) == 0;

	K0(b, "id");
	json_id(b, f->h.id);
	org_field(b, o);
	K(b, "createdTime");
	json_datetime(b, f->created);
	K(b, "fileName");
	json_str(b, f->name);
	K(b, "fileSize");
	json_int(b, f->size);
	K(b, "fileType");
	json_str(b, f->content_type);
	K(b, "isImage");
	json_bool(b, image);
	K(b, "isPdf");
	json_bool(b, !image);
	if (download_url)
	{
		K(b, "downloadUrl");
		buf_putc(b, '"');
		buf_puts(b, sb.base_url);
		buf_lit(b, "/files/");
		buf_put(b, f->h.id, ID_LEN);
		buf_lit(b, "/download\"");
	}
	buf_putc(b, '}');
}

/* render_attachment writes an attachment */
static void
render_attachment(Buf *b, Org *o, int32_t i)
{
	Attachment *a = ATTACH(o, i);

	K0(b, "id");
	json_id(b, a->h.id);
	org_field(b, o);
	K(b, "createdTime");
	json_datetime(b, a->created);
	K(b, "ownerReference");
	json_any_ref(b, o, a->owner_kind, a->owner_idx);
	K(b, "fileId");
	json_ref(b, o, RK_FILE, a->file);
	K(b, "priority");
	json_int(b, a->priority);
	buf_putc(b, '}');
}

/* render_currency writes a currency */
void
render_currency(Buf *b, int cur)
{
	K0(b, "id");
	json_str(b, currencies[cur].id);
	K(b, "name");
	json_str(b, currencies[cur].name);
	K(b, "exchangeRate");
	json_rate(b, currencies[cur].rate6);
	buf_putc(b, '}');
}

/* render_organization writes the organization record */
void
render_organization(Buf *b, Org *o)
{
	char		slug[96];

	ascii_slug(slug, sizeof(slug), o->name, '-');
	K0(b, "id");
	json_id(b, o->id);
	K(b, "ownerUserId");
	json_str(b, o->owner_user_id);
	K(b, "createdTime");
	json_datetime(b, o->created);
	K(b, "name");
	json_str(b, o->name);
	K(b, "url");
	buf_printf(b, "\"%s\"", slug);
	K(b, "street");
	json_str(b, o->street);
	K(b, "zipcode");
	json_str(b, o->zipcode);
	K(b, "city");
	json_str(b, o->city);
	K(b, "countryId");
	buf_lit(b, "\"DK\"");
	K(b, "phone");
	json_str(b, o->phone);
	K(b, "fax");
	buf_lit(b, "null");
	K(b, "email");
	json_str(b, o->email);
	K(b, "registrationNo");
	json_str(b, o->registration_no);
	K(b, "baseCurrencyId");
	buf_lit(b, "\"DKK\"");
	K(b, "logoUrl");
	buf_lit(b, "null");
	K(b, "iconUrl");
	buf_lit(b, "null");
	K(b, "fiscalYearEndMonth");
	json_int(b, o->fiscal_end_month);
	K(b, "firstFiscalYearStart");
	json_date(b, o->first_fy_start);
	K(b, "firstFiscalYearEnd");
	json_date(b, o->first_fy_end);
	K(b, "isTrial");
	buf_lit(b, "false");
	K(b, "isTerminated");
	buf_lit(b, "false");
	K(b, "terminationTime");
	buf_lit(b, "null");
	K(b, "localeId");
	buf_lit(b, "\"da_DK\"");
	K(b, "billEmailAddress");
	buf_printf(b, "\"%s@bills.billysbilling.com\"", slug);
	K(b, "isLocked");
	buf_lit(b, "false");
	K(b, "lockedReason");
	buf_lit(b, "null");
	K(b, "appUrl");
	buf_printf(b, "\"https://app.billy.dk/%s\"", slug);
	K(b, "hasVat");
	buf_lit(b, "true");
	K(b, "vatPeriod");
	json_str(b, vp_names[o->vat_period]);
	K(b, "invoiceNoMode");
	buf_lit(b, "\"sequential\"");
	K(b, "nextInvoiceNo");
	json_int(b, o->next_invoice_no);
	K(b, "paymentTermsMode");
	buf_lit(b, "\"net\"");
	K(b, "paymentTermsDays");
	json_int(b, o->terms_days);
	K(b, "defaultTaxMode");
	json_str(b, o->default_tax_mode == TAX_EXCL ? "excl" : "incl");
	K(b, "defaultInvoiceBankAccountId");
	json_ref(b, o, RK_ACCOUNT, o->acc_bank);
	K(b, "defaultSalesAccountId");
	json_ref(b, o, RK_ACCOUNT, o->acc_sales_goods);
	K(b, "defaultSalesTaxRulesetId");
	json_ref(b, o, RK_RULESET, o->rs_goods);
	K(b, "defaultBankFeeAccountId");
	json_ref(b, o, RK_ACCOUNT, o->acc_fee);
	K(b, "defaultBillBankAccountId");
	json_ref(b, o, RK_ACCOUNT, o->acc_bank);
	buf_putc(b, '}');
}

/*
 * rel_children lists the children of a parent for a relation, in creation
 * order.  Uses buf when they fit, else allocates *out (caller frees if
 * *out != buf).
 */
int
rel_children(Org *o, Rel rel, int32_t parent, int32_t *buf, int cap, int32_t **out)
{
	int32_t		start = 0,
				count = 0;
	int			n = 0;

	*out = buf;
	switch (rel)
	{
		case REL_INVOICE_LINES:
			start = INVOICE(o, parent)->line_start;
			count = INVOICE(o, parent)->line_count;
			break;
		case REL_BILL_LINES:
			start = BILL(o, parent)->line_start;
			count = BILL(o, parent)->line_count;
			break;
		case REL_PAYMENT_ASSOCIATIONS:
			start = PAYMENT(o, parent)->assoc_start;
			count = PAYMENT(o, parent)->assoc_count;
			break;
		case REL_PRODUCT_PRICES:
			start = PRODUCT(o, parent)->price_start;
			count = PRODUCT(o, parent)->price_count;
			break;
		case REL_CONTACT_PERSONS:
			start = CONTACT(o, parent)->person_start;
			count = CONTACT(o, parent)->person_count;
			break;
		case REL_RULESET_RULES:
			start = RULESET(o, parent)->rule_start;
			count = RULESET(o, parent)->rule_count;
			break;
		case REL_TXN_POSTINGS:
			start = TXN(o, parent)->posting_start;
			count = TXN(o, parent)->posting_count;
			break;
		case REL_DBT_LINES:
			start = DBTXN(o, parent)->line_start;
			count = DBTXN(o, parent)->line_count;
			break;
		case REL_MATCH_SUBJECTS:
			start = BANKMATCH(o, parent)->subj_start;
			count = BANKMATCH(o, parent)->subj_count;
			break;
		case REL_MATCH_LINES:
		case REL_INVOICE_MODIFIERS:
		case REL_BILL_MODIFIERS:
			{
				int32_t		m = rel == REL_MATCH_LINES ? BANKMATCH(o, parent)->line_head
				: rel == REL_INVOICE_MODIFIERS ? INVOICE(o, parent)->bm_head : BILL(o, parent)->bm_head;

				for (; m >= 0; m = rel == REL_MATCH_LINES ? BANKLINE(o, m)->next : MODIFIER(o, m)->next)
				{
					if (n == cap)
					{
						int32_t    *nv = xmalloc(sizeof(int32_t) * (size_t) cap * 2);

						memcpy(nv, *out, sizeof(int32_t) * (size_t) n);
						if (*out != buf)
							free(*out);
						*out = nv;
						cap *= 2;
					}
					(*out)[n++] = m;
				}
				return n;
			}
		default:
			return 0;
	}
	if (count > cap)
		*out = xmalloc(sizeof(int32_t) * (size_t) count);
	for (int32_t i = start; i < start + count; i++)
		if (!rec_head(&o->tab[rel_defs[rel].child], i)->dead)
			(*out)[n++] = i;
	return n;
}

/* side_add collects a record for sideloading */
static void
side_add(Side *side, RK rk, int32_t idx)
{
	if (side->n[rk] == side->cap[rk])
	{
		side->cap[rk] = side->cap[rk] ? side->cap[rk] * 2 : 64;
		side->v[rk] = xrealloc(side->v[rk], sizeof(int32_t) * (size_t) side->cap[rk]);
	}
	side->v[rk][side->n[rk]++] = idx;
}

/* side_free releases the sideload lists */
void
side_free(Side *side)
{
	for (int i = 0; i < RK__TABLES; i++)
		free(side->v[i]);
	memset(side, 0, sizeof(*side));
}

/* render_fields writes a record's own fields, leaving the object open where needed */
static bool
render_fields(Buf *b, Org *o, RK rk, int32_t i, bool download_url)
{
	switch (rk)
	{
		case RK_ACCOUNT:
			render_account(b, o, i);
			return true;
		case RK_TAX_RATE:
			render_tax_rate(b, o, i);
			return true;
		case RK_RULESET:
			render_ruleset(b, o, i);
			return false;
		case RK_RULE:
			render_rule(b, o, i);
			return true;
		case RK_CONTACT:
			render_contact(b, o, i);
			return false;
		case RK_CONTACT_PERSON:
			render_person(b, o, i);
			return true;
		case RK_PRODUCT:
			render_product(b, o, i);
			return false;
		case RK_PRODUCT_PRICE:
			render_price(b, o, i);
			return true;
		case RK_INVOICE:
			render_invoice(b, o, i, download_url);
			return false;
		case RK_INVOICE_LINE:
			render_invoice_line(b, o, i);
			return true;
		case RK_BILL:
			render_bill(b, o, i);
			return false;
		case RK_BILL_LINE:
			render_bill_line(b, o, i);
			return true;
		case RK_BANK_PAYMENT:
			render_payment(b, o, i);
			return false;
		case RK_BALANCE_MODIFIER:
			render_modifier(b, o, i);
			return true;
		case RK_SALES_TAX_RETURN:
			render_tax_return(b, o, i);
			return true;
		case RK_TRANSACTION:
			render_transaction(b, o, i);
			return false;
		case RK_POSTING:
			render_posting(b, o, i);
			return true;
		case RK_DAYBOOK:
			render_daybook(b, o, i);
			return true;
		case RK_DAYBOOK_TXN:
			render_dbt(b, o, i);
			return false;
		case RK_DAYBOOK_LINE:
			render_dbline(b, o, i);
			return true;
		case RK_BANK_LINE:
			render_bank_line(b, o, i);
			return true;
		case RK_BANK_MATCH:
			render_bank_match(b, o, i);
			return false;
		case RK_BANK_SUBJECT:
			render_bank_subject(b, o, i);
			return true;
		case RK_FILE:
			render_file(b, o, i, download_url);
			return true;
		case RK_ATTACHMENT:
			render_attachment(b, o, i);
			return true;
		case RK_ACCOUNT_GROUP:
			render_account_group(b, o, i);
			return true;
		default:
			buf_lit(b, "{}");
			return true;
	}
}

/*
 * render_record writes one record.  For kinds with relations, the
 * included ones are appended: embedded children as an array, sideloaded
 * ones as an ids array (the children go to side), a belongs-to contact
 * embedded as an object or sideloaded.
 */
void
render_record(Buf *b, Org *o, RK rk, int32_t i, const Include *inc, Side *side, bool download_url)
{
	if (render_fields(b, o, rk, i, download_url))
		return;
	for (int r = 0; r < REL__COUNT; r++)
	{
		const RelDef *rd = &rel_defs[r];
		uint32_t	bit = 1u << r;
		int32_t		buf[64],
				   *kids;
		int			n;

		if (rd->parent != rk || inc == NULL || !((inc->embed | inc->side) & bit))
			continue;
		if (!rd->has_many)
		{
			int32_t		c = rk == RK_INVOICE ? INVOICE(o, i)->contact : BILL(o, i)->contact;

			if (inc->embed & bit)
			{
				K(b, "contact");
				render_record(b, o, RK_CONTACT, c, NULL, NULL, false);
			}
			else if (side)
				side_add(side, RK_CONTACT, c);
			continue;
		}
		n = rel_children(o, (Rel) r, i, buf, lengthof(buf), &kids);
		if (inc->embed & bit)
		{
			buf_putc(b, ',');
			buf_putc(b, '"');
			buf_puts(b, rd->property);
			buf_lit(b, "\":[");
			for (int k = 0; k < n; k++)
			{
				if (k)
					buf_putc(b, ',');
				render_record(b, o, rd->child, kids[k], NULL, NULL, false);
			}
			buf_putc(b, ']');
		}
		else
		{
			buf_putc(b, ',');
			buf_putc(b, '"');
			buf_puts(b, rd->ids_key);
			buf_lit(b, "\":[");
			for (int k = 0; k < n; k++)
			{
				if (k)
					buf_putc(b, ',');
				json_id(b, rec_head(&o->tab[rd->child], kids[k])->id);
				if (side)
					side_add(side, rd->child, kids[k]);
			}
			buf_putc(b, ']');
		}
		if (kids != buf)
			free(kids);
	}
	buf_putc(b, '}');
}

/* cmp_i32 compares indexes for qsort */
static int
cmp_i32(const void *a, const void *b)
{
	int32_t		x = *(const int32_t *) a,
				y = *(const int32_t *) b;

	return x < y ? -1 : x > y;
}

/*
 * render_side writes the sideloaded root arrays (",\"invoiceLines\":[...]"),
 * each record once, in creation order.
 */
void
render_side(Buf *b, Org *o, Side *side, bool download_url)
{
	for (int rk = 0; rk < RK__TABLES; rk++)
	{
		int			n = side->n[rk],
					w = 0;

		if (n == 0)
			continue;
		qsort(side->v[rk], (size_t) n, sizeof(int32_t), cmp_i32);
		for (int k = 0; k < n; k++)
			if (w == 0 || side->v[rk][w - 1] != side->v[rk][k])
				side->v[rk][w++] = side->v[rk][k];
		buf_putc(b, ',');
		buf_putc(b, '"');
		buf_puts(b, res_defs[rk].plural);
		buf_lit(b, "\":[");
		for (int k = 0; k < w; k++)
		{
			if (k)
				buf_putc(b, ',');
			render_record(b, o, (RK) rk, side->v[rk][k], NULL, NULL, download_url);
		}
		buf_putc(b, ']');
	}
}
