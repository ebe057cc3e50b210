/*
 * refdata.h - static reference data: countries, Danish and foreign names,
 * real Danish postcodes, the chart of accounts, the predefined tax rates
 * and sales tax rulesets, product and supplier templates.
 */
#ifndef SANDBOX_REFDATA_H
#define SANDBOX_REFDATA_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

typedef struct Country
{
	const char *code;
	const char *name;
	bool		eu;
} Country;

const Country *country_find(const char *code);
bool		country_is_eu(const char *code);

typedef struct StrList
{
	const char *const *v;
	int			n;
} StrList;

typedef struct Place
{
	const char *zip;
	const char *city;
} Place;

/* a country the generator makes contacts in */
typedef struct CountryGen
{
	const char *code;
	Cur			currency;
	const char *form;			/* company form suffix: ApS, GmbH ... */
	const char *tld;
	const char *locale;
	int			vat_kind;		/* how to make a VAT/registration number */
	StrList		surnames;
	StrList		first_names;
	StrList		words;
	StrList		streets;
	const Place *places;
	int			n_places;
	const char *phone_prefix;
} CountryGen;

enum
{
	VAT_NONE,
	VAT_CVR,
	VAT_DE,
	VAT_SE,
	VAT_NL,
	VAT_FR,
	VAT_FI,
	VAT_PL,
	VAT_IE,
	VAT_AT,
	VAT_ES,
	VAT_NO,
	VAT_GB,
	VAT_CH,
	VAT_US
};

extern const CountryGen country_gens[];
extern const int n_country_gens;
const CountryGen *country_gen(const char *code);

extern const StrList dk_company_words;
extern const StrList dk_trades;
extern const StrList dk_places;
extern const StrList org_names;
extern const StrList email_domains_private;

/* chart of accounts */
typedef struct AccountDef
{
	int			no;
	const char *name;
	uint8_t		nature;
	uint8_t		role;
	int			tax;			/* TaxKind, -1 none */
	bool		payment;
	bool		bank;
	Cur			currency;
	const char *description;
} AccountDef;

extern const AccountDef account_defs[];
extern const int n_account_defs;

typedef struct TaxRateDef
{
	TaxKind		kind;
	const char *abbrev;
	const char *name;
	const char *description;
	int64_t		rate6;
	bool		sales;
	bool		purchases;
	bool		reverse_charge;
	int64_t		share6;
	int			deduct_account_no;
} TaxRateDef;

extern const TaxRateDef taxrate_defs[TR__COUNT];

/* products the generator sells */
enum
{
	PK_GOODS,
	PK_SERVICE,
	PK_EXEMPT
};

typedef struct ProductDef
{
	int			kind;
	const char *name;
	int64_t		min_price;		/* øre, DKK */
	int64_t		max_price;
	int64_t		round_to;		/* price granularity in øre */
	int			qty_kind;		/* 0 pieces, 1 hours, 2 km */
} ProductDef;

extern const ProductDef product_defs[];
extern const int n_product_defs;
extern const StrList product_variants;

/* suppliers the generator buys from */
typedef enum SupKind
{
	SUP_RENT,
	SUP_UTIL,
	SUP_PHONE,
	SUP_ACCOUNTANT,
	SUP_OFFICE,
	SUP_FREIGHT,
	SUP_GOODS_DK,
	SUP_GOODS_EU,
	SUP_SERVICE_EU,
	SUP_SAAS,
	SUP_RESTAURANT,
	SUP_INSURANCE,
	SUP__COUNT
} SupKind;

typedef struct SupplierDef
{
	SupKind		kind;
	const char *country;
	const char *name;
	int			account_no;
	TaxKind		tax;
	int			tax_mode;
	Cur			currency;
	int64_t		min_amount;		/* øre in the bill's currency */
	int64_t		max_amount;
	int			terms_days;
	int			weight;
	const char *line_text;
} SupplierDef;

extern const SupplierDef supplier_defs[];
extern const int n_supplier_defs;

#endif
