/*
 * http.h - the HTTP server: libmicrohttpd in thread-pool mode with epoll,
 * requests routed to the API or the control API, faults applied to the
 * wire, delays done by suspending connections (never by blocking a pool
 * thread).
 */
#ifndef SANDBOX_HTTP_H
#define SANDBOX_HTTP_H

#include <stdbool.h>

bool		http_start(int listen_fd, int threads);
void		http_stop(void);

#endif
