/*-------------------------------------------------------------------------
 *
 * visibility.h
 *	  Which organizations the current role may see (row-level security's
 *	  rule), cached per backend.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_VISIBILITY_H
#define BILLY_VISIBILITY_H

#include "postgres.h"

/* settings (visibility.c) */
extern char *billy_jwt_roles;

extern bool billy_org_visible(const char *org);

extern const struct BillyModule billy_visibility_module;

#endif							/* BILLY_VISIBILITY_H */
