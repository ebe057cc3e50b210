/*
 * render.h - JSON rendering of every record kind, with Billy's field
 * names, and of has-many / belongs-to includes (embed or sideload).
 */
#ifndef SANDBOX_RENDER_H
#define SANDBOX_RENDER_H

#include "json.h"
#include "store.h"

/* the relations that include= can name */
typedef enum Rel
{
	REL_INVOICE_LINES,
	REL_INVOICE_MODIFIERS,
	REL_INVOICE_CONTACT,
	REL_BILL_LINES,
	REL_BILL_MODIFIERS,
	REL_BILL_CONTACT,
	REL_PAYMENT_ASSOCIATIONS,
	REL_PRODUCT_PRICES,
	REL_CONTACT_PERSONS,
	REL_RULESET_RULES,
	REL_TXN_POSTINGS,
	REL_DBT_LINES,
	REL_MATCH_LINES,
	REL_MATCH_SUBJECTS,
	REL__COUNT
} Rel;

typedef struct RelDef
{
	RK			parent;
	const char *qualified;		/* "invoice.lines" */
	const char *property;		/* "lines" */
	RK			child;
	const char *ids_key;		/* "lineIds" (has-many sideload) */
	bool		has_many;
} RelDef;

extern const RelDef rel_defs[REL__COUNT];

typedef struct Include
{
	uint32_t	embed;			/* bit per Rel */
	uint32_t	side;
} Include;

/* records collected for sideloading, per kind */
typedef struct Side
{
	int32_t    *v[RK__TABLES];
	int			n[RK__TABLES];
	int			cap[RK__TABLES];
} Side;

typedef struct ResDef
{
	RK			rk;
	const char *plural;			/* URL segment and root key: "invoices" */
	const char *singular;		/* root key of GET one: "invoice" */
} ResDef;

extern const ResDef res_defs[RK__COUNT];
const ResDef *res_by_plural(const char *plural, size_t len);

void		render_record(Buf *b, Org *o, RK rk, int32_t i, const Include *inc,
						  Side *side, bool download_url);
void		render_organization(Buf *b, Org *o);
void		render_currency(Buf *b, int cur);
void		render_side(Buf *b, Org *o, Side *side, bool download_url);
void		side_free(Side *side);

/* the include that embeds every has-many child (dump) */
extern const Include include_all_children;

/* children of a record for a relation; returns count, *out malloc'd if > cap */
int			rel_children(Org *o, Rel rel, int32_t parent, int32_t *buf, int cap, int32_t **out);

#endif
