/*
 * mutate.h - realistic upstream changes applied on demand.
 */
#ifndef SANDBOX_MUTATE_H
#define SANDBOX_MUTATE_H

#include "store.h"

int			mutate_run(Org *o, int n, Rng *r, uint32_t mask, ChangeSet *cs);
int			mutate_kind_by_name(const char *name);
const char *mutate_kind_names(void);

#endif
