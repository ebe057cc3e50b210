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
 * Its settings (timeouts, size cap, retries) and module are http_settings.c;
 * what a failed request means to a person, http_errors.c.
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

/* billy_http_attempt_timeout_ms is the time one attempt of req may take */
int
billy_http_attempt_timeout_ms(BillyHttpRequest *req)
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
	SETOPT(easy, CURLOPT_TIMEOUT_MS, (long) billy_http_attempt_timeout_ms(req));
	SETOPT(easy, CURLOPT_CONNECTTIMEOUT_MS, (long) Min(billy_connect_timeout_ms, billy_http_attempt_timeout_ms(req)));
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
 * A run: the requests it has started and not yet handed to done (active or
 * waiting for a retry), and where the next ones come from.  Its memory is
 * its own, under TopMemoryContext: a done that commits keeps it.
 */
typedef struct HttpRun
{
	MemoryContext cxt;
	int			concurrency;
	BillyHttpNextCallback next;
	void	   *next_arg;
	BillyHttpRequest *held;		/* taken from next, not started yet (a write) */
	BillyHttpRequest **live;	/* active or waiting */
	BillyHttpRequest **finished;	/* final, waiting for done, in order */
	int			nlive;
	int			cap;
	int			npending;
	int			fcap;
	int			active;
	int			waiting;
} HttpRun;

/* take_request starts a request taken from next: it becomes live */
static void
take_request(HttpRun *run, BillyHttpRequest *req)
{
	if (run->nlive == run->cap)
	{
		run->cap *= 2;
		run->live = repalloc(run->live, sizeof(BillyHttpRequest *) * run->cap);
	}
	req->state = REQ_PENDING;
	req->attempts = 0;
	req->maybe_sent = false;
	req->started_at = GetCurrentTimestamp();
	run->live[run->nlive++] = req;
	charge(req);
	start_attempt(req);
	run->active++;
}

/*
 * fill_slots starts requests while fewer than concurrency are in flight:
 * retries that are due first, then new ones from next.  gets_only starts
 * GETs only (a write is never sent before the outcome of the one before it
 * has been handled).
 */
static void
fill_slots(HttpRun *run, bool gets_only)
{
	TimestampTz now = GetCurrentTimestamp();

	for (int i = 0; run->waiting > 0 && run->active < run->concurrency && i < run->nlive; i++)
	{
		BillyHttpRequest *req = run->live[i];

		if (req->state == REQ_WAITING && req->next_attempt_at <= now &&
			(!gets_only || req->method == BILLY_GET))
		{
			run->waiting--;
			charge(req);
			start_attempt(req);
			run->active++;
		}
	}
	while (run->active < run->concurrency)
	{
		BillyHttpRequest *req;

		if (run->held == NULL)
			run->held = run->next(run->next_arg);
		req = run->held;
		if (req == NULL || (gets_only && req->method != BILLY_GET))
			break;
		run->held = NULL;
		take_request(run, req);
	}
}

/* no_longer_live: a request has its final outcome */
static void
no_longer_live(HttpRun *run, BillyHttpRequest *req)
{
	for (int i = 0; i < run->nlive; i++)
		if (run->live[i] == req)
		{
			run->live[i] = run->live[--run->nlive];
			return;
		}
}

/* pend keeps a request with its final outcome until done has it */
static void
pend(HttpRun *run, BillyHttpRequest *req)
{
	if (run->npending == run->fcap)
	{
		run->fcap *= 2;
		run->finished = repalloc(run->finished, sizeof(BillyHttpRequest *) * run->fcap);
	}
	run->finished[run->npending++] = req;
}

/*
 * run_loop drives the transfers until next has nothing more and every
 * request has its final outcome and was handed to done; billy_http_run_fed
 * wraps it so that every curl resource is released whatever happens.
 *
 * Finished requests are handed to done one at a time, each after the slots
 * freed so far are filled and the new requests sent: what done does (parse,
 * compare, store a page) overlaps the next requests' round trips instead of
 * delaying them, and a request that finishes meanwhile frees its slot
 * before the next one is handled.  While one waits for done only GETs start
 * (a write is never sent before the one before it was handled), and no new
 * request starts while more than concurrency of them wait (their bodies are
 * memory).
 */
static void
run_loop(HttpRun *run, BillyHttpDoneCallback done, void *arg)
{
	for (;;)
	{
		long		poll_ms = POLL_INTERVAL_MS;
		int			running;
		int			queued;
		int			nfinished = 0;
		CURLMsg    *msg;

		if (run->npending <= run->concurrency)
			fill_slots(run, run->npending > 0);
		if (run->active == 0 && run->waiting == 0 && run->npending == 0)
			break;
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
			run->active--;

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
				run->waiting++;
				continue;
			}
			req->state = REQ_DONE;
			log_attempt(req);
			no_longer_live(run, req);
			nfinished++;
			if (done)
				pend(run, req);
		}

		if (run->npending > 0)
		{
			BillyHttpRequest *req = run->finished[0];

			if (nfinished > 0 && run->npending <= run->concurrency)
			{
				fill_slots(run, true);
				if (curl_multi_perform(billy_multi, &running) != CURLM_OK)
					elog(ERROR, "billy: curl_multi_perform failed");
			}
			memmove(run->finished, run->finished + 1, sizeof(BillyHttpRequest *) * --run->npending);
			done(req, arg);
		}

		CHECK_FOR_INTERRUPTS();
		if (IsBackgroundWorker && !PostmasterIsAlive())
			proc_exit(1);

		/* slots came free, or a request waits for done: go round again */
		if (nfinished > 0 || run->npending > 0)
			continue;

		/* with nothing in flight, sleep only until the next retry is due */
		if (run->active == 0 && run->waiting > 0)
		{
			TimestampTz soonest = 0;

			for (int i = 0; i < run->nlive; i++)
				if (run->live[i]->state == REQ_WAITING &&
					(soonest == 0 || run->live[i]->next_attempt_at < soonest))
					soonest = run->live[i]->next_attempt_at;
			poll_ms = Max(0, Min(POLL_INTERVAL_MS,
								 (soonest - GetCurrentTimestamp()) / 1000));
		}
		if (curl_multi_poll(billy_multi, NULL, 0, (int) poll_ms, NULL) != CURLM_OK)
			elog(ERROR, "billy: curl_multi_poll failed");
	}
}

/*
 * billy_http_run_fed performs the requests next gives, at most concurrency
 * at a time, and calls done (if given) for each as soon as it has its final
 * outcome.  next returns NULL when it has nothing to start now; the run
 * ends when it has nothing and nothing is in flight, so done may give next
 * more (the pages a first page announced).  next and done may do anything,
 * SPI and commits included, but not run requests themselves (one multi
 * handle); an error there or an interrupt releases every curl resource
 * before it propagates.  The caller owns the requests; a request handed to
 * done is the run's no more.
 */
void
billy_http_run_fed(int concurrency, BillyHttpNextCallback next, void *next_arg,
				   BillyHttpDoneCallback done, void *arg)
{
	HttpRun    *run;
	MemoryContext cxt;

	if (billy_multi == NULL)
	{
		billy_multi = curl_multi_init();
		if (billy_multi == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("billy could not create an HTTP multi handle")));
		curl_multi_setopt(billy_multi, CURLMOPT_MAX_HOST_CONNECTIONS, 16L);
	}

	cxt = AllocSetContextCreate(TopMemoryContext, "billy http run", ALLOCSET_SMALL_SIZES);
	run = MemoryContextAllocZero(cxt, sizeof(HttpRun));
	run->cxt = cxt;
	run->concurrency = Max(1, concurrency);
	run->next = next;
	run->next_arg = next_arg;
	run->cap = run->fcap = 16;
	run->live = MemoryContextAlloc(run->cxt, sizeof(BillyHttpRequest *) * run->cap);
	run->finished = MemoryContextAlloc(run->cxt, sizeof(BillyHttpRequest *) * run->fcap);

	PG_TRY();
	{
		run_loop(run, done, arg);
	}
	PG_FINALLY();
	{
		for (int i = 0; i < run->nlive; i++)
		{
			BillyHttpRequest *req = run->live[i];

			if (req->easy != NULL)
			{
				BodyWriter *bw = NULL;

				curl_easy_getinfo(req->easy, CURLINFO_PRIVATE, (char **) &bw);
				release_easy(req);
				if (bw)
					pfree(bw);
			}
			else if (req->headers != NULL)
				release_easy(req);
		}
		MemoryContextDelete(cxt);
	}
	PG_END_TRY();
}

/* the requests of billy_http_run, one after another */
typedef struct ArrayFeed
{
	BillyHttpRequest **reqs;
	int			n;
	int			next;
} ArrayFeed;

static BillyHttpRequest *
array_next(void *arg)
{
	ArrayFeed  *feed = arg;

	return feed->next < feed->n ? feed->reqs[feed->next++] : NULL;
}

/*
 * billy_http_run performs reqs, at most concurrency at a time, in their
 * order, and calls done (if given) for each as soon as it has its final
 * outcome (billy_http_run_fed).
 */
void
billy_http_run(BillyHttpRequest **reqs, int nreqs, int concurrency,
			   BillyHttpDoneCallback done, void *arg)
{
	ArrayFeed	feed = {reqs, nreqs, 0};

	if (nreqs <= 0)
		return;
	billy_http_run_fed(concurrency, array_next, &feed, done, arg);
}

/* billy_http_perform runs one request to its final outcome */
void
billy_http_perform(BillyHttpRequest *req)
{
	billy_http_run(&req, 1, 1, NULL, NULL);
}
