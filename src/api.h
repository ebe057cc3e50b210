/*-------------------------------------------------------------------------
 *
 * api.h
 *	  Billy's API v2 as billy uses it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_API_H
#define BILLY_API_H

#include "postgres.h"

extern void billy_check_api_path(const char *path);

struct BillyHttpRequest;
extern struct BillyHttpRequest *billy_api_fetch(const char *org_id, const char *path);

#endif							/* BILLY_API_H */
