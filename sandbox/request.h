/*
 * request.h - one HTTP request as the API and control handlers see it,
 * the response they build, and the helpers for Billy's error envelope.
 */
#ifndef SANDBOX_REQUEST_H
#define SANDBOX_REQUEST_H

#include <jansson.h>

#include "json.h"
#include "store.h"

typedef struct Arg
{
	char	   *key;
	char	   *value;
} Arg;

typedef struct Request
{
	const char *method;
	const char *path;
	Arg		   *args;
	int			nargs;
	const char *token;			/* X-Access-Token, NULL if absent */
	const char *content_type;	/* Content-Type, NULL if absent */
	const char *filename;		/* X-Filename (file uploads), NULL if absent */
	const char *body;
	size_t		body_len;
	bool		body_too_large;
	bool		revoked;		/* a revoke_token fault matched */
} Request;

typedef struct Response
{
	int			status;
	Buf			body;
	const char *route;			/* route template, for stats */
	const char *content_type;	/* NULL: JSON */
	int			retry_after;	/* seconds, -1 for none */
	bool		wrote;			/* a write was processed and stored */
} Response;

const char *req_arg(const Request *rq, const char *key);
bool		is_write_method(const char *method);

/* Billy's error envelope (spec §2) */
void		resp_error(Response *rs, int status, const char *code, const char *message);
void		resp_json_begin(Response *rs, int status);	/* {"meta":{...} */

/* 422 with validationErrors */
typedef struct VErr
{
	int			n;
	char		message[256];
	struct
	{
		char		key[64];
		char		attr[64];
		char		msg[192];
	}			e[16];
} VErr;

void		verr_add(VErr *v, const char *key, const char *attr, const char *fmt,...)
			__attribute__((format(printf, 4, 5)));
void		resp_validation(Response *rs, const VErr *v);
void		resp_unprocessable(Response *rs, const char *key, const char *attr, const char *msg);

/* parse a request body as a JSON object; NULL (and a 400) if it is not one */
json_t	   *parse_body_object(const Request *rq, Response *rs);

/* handlers */
void		api_init(void);
void		api_handle(const Request *rq, Response *rs);
void		control_handle(const Request *rq, Response *rs);
const char *api_org_for_token(const char *token, char out[ID_LEN + 1]);
const char *api_route_template(const char *method, const char *path);

#endif
