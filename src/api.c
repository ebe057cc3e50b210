/*-------------------------------------------------------------------------
 *
 * api.c
 *	  Billy's API v2 as billy uses it: paths, envelopes, and a read-only
 *	  passthrough for administrators.
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "api.h"
#include "http.h"
#include "json.h"
#include "organizations.h"

PG_FUNCTION_INFO_V1(billy_api_get);

/*
 * billy_check_api_path refuses anything but a plain absolute path (with an
 * optional query): the path is appended to the organization's base URL, and
 * nothing in it may change which host the token goes to.
 */
void
billy_check_api_path(const char *path)
{
	if (path[0] != '/' || path[1] == '/')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("path must start with a single \"/\""),
				 errhint("For example: /invoices?pageSize=10")));
	for (const char *p = path; *p; p++)
	{
		if ((unsigned char) *p <= ' ' || *p == '#' || *p == '\\' || *p == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("path must not contain spaces, control characters, \"#\" or \"\\\""),
					 errhint("Percent-encode such characters.")));
	}

	/*
	 * No segment of the path (before any query) may be "." or "..", also not
	 * percent-encoded, nor hold an encoded "/" or "\": curl and servers
	 * resolve them, and "/.." appended to .../v2 would leave /v2.
	 */
	for (const char *seg = path + 1;; seg++)
	{
		const char *end = seg + strcspn(seg, "/?");
		int			dots = 0;
		bool		other = false;

		for (const char *p = seg; p < end; p++)
		{
			if (*p == '%' && end - p >= 3)
			{
				char		hex[3] = {p[1], p[2], '\0'};
				long		ch = strtol(hex, NULL, 16);

				if (ch == '/' || ch == '\\')
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("path must not contain an encoded \"/\" or \"\\\""),
							 errhint("For example: /invoices?pageSize=10")));
				if (ch == '.')
				{
					dots++;
					p += 2;
					continue;
				}
			}
			if (*p == '.')
				dots++;
			else
				other = true;
		}
		if (!other && (dots == 1 || dots == 2))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("path must not contain \".\" or \"..\" segments"),
					 errdetail("The path is appended to the organization's API URL and must stay below it."),
					 errhint("For example: /invoices?pageSize=10")));
		if (*end != '/')
			break;
		seg = end;
	}
}

/*
 * billy_api_fetch is one GET relative to an organization's API URL with its
 * stored token (charged to its budget like every GET); any failure raises.
 * The body may be anything (a file's bytes); the token is wiped after.
 */
BillyHttpRequest *
billy_api_fetch(const char *org_id, const char *path)
{
	char	   *api_url = NULL;
	char	   *token = billy_load_token(org_id, &api_url);
	BillyHttpRequest *req;

	req = billy_http_request_new(BILLY_GET, billy_effective_api_url(api_url), path, token);
	billy_http_perform(req);
	explicit_bzero(token, strlen(token));
	req->token = NULL;
	if (req->failure != BILLY_HTTP_OK)
		billy_http_raise(req);
	return req;
}

/*
 * billy_api_get: billy.api_get(org text, path text) RETURNS jsonb.  One GET
 * relative to the organization's API URL with its stored token, answered
 * as Billy answered (the whole envelope).  Retries like every GET; errors
 * like every request.  For looking at what Billy says, e.g. while checking
 * the mirror.
 */
Datum
billy_api_get(PG_FUNCTION_ARGS)
{
	char	   *org_id;
	char	   *path;
	BillyHttpRequest *req;
	Jsonb	   *result;

	billy_require_preload();
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("path must not be null")));
	path = text_to_cstring(PG_GETARG_TEXT_PP(1));
	billy_check_api_path(path);
	org_id = billy_resolve_organization(PG_ARGISNULL(0) ? NULL :
										text_to_cstring(PG_GETARG_TEXT_PP(0)));
	req = billy_api_fetch(org_id, path);
	billy_http_require_json(req);
	result = billy_jsonb_parse(req->response.data, req->response.len,
							   "Billy's answer to an api_get request");
	PG_RETURN_JSONB_P(result);
}
