/*-------------------------------------------------------------------------
 *
 * http.c
 *	  billy's one HTTP client: libcurl's multi interface driving any number
 *	  of requests, a few at a time, with timeouts, retries and interrupts.
 *
 * Every request, single or one of many, goes through billy_http_run:
 *
 *	- at most `concurrency` transfers are in flight; connections are reused
 *	  through one multi handle kept for the life of the process;
 *	- the loop never blocks more than 100 ms, and checks for interrupts each
 *	  time round, so Ctrl-C and statement_timeout stop a slow request within
 *	  a fraction of a second (curl's progress callback also aborts a transfer
 *	  as soon as an interrupt is pending);
 *	- a retryable request (a GET, unless the caller says otherwise) that
 *	  fails on a connection error, a timeout, a broken transfer or HTTP 429,
 *	  502, 503 or 504 is tried again after exponential backoff with full
 *	  jitter, or after Retry-After when Billy sends one, both capped by
 *	  billy.max_retry_wait_ms; a write is never retried here, because Billy
 *	  has no idempotency key (the outbox reconciles instead);
 *	- bodies larger than billy.max_response_bytes are refused;
 *	- only http and https are spoken and redirects are not followed, so the
 *	  token goes nowhere but the configured host;
 *	- curl handles and header lists are released on every path, errors
 *	  included (PG_FINALLY).
 *
 * Its settings (timeouts, size cap, retries) and module are http_settings.c.
 *
 * The access token travels only in the X-Access-Token header.  Nothing here
 * logs headers, and URLs carry no secrets (billy.api_url refuses user info).
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include <math.h>

#include <curl/curl.h>

#include "common/pg_prng.h"
#include "miscadmin.h"
#include "postmaster/postmaster.h"
#include "storage/ipc.h"
#include "storage/pmsignal.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "budget.h"
#include "http.h"
#include "json.h"

#define POLL_INTERVAL_MS 100
#define BACKOFF_BASE_MS 250

enum
{
	REQ_PENDING = 0,
	REQ_ACTIVE,
	REQ_WAITING,				/* waiting to be retried */
	REQ_DONE
};

/* one multi handle per process, so connections survive between calls */
static CURLM *billy_multi = NULL;

/* the memory context that owns the request being written into */
typedef struct BodyWriter
{
	BillyHttpRequest *req;
	MemoryContext mcxt;
	char		errbuf[CURL_ERROR_SIZE];
} BodyWriter;

/*
 * billy_http_append_escaped appends s to buf percent-encoded for a path
 * segment or a query value: RFC 3986's unreserved characters as they are,
 * every other byte as %XX
 */
void
billy_http_append_escaped(StringInfo buf, const char *s)
{
	for (const char *c = s; *c; c++)
	{
		if (isalnum((unsigned char) *c) || *c == '-' || *c == '_' || *c == '.' || *c == '~')
			appendStringInfoChar(buf, *c);
		else
			appendStringInfo(buf, "%%%02X", (unsigned char) *c);
	}
}

const char *
billy_http_method_name(BillyHttpMethod method)
{
	switch (method)
	{
		case BILLY_GET:
			return "GET";
		case BILLY_POST:
			return "POST";
		case BILLY_PUT:
			return "PUT";
		case BILLY_DELETE:
			return "DELETE";
	}
	return "?";
}

/*
 * billy_http_request_new makes a request in the current memory context; its
 * response body lives there too.
 */
BillyHttpRequest *
billy_http_request_new(BillyHttpMethod method, const char *base_url,
					   const char *path, const char *token)
{
	BillyHttpRequest *req = palloc0(sizeof(BillyHttpRequest));
	int			blen = strlen(base_url);

	while (blen > 0 && base_url[blen - 1] == '/')
		blen--;
	req->method = method;
	req->base_url = pnstrdup(base_url, blen);
	req->path = path[0] == '/' ? pstrdup(path) : psprintf("/%s", path);
	req->token = token;
	req->budget_org = billy_budget_org_for_token(token);
	req->retryable = (method == BILLY_GET);
	req->last_retry_after_ms = -1;
	req->response.maxlen = 8192;
	req->response.data = palloc(req->response.maxlen);
	req->response.data[0] = '\0';
	return req;
}

/*
 * write_body appends to the response, refusing to grow past the cap.  It
 * must not throw through curl's stack, so memory is asked for without
 * raising: on failure the transfer is aborted and the request fails.
 */
static size_t
write_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	BodyWriter *bw = userdata;
	BillyHttpRequest *req = bw->req;
	StringInfo	buf = &req->response;
	size_t		n = size * nmemb;

	if ((size_t) buf->len + n > (size_t) billy_max_response_bytes)
	{
		req->too_large = true;
		return 0;
	}
	if ((size_t) buf->len + n + 1 > (size_t) buf->maxlen)
	{
		size_t		newlen = (size_t) buf->maxlen * 2;
		char	   *p;

		if (newlen < (size_t) buf->len + n + 1)
			newlen = (size_t) buf->len + n + 1;
		if (newlen > (size_t) billy_max_response_bytes + 1)
			newlen = (size_t) billy_max_response_bytes + 1;
		p = MemoryContextAllocExtended(bw->mcxt, newlen,
									   MCXT_ALLOC_NO_OOM | MCXT_ALLOC_HUGE);
		if (p == NULL)
			return 0;
		memcpy(p, buf->data, buf->len);
		pfree(buf->data);
		buf->data = p;
		buf->maxlen = (int) newlen;
	}
	memcpy(buf->data + buf->len, ptr, n);
	buf->len += (int) n;
	buf->data[buf->len] = '\0';
	return n;
}

/*
 * interrupt_pending says whether CHECK_FOR_INTERRUPTS would act now: only
 * then is it worth aborting a transfer.
 */
static bool
interrupt_pending(void)
{
	return InterruptPending && (QueryCancelPending || ProcDiePending) &&
		InterruptHoldoffCount == 0 && CritSectionCount == 0;
}

/* progress_check aborts a transfer as soon as an interrupt is pending */
static int
progress_check(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
			   curl_off_t ultotal, curl_off_t ulnow)
{
	return interrupt_pending() ? 1 : 0;
}

#define SETOPT(h, opt, val) \
	do { \
		if (curl_easy_setopt((h), (opt), (val)) != CURLE_OK) \
			elog(ERROR, "billy: curl_easy_setopt(%s) failed", #opt); \
	} while (0)

static void
release_easy(BillyHttpRequest *req)
{
	if (req->easy != NULL)
	{
		if (billy_multi != NULL)
			curl_multi_remove_handle(billy_multi, req->easy);
		curl_easy_cleanup(req->easy);
		req->easy = NULL;
	}
	if (req->headers != NULL)
	{
		curl_slist_free_all(req->headers);
		req->headers = NULL;
	}
}

/* request_timeout_ms is the time one attempt of req may take */
static int
request_timeout_ms(BillyHttpRequest *req)
{
	return req->timeout_ms > 0 ? req->timeout_ms : billy_http_timeout_ms;
}

/*
 * start_attempt builds an easy handle for one attempt and adds it to the
 * multi handle.  Header lists are appended one by one so a failure leaves
 * nothing unowned: req->headers always holds what exists.
 */
static void
start_attempt(BillyHttpRequest *req)
{
	CURL	   *easy;
	BodyWriter *bw;
	struct curl_slist *h;
	char	   *url;
	char	   *token_header = NULL;

	MemoryContext old;

	req->response.len = 0;
	req->response.data[0] = '\0';
	req->too_large = false;
	req->attempts++;

	/*
	 * Everything an attempt allocates lives with the request: a caller may
	 * commit transactions (and so reset their memory) between completions.
	 */
	old = MemoryContextSwitchTo(GetMemoryChunkContext(req));
	bw = palloc0(sizeof(BodyWriter));
	bw->req = req;
	bw->mcxt = GetMemoryChunkContext(req->response.data);

	easy = curl_easy_init();
	if (easy == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("billy could not create an HTTP handle")));
	req->easy = easy;

	url = psprintf("%s%s", req->base_url, req->path);
	SETOPT(easy, CURLOPT_URL, url);
	SETOPT(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SETOPT(easy, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(easy, CURLOPT_NOSIGNAL, 1L);
	SETOPT(easy, CURLOPT_TIMEOUT_MS, (long) request_timeout_ms(req));
	SETOPT(easy, CURLOPT_CONNECTTIMEOUT_MS, (long) Min(billy_connect_timeout_ms, request_timeout_ms(req)));
	SETOPT(easy, CURLOPT_USERAGENT, BILLY_USER_AGENT);
	SETOPT(easy, CURLOPT_ACCEPT_ENCODING, "");
	SETOPT(easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) billy_max_response_bytes);
	SETOPT(easy, CURLOPT_WRITEFUNCTION, write_body);
	SETOPT(easy, CURLOPT_WRITEDATA, bw);
	SETOPT(easy, CURLOPT_XFERINFOFUNCTION, progress_check);
	SETOPT(easy, CURLOPT_NOPROGRESS, 0L);
	SETOPT(easy, CURLOPT_ERRORBUFFER, bw->errbuf);
	SETOPT(easy, CURLOPT_PRIVATE, bw);

	h = curl_slist_append(NULL, "Accept: application/json");
	if (h == NULL)
		elog(ERROR, "billy: out of memory building HTTP headers");
	req->headers = h;
	if (req->token != NULL)
	{
		token_header = psprintf("X-Access-Token: %s", req->token);
		h = curl_slist_append(req->headers, token_header);
		explicit_bzero(token_header, strlen(token_header));
		pfree(token_header);
		if (h == NULL)
			elog(ERROR, "billy: out of memory building HTTP headers");
	}
	if (req->body != NULL)
	{
		char	   *ct = psprintf("Content-Type: %s", req->content_type ? req->content_type : "application/json");

		h = curl_slist_append(req->headers, ct);
		pfree(ct);
		if (h == NULL)
			elog(ERROR, "billy: out of memory building HTTP headers");
		h = curl_slist_append(req->headers, "Expect:");
		if (h == NULL)
			elog(ERROR, "billy: out of memory building HTTP headers");
	}
	if (req->extra_header != NULL)
	{
		h = curl_slist_append(req->headers, req->extra_header);
		if (h == NULL)
			elog(ERROR, "billy: out of memory building HTTP headers");
	}
	SETOPT(easy, CURLOPT_HTTPHEADER, req->headers);

	switch (req->method)
	{
		case BILLY_GET:
			SETOPT(easy, CURLOPT_HTTPGET, 1L);
			break;
		case BILLY_POST:
			SETOPT(easy, CURLOPT_POST, 1L);
			break;
		case BILLY_PUT:
			SETOPT(easy, CURLOPT_CUSTOMREQUEST, "PUT");
			break;
		case BILLY_DELETE:
			SETOPT(easy, CURLOPT_CUSTOMREQUEST, "DELETE");
			break;
	}
	if (req->method != BILLY_GET)
	{
		const char *body = req->body ? req->body : "";

		SETOPT(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) (req->body_len > 0 ? req->body_len : strlen(body)));
		SETOPT(easy, CURLOPT_POSTFIELDS, body);
	}

	pfree(url);
	if (curl_multi_add_handle(billy_multi, easy) != CURLM_OK)
		elog(ERROR, "billy: curl_multi_add_handle failed");
	req->state = REQ_ACTIVE;
	MemoryContextSwitchTo(old);
}

/*
 * finish_attempt records how one attempt ended.  maybe_sent is set when
 * request bytes left this machine and no status came back: for a write,
 * its outcome is then unknown.
 */
static void
finish_attempt(BillyHttpRequest *req, CURLcode code)
{
	CURL	   *easy = req->easy;
	BodyWriter *bw = NULL;
	long		status = 0;
	long		request_size = 0;
	curl_off_t	retry_after = -1;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &bw);
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &request_size);
	if (curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &retry_after) != CURLE_OK)
		retry_after = -1;

	req->status = status;
	req->last_retry_after_ms = retry_after > 0 ?
		(int) Min(retry_after * 1000, (curl_off_t) PG_INT32_MAX) : -1;
	if (req->curl_error)
		pfree(req->curl_error);
	req->curl_error = NULL;

	if (code == CURLE_OK)
	{
		req->failure = (status >= 200 && status < 300) ? BILLY_HTTP_OK : BILLY_HTTP_STATUS;
		return;
	}

	req->curl_error = MemoryContextStrdup(GetMemoryChunkContext(req),
										  bw && bw->errbuf[0] ? bw->errbuf : curl_easy_strerror(code));
	if (req->method != BILLY_GET && request_size > 0)
		req->maybe_sent = true;

	switch (code)
	{
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_RESOLVE_PROXY:
		case CURLE_COULDNT_CONNECT:
			req->failure = BILLY_HTTP_CONNECT;
			break;
		case CURLE_OPERATION_TIMEDOUT:
			req->failure = BILLY_HTTP_TIMEOUT;
			break;
		case CURLE_FILESIZE_EXCEEDED:
			req->failure = BILLY_HTTP_TOO_LARGE;
			break;
		case CURLE_WRITE_ERROR:
			req->failure = req->too_large ? BILLY_HTTP_TOO_LARGE : BILLY_HTTP_OTHER;
			break;
		case CURLE_URL_MALFORMAT:
		case CURLE_UNSUPPORTED_PROTOCOL:
			req->failure = BILLY_HTTP_BAD_URL;
			break;
		case CURLE_RECV_ERROR:
		case CURLE_SEND_ERROR:
		case CURLE_PARTIAL_FILE:
		case CURLE_GOT_NOTHING:
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_HTTP2:
		case CURLE_HTTP2_STREAM:
		case CURLE_WEIRD_SERVER_REPLY:
		case CURLE_BAD_CONTENT_ENCODING:
			req->failure = BILLY_HTTP_TRANSFER;
			break;
		default:
			req->failure = BILLY_HTTP_OTHER;
			break;
	}
}

static bool
should_retry(BillyHttpRequest *req)
{
	if (!req->retryable || req->attempts > billy_max_retries)
		return false;
	switch (req->failure)
	{
		case BILLY_HTTP_CONNECT:
		case BILLY_HTTP_TIMEOUT:
		case BILLY_HTTP_TRANSFER:
			return true;
		case BILLY_HTTP_STATUS:
			return req->status == 429 || req->status == 502 ||
				req->status == 503 || req->status == 504;
		default:
			return false;
	}
}

/*
 * retry_delay_ms is Retry-After when Billy gave one, else full jitter:
 * uniform in [0, base * 2^(attempt-1)]; both capped.
 */
static int
retry_delay_ms(BillyHttpRequest *req)
{
	double		ceiling;

	if (req->last_retry_after_ms >= 0)
		return Min(req->last_retry_after_ms, billy_max_retry_wait_ms);
	ceiling = (double) BACKOFF_BASE_MS * pow(2.0, Min(req->attempts - 1, 20));
	ceiling = Min(ceiling, (double) billy_max_retry_wait_ms);
	return (int) (pg_prng_double(&pg_global_prng_state) * ceiling);
}

static void
log_attempt(BillyHttpRequest *req)
{
	ereport(DEBUG1,
			(errmsg_internal("billy: %s %s: %s%ld, %d bytes, attempt %d, %.1f ms",
							 billy_http_method_name(req->method), req->path,
							 req->failure == BILLY_HTTP_OK || req->failure == BILLY_HTTP_STATUS ? "HTTP " : "failed, status ",
							 req->status, req->response.len, req->attempts,
							 req->elapsed_ms),
			 errhidestmt(true)));
}

/*
 * charge takes an attempt of a GET from its organization's API budget
 * (budget.c); a spent budget raises before anything is sent.  Every GET
 * billy makes passes here.
 */
static void
charge(BillyHttpRequest *req)
{
	if (req->method == BILLY_GET)
		billy_budget_charge(req->budget_org);
}

/*
 * fill_slots starts requests while fewer than concurrency are in flight:
 * retries that are due first, then requests never started.  gets_only
 * starts GETs only (a write is never sent before the outcome of the one
 * before it has been handled).
 */
static void
fill_slots(BillyHttpRequest **reqs, int nreqs, int concurrency, int *active, int *next,
		   int *waiting, bool gets_only)
{
	TimestampTz now = GetCurrentTimestamp();

	for (int i = 0; *waiting > 0 && *active < concurrency && i < nreqs; i++)
	{
		if (reqs[i]->state == REQ_WAITING && reqs[i]->next_attempt_at <= now &&
			(!gets_only || reqs[i]->method == BILLY_GET))
		{
			(*waiting)--;
			charge(reqs[i]);
			start_attempt(reqs[i]);
			(*active)++;
		}
	}
	while (*active < concurrency && *next < nreqs &&
		   (!gets_only || reqs[*next]->method == BILLY_GET))
	{
		charge(reqs[*next]);
		start_attempt(reqs[(*next)++]);
		(*active)++;
	}
}

/*
 * run_loop drives the transfers until every request has its final outcome;
 * billy_http_run wraps it so that every curl resource is released whatever
 * happens.
 */
static void
run_loop(BillyHttpRequest **reqs, int nreqs, int concurrency,
		 BillyHttpDoneCallback done, void *arg)
{
	int			ndone = 0;
	int			active = 0;
	int			next = 0;
	int			waiting = 0;

	/* where the requests live: a done that commits keeps it */
	BillyHttpRequest **finished = MemoryContextAlloc(GetMemoryChunkContext(reqs[0]),
													 sizeof(BillyHttpRequest *) * nreqs);

	while (ndone < nreqs)
	{
		long		poll_ms = POLL_INTERVAL_MS;
		int			running;
		int			queued;
		int			nfinished = 0;
		CURLMsg    *msg;

		fill_slots(reqs, nreqs, concurrency, &active, &next, &waiting, false);
		if (curl_multi_perform(billy_multi, &running) != CURLM_OK)
			elog(ERROR, "billy: curl_multi_perform failed");

		while ((msg = curl_multi_info_read(billy_multi, &queued)) != NULL)
		{
			BodyWriter *bw = NULL;
			BillyHttpRequest *req;
			CURLcode	result = msg->data.result;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &bw);
			req = bw->req;
			finish_attempt(req, result);
			release_easy(req);
			pfree(bw);
			active--;

			if (result == CURLE_ABORTED_BY_CALLBACK)
			{
				CHECK_FOR_INTERRUPTS();
				/* interrupts were held off: give up on this request */
				req->failure = BILLY_HTTP_OTHER;
			}

			req->elapsed_ms = (double) (GetCurrentTimestamp() - req->started_at) / 1000.0;
			if (should_retry(req))
			{
				int			delay = retry_delay_ms(req);

				log_attempt(req);
				req->next_attempt_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), delay);
				req->state = REQ_WAITING;
				waiting++;
				continue;
			}
			req->state = REQ_DONE;
			ndone++;
			log_attempt(req);
			finished[nfinished++] = req;
		}

		/*
		 * The slots the finished requests freed are filled and the new
		 * requests sent before the finished ones are handed to done: what
		 * done does (parse, compare, store a page) overlaps the next
		 * requests' round trips instead of delaying them.  GETs only: a write
		 * is never sent before the one before it was handled.
		 */
		if (nfinished > 0 && done)
		{
			fill_slots(reqs, nreqs, concurrency, &active, &next, &waiting, true);
			if (curl_multi_perform(billy_multi, &running) != CURLM_OK)
				elog(ERROR, "billy: curl_multi_perform failed");
			for (int i = 0; i < nfinished; i++)
				done(finished[i], arg);
		}

		CHECK_FOR_INTERRUPTS();
		if (IsBackgroundWorker && !PostmasterIsAlive())
			proc_exit(1);
		if (ndone >= nreqs)
			break;

		/* a slot came free and a request waits for it: start it, don't poll */
		if (active < concurrency && next < nreqs)
			continue;

		/* with nothing in flight, sleep only until the next retry is due */
		if (active == 0 && waiting > 0)
		{
			TimestampTz soonest = 0;

			for (int i = 0; i < nreqs; i++)
				if (reqs[i]->state == REQ_WAITING &&
					(soonest == 0 || reqs[i]->next_attempt_at < soonest))
					soonest = reqs[i]->next_attempt_at;
			poll_ms = Max(0, Min(POLL_INTERVAL_MS,
								 (soonest - GetCurrentTimestamp()) / 1000));
		}
		if (curl_multi_poll(billy_multi, NULL, 0, (int) poll_ms, NULL) != CURLM_OK)
			elog(ERROR, "billy: curl_multi_poll failed");
	}
	pfree(finished);
}

/*
 * billy_http_run performs reqs, at most concurrency at a time, and calls
 * done (if given) for each as soon as it has its final outcome.  done may
 * do anything, SPI included; an error there or an interrupt releases every
 * curl resource before it propagates.
 */
void
billy_http_run(BillyHttpRequest **reqs, int nreqs, int concurrency,
			   BillyHttpDoneCallback done, void *arg)
{
	if (nreqs <= 0)
		return;
	if (concurrency < 1)
		concurrency = 1;

	if (billy_multi == NULL)
	{
		billy_multi = curl_multi_init();
		if (billy_multi == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("billy could not create an HTTP multi handle")));
		curl_multi_setopt(billy_multi, CURLMOPT_MAX_HOST_CONNECTIONS, 16L);
	}

	for (int i = 0; i < nreqs; i++)
	{
		reqs[i]->state = REQ_PENDING;
		reqs[i]->attempts = 0;
		reqs[i]->maybe_sent = false;
		reqs[i]->started_at = GetCurrentTimestamp();
	}

	PG_TRY();
	{
		run_loop(reqs, nreqs, concurrency, done, arg);
	}
	PG_FINALLY();
	{
		for (int i = 0; i < nreqs; i++)
		{
			if (reqs[i]->easy != NULL)
			{
				BodyWriter *bw = NULL;

				curl_easy_getinfo(reqs[i]->easy, CURLINFO_PRIVATE, (char **) &bw);
				release_easy(reqs[i]);
				if (bw)
					pfree(bw);
			}
			else if (reqs[i]->headers != NULL)
				release_easy(reqs[i]);
		}
	}
	PG_END_TRY();
}

/* billy_http_perform runs one request to its final outcome */
void
billy_http_perform(BillyHttpRequest *req)
{
	billy_http_run(&req, 1, 1, NULL, NULL);
}

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
								   where, request_timeout_ms(req), attempts, req->curl_error);
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
