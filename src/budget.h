/*-------------------------------------------------------------------------
 *
 * budget.h
 *	  One API budget per organization for the calls to Billy that roles can
 *	  trigger, charged where every GET is issued (http.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_BUDGET_H
#define BILLY_BUDGET_H

#include "postgres.h"

/* whose share a call to Billy is taken from */
typedef enum BillyShare
{
	BILLY_SHARE_DEFAULT = -1,	/* decided by the role (backends) */
	BILLY_SHARE_EXEMPT = 0,		/* the sync and the writes: not charged */
	BILLY_SHARE_READER,			/* roles outside billy_admin, and refreshes */
	BILLY_SHARE_ADMIN,			/* billy_admin members */
	BILLY_SHARE__COUNT
} BillyShare;

/* settings (budget.c) */
extern int	billy_api_budget_per_minute;
extern int	billy_admin_api_budget_per_minute;
extern int	billy_max_organizations;

extern const struct BillyModule billy_budget_module;

extern void billy_budget_note_token(const char *org, const char *token);
extern const char *billy_budget_org_for_token(const char *token);
extern void billy_budget_set_process_share(BillyShare share);
extern void billy_budget_exempt_this_transaction(void);
extern bool billy_budget_charge_scans(bool on);
extern void billy_budget_charge(const char *org);

#endif							/* BILLY_BUDGET_H */
