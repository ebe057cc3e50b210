/*-------------------------------------------------------------------------
 *
 * mcp.h
 *	  The Model Context Protocol inside PostgreSQL (mcp.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_MCP_H
#define BILLY_MCP_H

#include "postgres.h"

/* defines billy.mcp_* settings; called by _PG_init */
extern void billy_mcp_define_settings(void);

/* first value of a query without arguments, in the current SPI connection */
extern char *billy_sql_value_spi(const char *sql);

#endif							/* BILLY_MCP_H */
