/*-------------------------------------------------------------------------
 *
 * http_errors.c
 *	  What a failed request of billy's HTTP client (http.c) means to a
 *	  person: the error billy raises for it, Billy's own errorCode and
 *	  message included, and what to do.
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include "http.h"
#include "json.h"

/*
 * billy_http_describe turns a failed request into an error a person can act
 * on: what failed, Billy's own errorCode and message, and what to do.
 */
void
billy_http_describe(BillyHttpRequest *req, BillyHttpError *err)
{
	const char *method = billy_http_method_name(req->method);
	char	   *where = psprintf("%s %s%s", method, req->base_url, req->path);
	char	   *attempts = req->attempts > 1 ? psprintf(" after %d attempts", req->attempts) : pstrdup("");

	memset(err, 0, sizeof(*err));

	switch (req->failure)
	{
		case BILLY_HTTP_OK:
			err->sqlerrcode = ERRCODE_SUCCESSFUL_COMPLETION;
			err->message = pstrdup("request succeeded");
			err->cause = "ok";
			return;

		case BILLY_HTTP_CONNECT:
			err->sqlerrcode = ERRCODE_CONNECTION_FAILURE;
			err->message = pstrdup("could not connect to Billy");
			err->detail = psprintf("%s failed%s: %s.", where, attempts, req->curl_error);
			err->hint = pstrdup("Check the API URL (billy.api_url or the organization's own) and the network.");
			err->cause = "connect";
			return;

		case BILLY_HTTP_TIMEOUT:
			err->sqlerrcode = ERRCODE_CONNECTION_FAILURE;
			err->message = pstrdup("request to Billy timed out");
			err->detail = psprintf("%s got no complete answer within %d ms%s: %s.",
								   where, billy_http_attempt_timeout_ms(req), attempts, req->curl_error);
			err->hint = pstrdup("Billy may be slow or unreachable; billy.http_timeout_ms and billy.connect_timeout_ms bound the wait.");
			err->cause = "timeout";
			return;

		case BILLY_HTTP_TRANSFER:
			err->sqlerrcode = ERRCODE_CONNECTION_FAILURE;
			err->message = pstrdup("connection to Billy broke during the request");
			err->detail = psprintf("%s failed%s: %s.", where, attempts, req->curl_error);
			err->hint = req->maybe_sent ?
				pstrdup("The request may have reached Billy; its outcome is unknown.") :
				pstrdup("Try again; reads are retried automatically up to billy.max_retries times.");
			err->cause = "transfer";
			return;

		case BILLY_HTTP_TOO_LARGE:
			err->sqlerrcode = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
			err->message = pstrdup("response from Billy is larger than billy.max_response_bytes");
			err->detail = psprintf("%s returned more than %d bytes.", where, billy_max_response_bytes);
			err->hint = pstrdup("A superuser can raise billy.max_response_bytes if responses this large are expected.");
			err->cause = "too_large";
			return;

		case BILLY_HTTP_BAD_URL:
			err->sqlerrcode = ERRCODE_INVALID_PARAMETER_VALUE;
			err->message = pstrdup("invalid Billy API URL");
			err->detail = psprintf("%s: %s.", where, req->curl_error);
			err->hint = pstrdup("The URL must be an absolute http:// or https:// URL.");
			err->cause = "bad_url";
			return;

		case BILLY_HTTP_OTHER:
			err->sqlerrcode = ERRCODE_EXTERNAL_ROUTINE_EXCEPTION;
			err->message = pstrdup("request to Billy failed");
			err->detail = psprintf("%s failed%s: %s.", where, attempts,
								   req->curl_error ? req->curl_error : "interrupted");
			err->cause = "curl";
			return;

		case BILLY_HTTP_STATUS:
			break;
	}

	/* an HTTP error status: read Billy's error envelope when there is one */
	{
		static const char *const names[] = {"errorCode", "errorMessage", "validationErrors"};
		char	   *values[3];
		StringInfoData d;

		billy_json_top_fields(req->response.data, req->response.len, names, 3, values);
		err->billy_error_code = values[0];

		initStringInfo(&d);
		appendStringInfo(&d, "%s answered HTTP %ld%s", where, req->status, attempts);
		if (values[0] || values[1])
			appendStringInfo(&d, ": %s%s%s", values[0] ? values[0] : "",
							 values[0] && values[1] ? ": " : "",
							 values[1] ? values[1] : "");
		if (d.len > 0 && d.data[d.len - 1] != '.')
			appendStringInfoChar(&d, '.');
		if (values[2])
			appendStringInfo(&d, " Validation errors: %s", values[2]);
		if (req->status == 429 && req->last_retry_after_ms >= 0)
			appendStringInfo(&d, " Retry-After: %d s.", req->last_retry_after_ms / 1000);
		err->detail = d.data;

		if (req->status == 401 || req->status == 403)
		{
			err->sqlerrcode = ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION;
			err->message = pstrdup("Billy refused the access token");
			err->hint = pstrdup("Create an access token in Billy (Settings, Access tokens) and call billy.connect() with it.");
			err->cause = req->status == 401 ? "http_401" : "http_403";
		}
		else if (req->status == 429)
		{
			err->sqlerrcode = ERRCODE_CONFIGURATION_LIMIT_EXCEEDED;
			err->message = pstrdup("Billy's rate limit is still exceeded");
			err->hint = pstrdup("Try again later; billy.max_retries and billy.max_retry_wait_ms control how long billy keeps trying.");
			err->cause = "http_429";
		}
		else if (req->status == 404)
		{
			err->sqlerrcode = ERRCODE_EXTERNAL_ROUTINE_EXCEPTION;
			err->message = pstrdup("Billy does not know the requested resource");
			err->cause = "http_404";
		}
		else if (req->status == 422 || req->status == 400)
		{
			err->sqlerrcode = ERRCODE_INVALID_PARAMETER_VALUE;
			err->message = pstrdup("Billy rejected the request");
			err->hint = pstrdup("The detail has Billy's reason; correct the named fields and try again.");
			err->cause = req->status == 422 ? "http_422" : "http_400";
		}
		else if (req->status >= 500)
		{
			err->sqlerrcode = ERRCODE_EXTERNAL_ROUTINE_EXCEPTION;
			err->message = psprintf("Billy's API failed with HTTP %ld", req->status);
			err->hint = pstrdup("Billy may be having trouble; try again later.");
			err->cause = "http_5xx";
		}
		else
		{
			err->sqlerrcode = ERRCODE_EXTERNAL_ROUTINE_EXCEPTION;
			err->message = psprintf("Billy answered HTTP %ld", req->status);
			err->cause = "http_other";
		}
	}
}

/*
 * billy_http_raise reports a failed request as an ERROR.  The statement is
 * kept out of the server log (errhidestmt): the statement that failed may be
 * billy.connect() with a token in its text.
 */
void
billy_http_raise(BillyHttpRequest *req)
{
	BillyHttpError err;

	billy_http_describe(req, &err);
	ereport(ERROR,
			(errcode(err.sqlerrcode),
			 errmsg("%s", err.message),
			 err.detail ? errdetail("%s", err.detail) : 0,
			 err.hint ? errhint("%s", err.hint) : 0,
			 errhidestmt(true)));
	pg_unreachable();
}

/*
 * billy_http_json_problem fills err and returns true when a successful
 * response's body is not JSON that billy can store.
 */
bool
billy_http_json_problem(BillyHttpRequest *req, BillyHttpError *err)
{
	char	   *problem = billy_json_check(req->response.data, req->response.len);

	if (problem == NULL)
		return false;
	memset(err, 0, sizeof(*err));
	err->sqlerrcode = ERRCODE_EXTERNAL_ROUTINE_EXCEPTION;
	err->message = pstrdup("Billy returned invalid JSON");
	err->detail = psprintf("%s %s%s answered HTTP %ld with a body that is not valid JSON: %s",
						   billy_http_method_name(req->method), req->base_url,
						   req->path, req->status, problem);
	err->hint = pstrdup("Billy or a proxy in between may be failing; try again later.");
	err->cause = "invalid_json";
	return true;
}

/* billy_http_require_json raises the error billy_http_json_problem finds */
void
billy_http_require_json(BillyHttpRequest *req)
{
	BillyHttpError err;

	if (!billy_http_json_problem(req, &err))
		return;
	ereport(ERROR,
			(errcode(err.sqlerrcode),
			 errmsg("%s", err.message),
			 errdetail("%s", err.detail),
			 errhint("%s", err.hint),
			 errhidestmt(true)));
}
