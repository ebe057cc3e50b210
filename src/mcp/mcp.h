/*-------------------------------------------------------------------------
 *
 * mcp.h
 *	  The Model Context Protocol inside PostgreSQL (src/mcp/, README.md there).
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_MCP_H
#define BILLY_MCP_H

#include "postgres.h"

/* defines billy.mcp_* settings; called by _PG_init */
extern const struct BillyModule billy_mcp_module;

/* first value of a query without arguments, in the current SPI connection */
extern char *billy_sql_value_spi(const char *sql);

#endif							/* BILLY_MCP_H */
