/*-------------------------------------------------------------------------
 *
 * csv_fuzz.c
 *	  libFuzzer target for billy's CSV reader and import field checks
 *	  (src/csv.c).  Built and run by `make fuzz-csv`, outside the test suite.
 *
 * The first input byte picks the delimiter (detected, ',', ';' or tab) and
 * the decimal mark; the rest is the file.  Every record is read, every field
 * is mapped by header and checked as an import would, and invariants are
 * asserted: fields lie inside the buffer, line numbers never go backwards,
 * a checked value fits its output.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char delims[4] = {0, ',', ';', '\t'};
	BillyCsv	c;
	BillyCsvField fields[BILLY_CSV_MAX_FIELDS];
	int			map[BILLY_CSV_MAX_FIELDS];
	int			nfields;
	int			rc;
	char	   *buf;
	char		decimal;
	BillyCsvResource res;
	int			last_line = 0;
	int			records = 0;

	if (size < 1)
		return 0;
	decimal = (data[0] & 4) ? ',' : '.';
	res = (data[0] & 8) ? BILLY_CSV_PRODUCTS : BILLY_CSV_CONTACTS;
	buf = malloc(size);			/* exactly sized: ASan sees any overrun */
	memcpy(buf, data + 1, size - 1);
	billy_csv_init(&c, buf, size - 1, delims[data[0] & 3]);
	CHECK(c.delim == ',' || c.delim == ';' || c.delim == '\t');

	while ((rc = billy_csv_next(&c, fields, BILLY_CSV_MAX_FIELDS, &nfields)) != 0)
	{
		CHECK(c.record_line >= last_line);
		last_line = c.record_line;
		CHECK(c.pos <= c.len);
		if (rc < 0)
		{
			CHECK(c.error != NULL);
			continue;
		}
		CHECK(nfields >= 1 && nfields <= BILLY_CSV_MAX_FIELDS);
		for (int i = 0; i < nfields; i++)
		{
			CHECK(fields[i].len >= 0);
			CHECK(fields[i].p >= buf && fields[i].p + fields[i].len <= buf + size - 1);
		}
		if (records++ == 0)
		{
			/* the header: map columns as an import does */
			for (int i = 0; i < nfields; i++)
			{
				char		norm[64];
				int			n = billy_csv_normalize_header(fields[i].p, fields[i].len, norm, sizeof(norm));

				CHECK(n >= 0 && n < (int) sizeof(norm) && norm[n] == '\0');
				map[i] = billy_csv_find_column(res, norm);
			}
			for (int i = nfields; i < BILLY_CSV_MAX_FIELDS; i++)
				map[i] = -1;
			continue;
		}
		for (int i = 0; i < nfields; i++)
		{
			int			ncols;
			const BillyCsvColumn *cols = billy_csv_columns(res, &ncols);
			const BillyCsvColumn *col = map[i] >= 0 ? &cols[map[i]] : &cols[(i + data[0]) % ncols];
			char	   *out = malloc(fields[i].len + 33);
			int			outlen = -1;
			int64_t		v;
			const char *err = billy_csv_check_value(col, fields[i].p, fields[i].len, decimal,
													(data[0] & 16) ? "SE" : "DK", out, &outlen);

			CHECK(outlen >= 0 && outlen <= fields[i].len + 32);
			CHECK(err != NULL || out[outlen] == '\0');
			(void) billy_csv_decimal(fields[i].p, fields[i].len, decimal, (data[0] >> 5) & 7, &v);
			(void) billy_cvr_valid(fields[i].p, fields[i].len);
			free(out);
		}
	}
	CHECK(c.pos == c.len);
	free(buf);
	return 0;
}
