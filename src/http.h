/*-------------------------------------------------------------------------
 *
 * http.h
 *	  billy's one HTTP client (libcurl), for single requests and for many
 *	  requests in flight at once.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_HTTP_H
#define BILLY_HTTP_H

#include "postgres.h"

#include "lib/stringinfo.h"

typedef enum BillyHttpMethod
{
	BILLY_GET,
	BILLY_POST,
	BILLY_PUT,
	BILLY_DELETE
} BillyHttpMethod;

/* How a request ended.  Only BILLY_HTTP_OK has a 2xx status and whole body. */
typedef enum BillyHttpFailure
{
	BILLY_HTTP_OK = 0,
	BILLY_HTTP_STATUS,			/* a final non-2xx status */
	BILLY_HTTP_CONNECT,			/* could not resolve or connect: nothing sent */
	BILLY_HTTP_TIMEOUT,			/* connect or total timeout */
	BILLY_HTTP_TRANSFER,		/* connection lost or broken mid-exchange */
	BILLY_HTTP_TOO_LARGE,		/* body over billy.max_response_bytes */
	BILLY_HTTP_BAD_URL,			/* malformed URL or unsupported scheme */
	BILLY_HTTP_OTHER			/* any other curl failure */
} BillyHttpFailure;

typedef struct BillyHttpRequest
{
	/* set by the caller (billy_http_request_new fills defaults) */
	BillyHttpMethod method;
	char	   *base_url;		/* e.g. https://api.billysbilling.com/v2 */
	char	   *path;			/* e.g. /invoices?page=2; shown in errors */
	const char *token;			/* X-Access-Token: never logged, never shown */
	char	   *body;			/* JSON body for POST and PUT, or NULL */
	size_t		body_len;		/* its length when binary (0: strlen(body)) */
	const char *content_type;	/* the body's type (NULL: application/json) */
	const char *extra_header;	/* one more header line, e.g. X-Filename
								 * (files.c) */
	bool		retryable;		/* retry transient failures (GET by default) */
	int			timeout_ms;		/* total time of one attempt; 0:
								 * billy.http_timeout_ms */
	void	   *arg;			/* the caller's, for the completion callback */

	/* results */
	BillyHttpFailure failure;
	long		status;			/* HTTP status, 0 when none was received */
	StringInfoData response;	/* the body; data is NUL-terminated */
	char	   *curl_error;		/* curl's description of a failure */
	int			attempts;
	bool		maybe_sent;		/* a write may have reached Billy */
	double		elapsed_ms;		/* all attempts, waits included */
	int			last_retry_after_ms;	/* Retry-After of the last answer, or
										 * -1 */
	TimestampTz started_at;		/* when the first attempt was made: the answer
								 * is at least this recent */

	/* private to http.c */
	void	   *easy;
	void	   *headers;
	bool		too_large;
	TimestampTz next_attempt_at;
	int			state;
	const char *budget_org;		/* the organization GETs are charged to
								 * (budget.c) */
} BillyHttpRequest;

/* what billy_http_describe makes of a failed request */
typedef struct BillyHttpError
{
	int			sqlerrcode;
	char	   *message;
	char	   *detail;
	char	   *hint;
	const char *cause;			/* short, stable: "timeout", "http_401", ... */
	char	   *billy_error_code;	/* Billy's errorCode, when it sent one */
} BillyHttpError;

typedef void (*BillyHttpDoneCallback) (BillyHttpRequest *req, void *arg);
typedef BillyHttpRequest *(*BillyHttpNextCallback) (void *arg);

extern BillyHttpRequest *billy_http_request_new(BillyHttpMethod method,
												const char *base_url,
												const char *path,
												const char *token);
extern void billy_http_run(BillyHttpRequest **reqs, int nreqs, int concurrency,
						   BillyHttpDoneCallback done, void *arg);
extern void billy_http_run_fed(int concurrency, BillyHttpNextCallback next, void *next_arg,
							   BillyHttpDoneCallback done, void *arg);
extern void billy_http_perform(BillyHttpRequest *req);
extern int	billy_http_attempt_timeout_ms(BillyHttpRequest *req);
extern void billy_http_describe(BillyHttpRequest *req, BillyHttpError *err);
extern void billy_http_raise(BillyHttpRequest *req) pg_attribute_noreturn();
extern bool billy_http_json_problem(BillyHttpRequest *req, BillyHttpError *err);
extern void billy_http_require_json(BillyHttpRequest *req);
extern const char *billy_http_method_name(BillyHttpMethod method);
extern void billy_http_append_escaped(StringInfo buf, const char *s);

/* settings (http.c) */
extern int	billy_http_timeout_ms;
extern int	billy_connect_timeout_ms;
extern int	billy_max_response_bytes;
extern int	billy_max_retries;
extern int	billy_max_retry_wait_ms;

extern const struct BillyModule billy_http_module;

#endif							/* BILLY_HTTP_H */
