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

/* field readers shared by the write endpoints (write.c) */
typedef struct Fields
{
	Org		   *o;
	VErr	   *v;
	json_t	   *obj;
	char		key[64];		/* validationErrors key: _clientId or resource
								 * name */
	char		prefix[32];		/* attribute prefix for child records
								 * ("lines.0.") */
} Fields;

void		fields_init(Fields *f, Org *o, VErr *v, json_t *obj, const char *resource,
						const char *parent_key, const char *prefix);
void		ferr(Fields *f, const char *attr, const char *msg);
bool		has(Fields *f, const char *name);
bool		get_str(Fields *f, const char *name, const char **out, bool required);
bool		get_scaled(Fields *f, const char *name, int64_t scale, int64_t *out, bool required);
bool		get_bool(Fields *f, const char *name, bool *out);
bool		get_int(Fields *f, const char *name, int64_t lo, int64_t hi, int64_t *out);
bool		get_date(Fields *f, const char *name, Date *out, bool required);
bool		get_ref(Fields *f, const char *name, RK rk, int32_t *out, bool required);
bool		get_enum(Fields *f, const char *name, const char *const *values, int n, int *out);
const char *adup(Org *o, const char *s);
json_t	   *root_object(WriteCtx *w, const char *name);
bool		check_org_id(Fields *f);
void		write_not_found(Response *rs, RK rk, const char *id);

/* the books' writes (bookwrite.c); callers hold the org lock exclusively */
void		books_write_create(WriteCtx *w);
void		books_write_update(WriteCtx *w, int32_t i);
void		books_write_delete(WriteCtx *w);
void		books_file_upload(WriteCtx *w);
void		books_file_download(Org *o, const char *id, Response *rs);

/* shared with the control API: the write response for a change set */
void		write_respond(Response *rs, Org *o, const ChangeSet *cs, RK first);

#endif
