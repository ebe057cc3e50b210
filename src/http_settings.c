/*-------------------------------------------------------------------------
 *
 * http_settings.c
 *	  The HTTP client's settings (timeouts, size cap, retries of every
 *	  request) and its module (module.h); http.c reads them.
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include "utils/guc.h"

#include "http.h"
#include "module.h"

/* settings (http_define_settings) */
int			billy_http_timeout_ms = 30000;
int			billy_connect_timeout_ms = 10000;
int			billy_max_response_bytes = 64 * 1024 * 1024;
int			billy_max_retries = 4;
int			billy_max_retry_wait_ms = 30000;

/* http_define_settings: timeouts, size cap and retries of every request */
static void
http_define_settings(void)
{
	DefineCustomIntVariable("billy.http_timeout_ms",
							"Total time allowed for one HTTP request to Billy.",
							NULL,
							&billy_http_timeout_ms,
							30000, 100, 600000,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("billy.connect_timeout_ms",
							"Time allowed to establish a connection to Billy.",
							NULL,
							&billy_connect_timeout_ms,
							10000, 10, 120000,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("billy.max_response_bytes",
							"Largest response body accepted from Billy.",
							"A larger response is refused and the request fails.",
							&billy_max_response_bytes,
							64 * 1024 * 1024, 1024, 1024 * 1024 * 1024,
							PGC_SUSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	DefineCustomIntVariable("billy.max_retries",
							"How often a failed GET is retried.",
							"Retries happen on connection errors, timeouts and "
							"HTTP 429, 502, 503 and 504, with exponential backoff "
							"and full jitter.  Writes are never retried blindly.",
							&billy_max_retries,
							4, 0, 20,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("billy.max_retry_wait_ms",
							"Longest wait before one retry, Retry-After included.",
							NULL,
							&billy_max_retry_wait_ms,
							30000, 0, 600000,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
}

const BillyModule billy_http_module = {
	.name = "http",
	.define_settings = http_define_settings,
};
