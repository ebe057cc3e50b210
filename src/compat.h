/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  The prelude that keeps PostgreSQL version differences out of the logic.
 *
 * billy targets PostgreSQL 15.  Anything that differs between major versions
 * is bridged here, so the rest of the code reads as if there were only one.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_COMPAT_H
#define BILLY_COMPAT_H

#if PG_VERSION_NUM < 150000
#error "billy requires PostgreSQL 15 or later"
#endif

/*
 * JSON semantic-action callbacks return void up to PostgreSQL 15 and a
 * JsonParseErrorType from 16 on.
 */
#if PG_VERSION_NUM >= 160000
#define BILLY_JSON_ACTION_RETURN JsonParseErrorType
#define BILLY_JSON_ACTION_OK return JSON_SUCCESS
#else
#define BILLY_JSON_ACTION_RETURN void
#define BILLY_JSON_ACTION_OK return
#endif

#endif							/* BILLY_COMPAT_H */
