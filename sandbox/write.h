/*
 * write.h - the write endpoints of the API: create, update and delete of
 * invoices, contacts, products, bills and bank payments, invoice e-mails
 * and the organization update.  Each takes the org lock exclusively for
 * one atomic change and answers with every changed record.
 */
#ifndef SANDBOX_WRITE_H
#define SANDBOX_WRITE_H

#include "request.h"

typedef struct WriteCtx
{
	Org		   *o;
	const Request *rq;
	Response   *rs;
	json_t	   *body;
	RK			rk;
	const char *id;
} WriteCtx;

void		write_create(WriteCtx *w);
void		write_update(WriteCtx *w);
void		write_delete(WriteCtx *w, bool collection);
void		write_invoice_email(WriteCtx *w);
void		write_organization(WriteCtx *w);

/* shared with the control API: the write response for a change set */
void		write_respond(Response *rs, Org *o, const ChangeSet *cs, RK first);

#endif
