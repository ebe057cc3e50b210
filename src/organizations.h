/*-------------------------------------------------------------------------
 *
 * organizations.h
 *	  Connecting Billy organizations and opening their stored tokens.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_ORGANIZATIONS_H
#define BILLY_ORGANIZATIONS_H

#include "postgres.h"

extern char *billy_resolve_organization(const char *org);
extern char *billy_resolve_organization_quietly(const char *org);
extern char *billy_load_token(const char *org_id, char **api_url);
extern void billy_refresh_organization(const char *org_id);

#endif							/* BILLY_ORGANIZATIONS_H */
