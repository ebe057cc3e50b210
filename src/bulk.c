/*-------------------------------------------------------------------------
 *
 * bulk.c
 *	  CSV in SQL (billy.parse_csv, billy.check_csv, the rows of an import)
 *	  and the worker's import job: rows sent at a bounded rate and
 *	  concurrency, progress committed as it goes, cancellable.
 *
 * The reading and the field checks are csv.c's; this file maps headers to
 * fields, turns each row into the JSON a write takes, and runs imports.
 *
 * An import job (billy.bulk_jobs, its rows in billy.bulk_job_items) is run
 * by "bulk_import" worker jobs, each a slice of about ten seconds, so syncs
 * queued meanwhile get their turn: a slice sends batches of
 * billy.import_concurrency rows through the outbox (writes/outbox.c), records
 * each row's outcome, waits as billy.import_rate asks, and stops at once
 * when the import is cancelled, writes are turned off or the organization
 * is made read-only.
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "pgstat.h"

#include "bulk.h"
#include "csv.h"
#include "jobs.h"
#include "json.h"
#include "module.h"
#include "sqlexec.h"
#include "writes/writes.h"

PG_FUNCTION_INFO_V1(billy_parse_csv);
PG_FUNCTION_INFO_V1(billy_csv_records);
PG_FUNCTION_INFO_V1(billy_check_csv);

/* settings (bulk_define_settings) */
int			billy_import_rate = 5;
int			billy_import_concurrency = 2;

/* bulk_define_settings: how fast and how wide a CSV import writes */
static void
bulk_define_settings(void)
{
	DefineCustomIntVariable("billy.import_rate",
							"Most records per second a CSV import writes to Billy.",
							NULL,
							&billy_import_rate,
							5, 1, 1000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("billy.import_concurrency",
							"Most requests a CSV import has in flight at once.",
							NULL,
							&billy_import_concurrency,
							2, 1, 16,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
}

static const BillyJobKind bulk_jobs[] = {
	{"bulk_import", billy_bulk_import_job, BILLY_SHARE_EXEMPT},
	{NULL}
};

const BillyModule billy_bulk_module = {
	.name = "bulk",
	.define_settings = bulk_define_settings,
	.jobs = bulk_jobs,
};

#define SLICE_MS 10000

/* the options every CSV function takes */
typedef struct CsvOptions
{
	char		delimiter;		/* 0: detect */
	char		decimal;		/* 0: ',' with ';' files, else '.' */
	char		country[3];		/* contacts without a country */
	char		currency[4];	/* prices without a currency */
	bool		ignore_unknown;
} CsvOptions;

static void
read_options(Jsonb *jb, CsvOptions *o)
{
	static const char *const names[] = {"delimiter", "decimal", "country", "currency",
	"ignore_unknown_columns"};
	char	   *v[5];
	char	   *text;

	memset(o, 0, sizeof(*o));
	strcpy(o->country, "DK");
	strcpy(o->currency, "DKK");
	if (jb == NULL)
		return;
	text = JsonbToCString(NULL, &jb->root, VARSIZE(jb));

	if (!billy_json_top_fields(text, strlen(text), names, 5, v))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("options must be a JSON object")));
	if (v[0])
	{
		if (strcmp(v[0], "auto") == 0)
			o->delimiter = 0;
		else if (strcmp(v[0], ",") == 0 || strcmp(v[0], ";") == 0 || strcmp(v[0], "\t") == 0)
			o->delimiter = v[0][0];
		else
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("options.delimiter must be \",\", \";\", a tab or \"auto\"")));
	}
	if (v[1])
	{
		if (strcmp(v[1], ",") == 0 || strcmp(v[1], ".") == 0)
			o->decimal = v[1][0];
		else if (strcmp(v[1], "auto") != 0)
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("options.decimal must be \",\", \".\" or \"auto\"")));
	}
	if (v[2])
	{
		if (strlen(v[2]) != 2 || !isupper((unsigned char) v[2][0]) || !isupper((unsigned char) v[2][1]))
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("options.country must be a two-letter country code such as DK")));
		strcpy(o->country, v[2]);
	}
	if (v[3])
	{
		if (strlen(v[3]) != 3)
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("options.currency must be a three-letter currency code such as DKK")));
		strcpy(o->currency, v[3]);
	}
	o->ignore_unknown = v[4] && strcmp(v[4], "true") == 0;
}

static BillyCsvResource
read_resource(text *t)
{
	char	   *r = text_to_cstring(t);

	if (strcmp(r, "contacts") == 0)
		return BILLY_CSV_CONTACTS;
	if (strcmp(r, "products") == 0)
		return BILLY_CSV_PRODUCTS;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("resource must be contacts or products, not \"%s\"", r)));
	return BILLY_CSV_CONTACTS;
}

/* an open CSV: reader, header map, options */
typedef struct CsvInput
{
	BillyCsv	csv;
	CsvOptions	opt;
	BillyCsvResource res;
	const BillyCsvColumn *cols;
	int			ncols;
	int			map[BILLY_CSV_MAX_FIELDS];	/* field -> column, -1 ignored */
	int			nheader;
	int			country_field;	/* the field holding the country, or -1 */
	BillyCsvField fields[BILLY_CSV_MAX_FIELDS];
	char	   *scratch;
	int			scratch_len;
} CsvInput;

/*
 * open_csv reads the header and maps it to the resource's columns; a header
 * billy cannot use is an error that names the column.
 */
static void
open_csv(CsvInput *in, text *csv, BillyCsvResource res, CsvOptions *opt, bool header_for_import)
{
	int			nf;
	int			rc;
	bool		seen[64] = {0};

	in->opt = *opt;
	in->res = res;
	in->cols = billy_csv_columns(res, &in->ncols);
	billy_csv_init(&in->csv, VARDATA_ANY(csv), VARSIZE_ANY_EXHDR(csv), opt->delimiter);
	if (in->opt.decimal == 0)
		in->opt.decimal = in->csv.delim == ';' ? ',' : '.';
	in->country_field = -1;
	in->scratch_len = 0;
	in->scratch = NULL;
	if (!header_for_import)
		return;
	rc = billy_csv_next(&in->csv, in->fields, BILLY_CSV_MAX_FIELDS, &nf);
	if (rc == 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("the CSV is empty"),
						errhint("The first line names the columns, e.g. navn;cvr;adresse;postnr;by.")));
	if (rc < 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("line %d: %s", in->csv.record_line, in->csv.error)));
	in->nheader = nf;
	for (int i = 0; i < nf; i++)
	{
		char		norm[128];
		char	   *shown = pnstrdup(in->fields[i].p, in->fields[i].len);
		int			c;

		billy_csv_normalize_header(in->fields[i].p, in->fields[i].len, norm, sizeof(norm));
		c = billy_csv_find_column(res, norm);
		if (c < 0 && norm[0] == '\0')
			c = -1;
		else if (c < 0 && !in->opt.ignore_unknown)
		{
			StringInfoData known;

			initStringInfo(&known);
			for (int k = 0; k < in->ncols; k++)
				appendStringInfo(&known, "%s%s", k ? ", " : "", in->cols[k].field);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("line 1, column %d: \"%s\" is not a %s field billy knows", i + 1, shown,
							res == BILLY_CSV_CONTACTS ? "contact" : "product"),
					 errdetail("Known fields (Danish and English names work too, e.g. navn, cvr, postnr, by): %s.", known.data),
					 errhint("Rename the column, or pass {\"ignore_unknown_columns\": true} to skip such columns.")));
		}
		if (c >= 0)
		{
			if (seen[c])
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("line 1, column %d: \"%s\" is %s again", i + 1, shown, in->cols[c].field)));
			seen[c] = true;
			if (strcmp(in->cols[c].field, "countryId") == 0)
				in->country_field = i;
		}
		in->map[i] = c;
	}
	for (int k = 0; k < in->ncols; k++)
		if (in->cols[k].required && !seen[k])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the CSV has no %s column", in->cols[k].field),
					 errhint("Name it in the first line (for contacts: name or navn).")));
}

typedef struct RowResult
{
	int			nproblems;
	StringInfoData problems;	/* JSON array items */
	StringInfoData record;		/* JSON object members */
	StringInfoData persons;		/* contact: the person's members */
	StringInfoData prices;		/* product: the price's members */
} RowResult;

static void
add_problem(RowResult *r, int line, int column, const char *field, const char *msg, bool build)
{
	r->nproblems++;
	if (!build)
		return;
	if (r->problems.len > 0)
		appendStringInfoChar(&r->problems, ',');
	appendStringInfo(&r->problems, "{\"line\":%d,\"column\":%d,\"field\":", line, column);
	escape_json(&r->problems, field);
	appendStringInfoString(&r->problems, ",\"message\":");
	escape_json(&r->problems, msg);
	appendStringInfoChar(&r->problems, '}');
}

static void
member(StringInfo s, const char *name, const char *value, bool raw)
{
	if (s->len > 0)
		appendStringInfoChar(s, ',');
	escape_json(s, name);
	appendStringInfoChar(s, ':');
	if (raw)
		appendStringInfoString(s, value);
	else
		escape_json(s, value);
}

/*
 * check_row checks one record's fields; with build, it also makes the JSON
 * of the write (and of the problems).
 */
static void
check_row(CsvInput *in, int nf, RowResult *r, bool build)
{
	int			line = in->csv.record_line;
	char		country[8];
	int			need = 0;

	r->nproblems = 0;
	if (build)
	{
		resetStringInfo(&r->problems);
		resetStringInfo(&r->record);
		resetStringInfo(&r->persons);
		resetStringInfo(&r->prices);
	}
	if (nf != in->nheader)
	{
		char		msg[96];

		snprintf(msg, sizeof(msg), "has %d fields; the header has %d", nf, in->nheader);
		add_problem(r, line, 0, "", msg, build);
		return;
	}
	/* the row's country first: a CVR number is checked only for DK */
	strcpy(country, in->opt.country);
	if (in->country_field >= 0)
	{
		BillyCsvField *f = &in->fields[in->country_field];

		if (f->len == 2)
		{
			country[0] = (char) toupper((unsigned char) f->p[0]);
			country[1] = (char) toupper((unsigned char) f->p[1]);
			country[2] = '\0';
		}
	}
	for (int i = 0; i < nf; i++)
		need = Max(need, in->fields[i].len + 33);
	if (need > in->scratch_len)
	{
		in->scratch_len = Max(need, 1024);
		in->scratch = in->scratch ? repalloc(in->scratch, in->scratch_len) : palloc(in->scratch_len);
	}
	for (int i = 0; i < nf; i++)
	{
		const BillyCsvColumn *col;
		const char *err;
		int			outlen;

		if (in->map[i] < 0)
			continue;
		col = &in->cols[in->map[i]];
		err = billy_csv_check_value(col, in->fields[i].p, in->fields[i].len, in->opt.decimal,
									country, in->scratch, &outlen);
		if (err)
		{
			add_problem(r, line, i + 1, col->field, err, build);
			continue;
		}
		if (!build || outlen == 0)
			continue;
		switch (col->kind)
		{
			case CSVK_BOOL:
			case CSVK_DAYS:
				member(&r->record, col->field, in->scratch, true);
				break;
			case CSVK_AMOUNT:
				member(&r->prices, "unitPrice", in->scratch, true);
				break;
			case CSVK_EMAIL:
				member(&r->persons, "email", in->scratch, false);
				break;
			default:
				if (strcmp(col->field, "contactPerson") == 0)
					member(&r->persons, "name", in->scratch, false);
				else if (in->res == BILLY_CSV_PRODUCTS && strcmp(col->field, "currencyId") == 0)
					member(&r->prices, "currencyId", in->scratch, false);
				else
					member(&r->record, col->field, in->scratch, false);
				break;
		}
	}
	if (!build)
		return;
	if (in->res == BILLY_CSV_CONTACTS)
	{
		if (in->country_field < 0)
			member(&r->record, "countryId", country, false);
		if (r->persons.len > 0)
			appendStringInfo(&r->record, ",\"contactPersons\":[{%s,\"isPrimary\":true}]", r->persons.data);
	}
	else if (r->prices.len > 0)
	{
		if (strstr(r->prices.data, "\"currencyId\"") == NULL)
			member(&r->prices, "currencyId", in->opt.currency, false);
		if (strstr(r->prices.data, "\"unitPrice\"") != NULL)
			appendStringInfo(&r->record, ",\"prices\":[{%s}]", r->prices.data);
	}
}

/*
 * billy_parse_csv: billy.parse_csv(csv text, options jsonb) RETURNS TABLE
 * (line integer, fields text[]).  Every record as read, header included;
 * a malformed record raises with its line.
 */
Datum
billy_parse_csv(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	text	   *csv;
	CsvOptions	opt;
	CsvInput   *in = palloc0(sizeof(CsvInput));
	int			nf;
	int			rc;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	csv = PG_GETARG_TEXT_P_COPY(0);
	read_options(PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1), &opt);
	InitMaterializedSRF(fcinfo, 0);
	open_csv(in, csv, BILLY_CSV_CONTACTS, &opt, false);
	while ((rc = billy_csv_next(&in->csv, in->fields, BILLY_CSV_MAX_FIELDS, &nf)) != 0)
	{
		Datum		out[2];
		bool		nulls[2] = {false, false};
		Datum	   *elems;

		if (rc < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("line %d: %s", in->csv.record_line, in->csv.error)));
		elems = palloc(sizeof(Datum) * nf);
		for (int i = 0; i < nf; i++)
			elems[i] = PointerGetDatum(cstring_to_text_with_len(in->fields[i].p, in->fields[i].len));
		out[0] = Int32GetDatum(in->csv.record_line);
		out[1] = PointerGetDatum(construct_array(elems, nf, TEXTOID, -1, false, TYPALIGN_INT));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, nulls);
	}
	return (Datum) 0;
}

/*
 * billy_csv_records: billy._csv_records(resource, csv, options) RETURNS
 * TABLE (line integer, record jsonb, problems jsonb): each data row as the
 * JSON of its write, or its problems (each with line, column, field).
 */
Datum
billy_csv_records(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	CsvOptions	opt;
	CsvInput   *in = palloc0(sizeof(CsvInput));
	RowResult	r;
	int			nf;
	int			rc;
	BillyCsvResource res = read_resource(PG_GETARG_TEXT_PP(0));

	read_options(PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2), &opt);
	InitMaterializedSRF(fcinfo, 0);
	open_csv(in, PG_GETARG_TEXT_P_COPY(1), res, &opt, true);
	initStringInfo(&r.problems);
	initStringInfo(&r.record);
	initStringInfo(&r.persons);
	initStringInfo(&r.prices);
	while ((rc = billy_csv_next(&in->csv, in->fields, BILLY_CSV_MAX_FIELDS, &nf)) != 0)
	{
		Datum		out[3];
		bool		nulls[3] = {false, false, false};

		if (rc < 0)
		{
			r.nproblems = 0;
			resetStringInfo(&r.problems);
			add_problem(&r, in->csv.record_line, 0, "", in->csv.error, true);
		}
		else
			check_row(in, nf, &r, true);
		out[0] = Int32GetDatum(in->csv.record_line);
		if (r.nproblems == 0)
		{
			char	   *obj = psprintf("{%s}", r.record.data);

			out[1] = PointerGetDatum(billy_jsonb_parse(obj, strlen(obj), "a CSV row"));
			nulls[2] = true;
		}
		else
		{
			char	   *arr = psprintf("[%s]", r.problems.data);

			nulls[1] = true;
			out[2] = PointerGetDatum(billy_jsonb_parse(arr, strlen(arr), "a CSV row's problems"));
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, nulls);
	}
	return (Datum) 0;
}

/*
 * billy_check_csv: billy.check_csv(resource, csv, options) RETURNS jsonb.
 * Parses and checks every row without building them: {"rows", "valid",
 * "invalid", "delimiter", "problems": the first 100}.  Fast: the benchmark
 * measures it.
 */
Datum
billy_check_csv(PG_FUNCTION_ARGS)
{
	CsvOptions	opt;
	CsvInput   *in = palloc0(sizeof(CsvInput));
	RowResult	r;
	int			nf;
	int			rc;
	int64		rows = 0;
	int64		invalid = 0;
	int			shown = 0;
	StringInfoData out;
	BillyCsvResource res = read_resource(PG_GETARG_TEXT_PP(0));

	read_options(PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2), &opt);
	open_csv(in, PG_GETARG_TEXT_P_COPY(1), res, &opt, true);
	initStringInfo(&r.problems);
	initStringInfo(&r.record);
	initStringInfo(&r.persons);
	initStringInfo(&r.prices);
	initStringInfo(&out);
	while ((rc = billy_csv_next(&in->csv, in->fields, BILLY_CSV_MAX_FIELDS, &nf)) != 0)
	{
		bool		build = shown < 100;

		rows++;
		if (rc < 0)
		{
			r.nproblems = 0;
			resetStringInfo(&r.problems);
			add_problem(&r, in->csv.record_line, 0, "", in->csv.error, true);
		}
		else
		{
			check_row(in, nf, &r, false);
			if (r.nproblems > 0 && build)
				check_row(in, nf, &r, true);
		}
		if (r.nproblems > 0)
		{
			invalid++;
			if (build)
			{
				appendStringInfo(&out, "%s%s", shown ? "," : "", r.problems.data);
				shown++;
			}
		}
		if ((rows & 65535) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	{
		StringInfoData result;

		initStringInfo(&result);
		appendStringInfo(&result, "{\"rows\":%lld,\"valid\":%lld,\"invalid\":%lld,\"delimiter\":",
						 (long long) rows, (long long) (rows - invalid), (long long) invalid);
		escape_json(&result, in->csv.delim == '\t' ? "\t" : in->csv.delim == ';' ? ";" : ",");
		appendStringInfo(&result, ",\"decimal\":\"%c\",\"problems\":[%s]}", in->opt.decimal, out.data);
		PG_RETURN_JSONB_P(billy_jsonb_parse(result.data, result.len, "check_csv's answer"));
	}
}

/* ------------------------------------------------------------ the job */

static char *
job_value(int64 id, const char *sql)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(id)};
	BillyOwner	owner;
	char	   *v;

	billy_become_owner(&owner);
	v = billy_sql_value(sql, 1, types, values, NULL);
	billy_end_owner(&owner);
	return v;
}

/*
 * import_slice runs one slice of an import; what must outlive the page
 * commits lives in cxt.
 */
static void
import_slice(BillyJob *job, MemoryContext cxt)
{
	static const char *const names[] = {"bulk_job_id"};
	char	   *idtext = NULL;
	int64		id;
	TimestampTz start = GetCurrentTimestamp();
	char	   *org;
	char	   *actor;
	char	   *session;
	char	   *client;

	if (!billy_json_top_fields(job->args, strlen(job->args), names, 1, &idtext) || idtext == NULL)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("a bulk_import job needs bulk_job_id")));
	id = pg_strtoint64(idtext);
	if (job_value(id, "SELECT billy._bulk_start($1)") == NULL)
		return;					/* finished, cancelled or gone */
	org = MemoryContextStrdup(cxt, job_value(id, "SELECT organization_id FROM billy.bulk_jobs WHERE id OPERATOR(pg_catalog.=) $1"));
	actor = MemoryContextStrdup(cxt, job_value(id, "SELECT created_by::pg_catalog.text FROM billy.bulk_jobs WHERE id OPERATOR(pg_catalog.=) $1"));
	session = MemoryContextStrdup(cxt, job_value(id, "SELECT session_role::pg_catalog.text FROM billy.bulk_jobs WHERE id OPERATOR(pg_catalog.=) $1"));
	client = job_value(id, "SELECT client FROM billy.bulk_jobs WHERE id OPERATOR(pg_catalog.=) $1");
	client = client ? MemoryContextStrdup(cxt, client) : NULL;
	billy_job_commit_and_continue();

	for (;;)
	{
		char	   *batch;
		char	   *stop;
		BillyWriteItem *items;
		int			n = 0;
		Jsonb	   *jb;
		JsonbIterator *it;
		JsonbValue	v;
		JsonbIteratorToken tok;
		TimestampTz t0 = GetCurrentTimestamp();
		long		wait_ms;
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		/* cancelled, writes off, read-only: stop now */
		stop = job_value(id, "SELECT billy._bulk_should_stop($1)");
		if (stop != NULL)
		{
			Oid			types[2] = {INT8OID, TEXTOID};
			Datum		values[2] = {Int64GetDatum(id), CStringGetTextDatum(stop)};
			BillyOwner	owner;

			billy_become_owner(&owner);
			billy_sql_exec("SELECT billy._bulk_stop($1, $2)", 2, types, values, NULL);
			billy_end_owner(&owner);
			break;
		}
		batch = job_value(id, psprintf("SELECT billy._bulk_next_batch($1, %d)", billy_import_concurrency));
		if (batch == NULL)
		{
			job_value(id, "SELECT billy._bulk_finish($1)");
			break;
		}
		old = MemoryContextSwitchTo(cxt);
		items = palloc0(sizeof(BillyWriteItem) * billy_import_concurrency);
		MemoryContextSwitchTo(old);
		jb = billy_jsonb_parse(batch, strlen(batch), "an import batch");
		it = JsonbIteratorInit(&jb->root);
		/* [[line, plan], ...] */
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok == WJB_ELEM && v.type == jbvBinary && n < billy_import_concurrency)
			{
				JsonbIterator *it2 = JsonbIteratorInit(v.val.binary.data);
				JsonbValue	e;
				int			k = 0;

				while ((tok = JsonbIteratorNext(&it2, &e, true)) != WJB_DONE)
				{
					if (tok != WJB_ELEM)
						continue;
					if (k == 0 && e.type == jbvNumeric)
						items[n].line = DatumGetInt32(DirectFunctionCall1(numeric_int4, NumericGetDatum(e.val.numeric)));
					else if (k == 1 && e.type == jbvBinary)
						items[n].plan = MemoryContextStrdup(cxt, JsonbToCString(NULL, e.val.binary.data, e.val.binary.len));
					k++;
				}
				n++;
			}
		}
		billy_writes_send_batch(org, items, n, billy_import_concurrency, id, actor, session, client);
		job_value(id, "SELECT billy._bulk_progress($1)");
		billy_job_commit_and_continue();

		if (TimestampDifferenceExceeds(start, GetCurrentTimestamp(), SLICE_MS))
		{
			/* let queued syncs run; the import goes on in the next slice */
			job_value(id, "SELECT billy._enqueue('bulk_import', organization_id, "
					  "pg_catalog.jsonb_build_object('bulk_job_id', id), NULL, 110) FROM billy.bulk_jobs "
					  "WHERE id OPERATOR(pg_catalog.=) $1");
			break;
		}
		/* the rate: n rows per n / rate seconds */
		wait_ms = (long) n * 1000 / billy_import_rate -
			(long) ((GetCurrentTimestamp() - t0) / 1000);
		while (wait_ms > 0)
		{
			long		step = Min(wait_ms, 100);
			int			rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
									   step, PG_WAIT_EXTENSION);

			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
			(void) rc;
			wait_ms -= step;
		}
		MemoryContextReset(cxt);
		org = MemoryContextStrdup(cxt, job_value(id, "SELECT organization_id FROM billy.bulk_jobs WHERE id OPERATOR(pg_catalog.=) $1"));
		actor = MemoryContextStrdup(cxt, job_value(id, "SELECT created_by::pg_catalog.text FROM billy.bulk_jobs WHERE id OPERATOR(pg_catalog.=) $1"));
		session = MemoryContextStrdup(cxt, job_value(id, "SELECT session_role::pg_catalog.text FROM billy.bulk_jobs WHERE id OPERATOR(pg_catalog.=) $1"));
		client = job_value(id, "SELECT client FROM billy.bulk_jobs WHERE id OPERATOR(pg_catalog.=) $1");
		client = client ? MemoryContextStrdup(cxt, client) : NULL;
	}
}

/*
 * billy_bulk_import_job is the handler of "bulk_import" jobs
 * ({"bulk_job_id"}): one slice of an import; see the file header.  The
 * slice's memory is freed however it ends (done, nothing to do, an error).
 */
void
billy_bulk_import_job(BillyJob *job)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "billy import", ALLOCSET_DEFAULT_SIZES);

	PG_TRY();
	{
		import_slice(job, cxt);
	}
	PG_FINALLY();
	{
		/* a page commit replaced the transaction the job began in */
		if (CurrentMemoryContext == cxt)
			MemoryContextSwitchTo(CurTransactionContext ? CurTransactionContext : TopMemoryContext);
		MemoryContextDelete(cxt);
	}
	PG_END_TRY();
}
