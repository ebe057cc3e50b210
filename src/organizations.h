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

#include "http.h"

extern char *billy_resolve_organization(const char *org);
extern char *billy_resolve_organization_quietly(const char *org);
extern char *billy_load_token(const char *org_id, char **api_url);
extern void billy_refresh_organization(const char *org_id);
extern void billy_store_organization_answer(const char *org_id, BillyHttpRequest *req);

/* settings (organizations.c) */
extern char *billy_api_url;
extern char *billy_key_file;
extern char *billy_old_key_file;
extern char *billy_token_store;

extern const char *billy_effective_api_url(const char *url);

extern const struct BillyModule billy_organizations_module;

#endif							/* BILLY_ORGANIZATIONS_H */
