/*-------------------------------------------------------------------------
 *
 * apps.c
 *	  The files of billy's MCP Apps: billy._app_file(name) reads one from
 *	  PostgreSQL's share directory (<sharedir>/extension/<name>), where
 *	  `make install` puts the built dashboard (dashboard/dist, built by
 *	  `make dashboard`, which needs Node.js and npm).
 *
 * resources/read of ui://billy/dashboard answers this text, and
 * billy-mcp-bridge --http serves the same text at /.  NULL when the file is
 * not installed (resources/list then leaves the resource out).
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include <sys/stat.h>

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(billy_app_file);

Datum
billy_app_file(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char		share[MAXPGPATH];
	char	   *path;
	struct stat st;
	FILE	   *f;
	text	   *out;
	size_t		got;

	if (strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != strlen(name) ||
		name[0] == '.' || name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid app file name: \"%s\"", name),
				 errdetail("An app file name is lower-case letters, digits, dashes, underscores and dots.")));
	get_share_path(my_exec_path, share);
	path = psprintf("%s/extension/%s", share, name);
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		PG_RETURN_NULL();
	if (st.st_size > 64 * 1024 * 1024)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("app file \"%s\" is larger than 64 MB", name)));
	f = AllocateFile(path, PG_BINARY_R);
	if (f == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open app file \"%s\": %m", path)));
	out = (text *) palloc(VARHDRSZ + st.st_size);
	got = fread(VARDATA(out), 1, st.st_size, f);
	if (ferror(f) || got != (size_t) st.st_size)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read app file \"%s\": %m", path)));
	FreeFile(f);
	pg_verifymbstr(VARDATA(out), got, false);
	SET_VARSIZE(out, VARHDRSZ + got);
	PG_RETURN_TEXT_P(out);
}
