/*
 * web.h - the dashboard page and its event stream (web.c), for http.c.
 */
#ifndef WEB_H
#define WEB_H

#include <sys/types.h>
#include <microhttpd.h>

#include "bridge.h"

/* what a sync or a write NOTIFYs (src/sync.c, src/writes/readback.c) */
#define WEB_CHANNEL "billy_changes"

extern bool web_start(const BridgeConfig *cfg);
extern void web_stop(void);
extern void web_join(void);
extern enum MHD_Result web_serve_app(struct MHD_Connection *c, PGconn *conn, bool head);
extern enum MHD_Result web_serve_events(struct MHD_Connection *c);

/* http.c: a plain response */
extern enum MHD_Result web_respond(struct MHD_Connection *c, unsigned int status,
								   const char *type, const char *body);

#endif							/* WEB_H */
