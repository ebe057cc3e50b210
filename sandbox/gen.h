/*
 * gen.h - deterministic generation of an organization's books.
 */
#ifndef SANDBOX_GEN_H
#define SANDBOX_GEN_H

#include "store.h"

/* latest createdTime the generator may use (set by main before generating) */
extern Time gen_horizon;

Org		   *gen_org(const GenParams *gp);
bool		dk_is_closed(Date d);	/* weekend or Danish public holiday */
Date		vat_deadline(int period_type, int year, int num);
void		vat_period_bounds(int period_type, int year, int num, Date *start, Date *end);
int64_t		rate_on(int currency, Date d);

/* single records for mutations */
int32_t		gen_mut_contact(Org *o, Rng *r, Time now, ChangeSet *cs);
int32_t		gen_mut_invoice(Org *o, Rng *r, Time now, bool approve, ChangeSet *cs);
int32_t		gen_mut_bill(Org *o, Rng *r, Time now, ChangeSet *cs);

#endif
