/*-------------------------------------------------------------------------
 *
 * csv.c
 *	  billy's CSV reader (RFC 4180) and the field checks of CSV imports.
 *
 * The reader takes what spreadsheets write: quoted fields with doubled
 * quotes and line breaks inside, CRLF, LF or CR line ends, a UTF-8 byte
 * order mark, ',' ';' or tab as delimiter (detected from the first line),
 * and a last line with or without its line end.  A quote inside an
 * unquoted field is kept as a character (5" screen); text after a closing
 * quote, or a quoted field never closed, is an error of that record, with
 * the line it started on.  Empty lines are skipped.
 *
 * Fields are unquoted in place (a doubled quote becomes one, which only
 * ever shortens the field), so reading allocates nothing and touches each
 * byte once or twice.  The checks of import columns (numbers with a
 * decimal comma, CVR numbers, e-mail addresses...) are here too, so the
 * fuzz target covers them with the reader.
 *
 * This file includes no PostgreSQL header: see csv.h.
 *
 *-------------------------------------------------------------------------
 */
#include "csv.h"

#include <string.h>

void
billy_csv_init(BillyCsv *c, char *buf, size_t len, char delim)
{
	memset(c, 0, sizeof(*c));
	c->buf = buf;
	c->len = len;
	c->line = 1;
	if (len >= 3 && (unsigned char) buf[0] == 0xEF && (unsigned char) buf[1] == 0xBB &&
		(unsigned char) buf[2] == 0xBF)
	{
		c->pos = 3;
		c->had_bom = true;
	}
	if (delim == 0)
	{
		size_t		commas = 0,
					semis = 0,
					tabs = 0;
		bool		quoted = false;

		for (size_t i = c->pos; i < len; i++)
		{
			char		ch = buf[i];

			if (ch == '"')
				quoted = !quoted;
			else if (quoted)
				continue;
			else if (ch == '\n' || ch == '\r')
				break;
			else if (ch == ',')
				commas++;
			else if (ch == ';')
				semis++;
			else if (ch == '\t')
				tabs++;
		}
		delim = ',';
		if (semis > commas && semis >= tabs)
			delim = ';';
		else if (tabs > commas && tabs > semis)
			delim = '\t';
	}
	c->delim = delim;
}

/* at_line_end consumes one line end (CRLF, LF or CR) at pos, if any */
static bool
at_line_end(BillyCsv *c)
{
	if (c->pos >= c->len)
		return false;
	if (c->buf[c->pos] == '\n')
	{
		c->pos++;
		c->line++;
		return true;
	}
	if (c->buf[c->pos] == '\r')
	{
		c->pos++;
		if (c->pos < c->len && c->buf[c->pos] == '\n')
			c->pos++;
		c->line++;
		return true;
	}
	return false;
}

/* skip_line goes past the rest of a broken record's line */
static void
skip_line(BillyCsv *c)
{
	while (c->pos < c->len && c->buf[c->pos] != '\n' && c->buf[c->pos] != '\r')
		c->pos++;
	at_line_end(c);
}

int
billy_csv_next(BillyCsv *c, BillyCsvField *fields, int max, int *nfields)
{
	char	   *buf = c->buf;
	size_t		len = c->len;
	char		delim = c->delim;
	int			n = 0;

	*nfields = 0;
	c->error = NULL;
	/* empty lines are no records */
	while (at_line_end(c))
		;
	if (c->pos >= len)
		return 0;
	c->record_line = c->line;

	for (;;)
	{
		BillyCsvField *f;

		if (n >= max)
		{
			c->error = "the record has too many fields";
			skip_line(c);
			return -1;
		}
		f = &fields[n++];
		if (c->pos < len && buf[c->pos] == '"')
		{
			/* quoted: unquote in place; doubled quotes become one */
			size_t		r = c->pos + 1;
			size_t		w = r;

			f->p = buf + r;
			for (;;)
			{
				char		ch;

				if (r >= len)
				{
					c->error = "a quoted field is not closed";
					c->pos = len;
					return -1;
				}
				ch = buf[r];
				if (ch == '"')
				{
					if (r + 1 < len && buf[r + 1] == '"')
					{
						buf[w++] = '"';
						r += 2;
						continue;
					}
					r++;
					break;
				}
				if (ch == '\n' || (ch == '\r' && (r + 1 >= len || buf[r + 1] != '\n')))
					c->line++;
				buf[w++] = ch;
				r++;
			}
			f->len = (int) (w - (size_t) (f->p - buf));
			c->pos = r;
			if (c->pos < len && buf[c->pos] != delim && buf[c->pos] != '\n' && buf[c->pos] != '\r')
			{
				c->error = "text follows a closing quote";
				skip_line(c);
				return -1;
			}
		}
		else
		{
			size_t		r = c->pos;

			f->p = buf + r;
			while (r < len && buf[r] != delim && buf[r] != '\n' && buf[r] != '\r')
				r++;
			f->len = (int) (r - c->pos);
			c->pos = r;
		}
		if (c->pos < len && buf[c->pos] == delim)
		{
			c->pos++;
			continue;
		}
		at_line_end(c);
		break;
	}
	*nfields = n;
	return 1;
}

/* ------------------------------------------------------------ values */

static bool
is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static void
trim(const char **s, int *len)
{
	while (*len > 0 && is_space((*s)[0]))
	{
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && is_space((*s)[*len - 1]))
		(*len)--;
	/* a non-breaking space (UTF-8 C2 A0) is a space too */
	while (*len >= 2 && (unsigned char) (*s)[*len - 2] == 0xC2 && (unsigned char) (*s)[*len - 1] == 0xA0)
		(*len) -= 2;
}

const char *
billy_csv_decimal(const char *s, int len, char decimal, int scale, int64_t *out)
{
	char		group = decimal == ',' ? '.' : ',';
	bool		neg = false;
	int64_t		v = 0;
	int			digits = 0;
	int			since_group = -1;	/* digits since the last group mark */
	int			decimals = -1;
	int			i = 0;

	trim(&s, &len);
	if (len == 0)
		return "is empty";
	if (s[0] == '-' || s[0] == '+')
	{
		neg = s[0] == '-';
		i = 1;
	}
	for (; i < len; i++)
	{
		char		ch = s[i];

		if (ch >= '0' && ch <= '9')
		{
			if (decimals >= 0)
			{
				if (++decimals > scale)
					return scale == 2 ? "has more than 2 decimals" : "has too many decimals";
			}
			else if (since_group >= 0)
				since_group++;
			if (v > (INT64_MAX - 9) / 10)
				return "is too large";
			v = v * 10 + (ch - '0');
			digits++;
		}
		else if (ch == decimal && decimals < 0)
		{
			if (since_group >= 0 && since_group != 3)
				return "groups thousands wrongly";
			decimals = 0;
		}
		else if ((ch == group || ch == ' ') && decimals < 0 && digits > 0)
		{
			if (since_group >= 0 && since_group != 3)
				return "groups thousands wrongly";
			if (since_group < 0 && digits > 3)
				return "groups thousands wrongly";
			since_group = 0;
		}
		else if (ch == group || ch == '.' || ch == ',')
			return decimal == ',' ? "is not a number (the decimal mark is a comma)"
				: "is not a number (the decimal mark is a point)";
		else
			return "is not a number";
	}
	if (digits == 0)
		return "is not a number";
	if (since_group >= 0 && decimals < 0 && since_group != 3)
		return "groups thousands wrongly";
	for (int k = decimals < 0 ? 0 : decimals; k < scale; k++)
	{
		if (v > INT64_MAX / 10)
			return "is too large";
		v *= 10;
	}
	*out = neg ? -v : v;
	return NULL;
}

bool
billy_cvr_valid(const char *d, int len)
{
	static const int w[8] = {2, 7, 6, 5, 4, 3, 2, 1};
	int			sum = 0;

	if (len != 8 || d[0] == '0')
		return false;
	for (int i = 0; i < 8; i++)
	{
		if (d[i] < '0' || d[i] > '9')
			return false;
		sum += (d[i] - '0') * w[i];
	}
	return sum % 11 == 0;
}

int
billy_csv_normalize_header(const char *s, int len, char *out, int cap)
{
	int			n = 0;

	for (int i = 0; i < len && n < cap - 1; i++)
	{
		unsigned char ch = (unsigned char) s[i];
		const char *rep = NULL;

		if (ch == 0xC3 && i + 1 < len)
		{
			unsigned char c2 = (unsigned char) s[i + 1];

			if (c2 == 0xA6 || c2 == 0x86)
				rep = "ae";
			else if (c2 == 0xB8 || c2 == 0x98)
				rep = "oe";
			else if (c2 == 0xA5 || c2 == 0x85)
				rep = "aa";
			if (rep)
				i++;
		}
		if (rep)
		{
			for (; *rep && n < cap - 1; rep++)
				out[n++] = *rep;
			continue;
		}
		if (ch >= 'A' && ch <= 'Z')
			out[n++] = (char) (ch - 'A' + 'a');
		else if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))
			out[n++] = (char) ch;
	}
	out[n] = '\0';
	return n;
}

/* ------------------------------------------------------------ columns */

static const BillyCsvColumn contact_columns[] = {
	{"name", CSVK_TEXT, true, 255, "name navn firmanavn kundenavn virksomhedsnavn company companyname contactname leverandoernavn"},
	{"type", CSVK_CONTACT_TYPE, false, 0, "type kundetype contacttype"},
	{"countryId", CSVK_COUNTRY, false, 0, "countryid country land landekode countrycode"},
	{"street", CSVK_TEXT, false, 255, "street adresse address gade vej gadenavn"},
	{"zipcodeText", CSVK_TEXT, false, 32, "zipcodetext zipcode zip postnr postnummer postalcode postcode"},
	{"cityText", CSVK_TEXT, false, 255, "citytext city by bynavn town"},
	{"registrationNo", CSVK_CVR, false, 32, "registrationno cvr cvrnr cvrnummer vat vatno vatnumber momsnr senr"},
	{"ean", CSVK_EAN, false, 0, "ean eannr eannummer gln"},
	{"phone", CSVK_PHONE, false, 64, "phone telefon tlf tlfnr telefonnummer telephone mobil mobile"},
	{"email", CSVK_EMAIL, false, 255, "email mail emailadresse epost"},
	{"contactPerson", CSVK_TEXT, false, 255, "contactperson kontaktperson att attention"},
	{"contactNo", CSVK_TEXT, false, 64, "contactno kundenr kundenummer customerno customernumber nr nummer"},
	{"isCustomer", CSVK_BOOL, false, 0, "iscustomer erkunde customer kunde"},
	{"isSupplier", CSVK_BOOL, false, 0, "issupplier erleverandoer supplier leverandoer"},
	{"paymentTermsDays", CSVK_DAYS, false, 0, "paymenttermsdays paymentterms betalingsfrist kredittid betalingsbetingelser dage"},
	{"currencyId", CSVK_CURRENCY, false, 0, "currencyid currency valuta"},
	{"localeId", CSVK_LOCALE, false, 0, "localeid locale language sprog"},
};

static const BillyCsvColumn product_columns[] = {
	{"name", CSVK_TEXT, true, 255, "name navn produktnavn varenavn produkt product vare"},
	{"productNo", CSVK_TEXT, false, 64, "productno produktnr produktnummer varenr varenummer sku itemno"},
	{"description", CSVK_TEXT, false, 1000, "description beskrivelse tekst"},
	{"unitPrice", CSVK_AMOUNT, false, 0, "unitprice price pris enhedspris salgspris"},
	{"currencyId", CSVK_CURRENCY, false, 0, "currencyid currency valuta"},
	{"accountNo", CSVK_TEXT, false, 16, "accountno account konto kontonr kontonummer"},
	{"salesTaxRuleset", CSVK_TEXT, false, 64, "salestaxruleset ruleset moms momstype momsregel vatrule"},
	{"suppliersProductNo", CSVK_TEXT, false, 64, "suppliersproductno leverandoervarenr leverandoerproduktnr"},
};

const BillyCsvColumn *
billy_csv_columns(BillyCsvResource res, int *n)
{
	if (res == BILLY_CSV_CONTACTS)
	{
		*n = (int) (sizeof(contact_columns) / sizeof(contact_columns[0]));
		return contact_columns;
	}
	*n = (int) (sizeof(product_columns) / sizeof(product_columns[0]));
	return product_columns;
}

/* billy_csv_find_column: the column a normalized header names, or -1 */
int
billy_csv_find_column(BillyCsvResource res, const char *normalized)
{
	int			n;
	const BillyCsvColumn *cols = billy_csv_columns(res, &n);
	size_t		hl = strlen(normalized);

	if (hl == 0)
		return -1;
	for (int i = 0; i < n; i++)
	{
		const char *a = cols[i].aliases;

		while (*a)
		{
			const char *e = strchr(a, ' ');
			size_t		al = e ? (size_t) (e - a) : strlen(a);

			if (al == hl && memcmp(a, normalized, hl) == 0)
				return i;
			a += al;
			while (*a == ' ')
				a++;
		}
	}
	return -1;
}

static bool
word_is(const char *s, int len, const char *words)
{
	char		low[32];
	int			n = 0;

	if (len <= 0 || len >= (int) sizeof(low))
		return false;
	for (int i = 0; i < len; i++)
	{
		char		ch = s[i];

		low[n++] = (ch >= 'A' && ch <= 'Z') ? (char) (ch - 'A' + 'a') : ch;
	}
	low[n] = '\0';
	while (*words)
	{
		const char *e = strchr(words, ' ');
		size_t		wl = e ? (size_t) (e - words) : strlen(words);

		if (wl == (size_t) n && memcmp(words, low, wl) == 0)
			return true;
		words += wl;
		while (*words == ' ')
			words++;
	}
	return false;
}

static bool
all_upper_letters(const char *s, int len, int want, char *out)
{
	if (len != want)
		return false;
	for (int i = 0; i < len; i++)
	{
		char		ch = s[i];

		if (ch >= 'a' && ch <= 'z')
			ch = (char) (ch - 'a' + 'A');
		if (ch < 'A' || ch > 'Z')
			return false;
		out[i] = ch;
	}
	out[len] = '\0';
	return true;
}

/*
 * utf8_chars counts characters, or returns -1 for bytes that are not UTF-8
 * (a field cut inside a character by a bad file).
 */
static int
utf8_chars(const char *s, int len)
{
	int			n = 0;

	for (int i = 0; i < len;)
	{
		unsigned char ch = (unsigned char) s[i];
		int			k = ch < 0x80 ? 1 : (ch >> 5) == 6 ? 2 : (ch >> 4) == 14 ? 3 : (ch >> 3) == 30 ? 4 : 0;

		if (k == 0 || i + k > len)
			return -1;
		for (int j = 1; j < k; j++)
			if ((((unsigned char) s[i + j]) >> 6) != 2)
				return -1;
		i += k;
		n++;
	}
	return n;
}

const char *
billy_csv_check_value(const BillyCsvColumn *col, const char *s, int len, char decimal,
					  const char *country, char *out, int *outlen)
{
	int			n = 0;

	trim(&s, &len);

	/*
	 * billy's exports write a cell that a spreadsheet would run as a formula
	 * with a leading apostrophe (billy._csv_field): read it back as it was
	 */
	if (len >= 2 && s[0] == '\'' &&
		(s[1] == '=' || s[1] == '+' || s[1] == '-' || s[1] == '@' || s[1] == '\t' || s[1] == '\r'))
	{
		s++;
		len--;
	}
	*outlen = 0;
	out[0] = '\0';
	if (len == 0)
		return col->required ? "is required" : NULL;
	for (int i = 0; i < len; i++)
		if ((unsigned char) s[i] < 0x20 && s[i] != '\n' && s[i] != '\r' && s[i] != '\t')
			return "holds a control character";
	if (utf8_chars(s, len) < 0)
		return "is not valid UTF-8";

	switch (col->kind)
	{
		case CSVK_TEXT:
			if (col->maxlen > 0 && utf8_chars(s, len) > col->maxlen)
				return "is too long";
			memcpy(out, s, len);
			n = len;
			break;
		case CSVK_COUNTRY:
			if (!all_upper_letters(s, len, 2, out))
				return "is not a two-letter country code (DK, SE, DE...)";
			n = 2;
			break;
		case CSVK_CURRENCY:
			if (!all_upper_letters(s, len, 3, out))
				return "is not a three-letter currency code (DKK, EUR...)";
			n = 3;
			break;
		case CSVK_CVR:
			{
				bool		danish = country == NULL || country[0] == '\0' || strcmp(country, "DK") == 0;

				if (len > 32)
					return "is too long";
				for (int i = 0; i < len; i++)
				{
					char		ch = s[i];

					if (!((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
						  ch == ' ' || ch == '-' || ch == '.' || ch == '/'))
						return "holds characters a registration number cannot have";

					/*
					 * a Danish CVR number loses its spaces and dashes; others
					 * stay as written
					 */
					if (danish && (ch == ' ' || ch == '-' || ch == '.' || ch == '/'))
						continue;
					out[n++] = (danish && ch >= 'a' && ch <= 'z') ? (char) (ch - 'a' + 'A') : ch;
				}
				if (danish)
				{
					const char *d = out;
					int			dl = n;

					if (dl == 10 && d[0] == 'D' && d[1] == 'K')
					{
						d += 2;
						dl -= 2;
					}
					if (!billy_cvr_valid(d, dl))
						return "is not a valid CVR number (8 digits passing the modulus 11 check)";
					memmove(out, d, 8);
					n = 8;
				}
			}
			break;
		case CSVK_EAN:
			if (len != 13)
				return "is not an EAN number (13 digits)";
			for (int i = 0; i < len; i++)
				if (s[i] < '0' || s[i] > '9')
					return "is not an EAN number (13 digits)";
			memcpy(out, s, len);
			n = len;
			break;
		case CSVK_EMAIL:
			{
				const char *at = memchr(s, '@', len);
				int			local = at ? (int) (at - s) : 0;
				const char *dot;

				if (at == NULL || local == 0 || memchr(at + 1, '@', len - local - 1) != NULL)
					return "is not an e-mail address";
				dot = memchr(at + 1, '.', len - local - 1);
				if (dot == NULL || dot == at + 1 || s[len - 1] == '.')
					return "is not an e-mail address";
				for (int i = 0; i < len; i++)
					if (s[i] == ' ' || s[i] == ',' || s[i] == ';' || s[i] == '<' || s[i] == '>')
						return "is not an e-mail address";
				if (len > col->maxlen)
					return "is too long";
				memcpy(out, s, len);
				n = len;
			}
			break;
		case CSVK_PHONE:
			for (int i = 0; i < len; i++)
			{
				char		ch = s[i];

				if (!((ch >= '0' && ch <= '9') || ch == ' ' || ch == '+' || ch == '-' ||
					  ch == '(' || ch == ')' || ch == '.' || ch == '/'))
					return "is not a phone number";
			}
			if (len > col->maxlen)
				return "is too long";
			memcpy(out, s, len);
			n = len;
			break;
		case CSVK_CONTACT_TYPE:
			if (word_is(s, len, "company virksomhed firma erhverv business"))
				strcpy(out, "company");
			else if (word_is(s, len, "person privat privatperson private individual"))
				strcpy(out, "person");
			else
				return "is neither company (virksomhed) nor person (privat)";
			n = (int) strlen(out);
			break;
		case CSVK_BOOL:
			if (word_is(s, len, "true yes ja j y x 1 sand"))
				strcpy(out, "true");
			else if (word_is(s, len, "false no nej n 0 falsk"))
				strcpy(out, "false");
			else
				return "is neither yes (ja) nor no (nej)";
			n = (int) strlen(out);
			break;
		case CSVK_DAYS:
			{
				int64_t		v;

				if (billy_csv_decimal(s, len, decimal, 0, &v) != NULL || v < 0 || v > 3650)
					return "is not a number of days from 0 to 3650";
				n = 0;
				if (v == 0)
					out[n++] = '0';
				else
				{
					char		tmp[8];
					int			k = 0;

					while (v > 0)
					{
						tmp[k++] = (char) ('0' + v % 10);
						v /= 10;
					}
					while (k > 0)
						out[n++] = tmp[--k];
				}
			}
			break;
		case CSVK_AMOUNT:
			{
				int64_t		v;
				const char *e = billy_csv_decimal(s, len, decimal, 2, &v);
				uint64_t	u;
				char		tmp[24];
				int			k = 0;

				if (e)
					return e;
				if (v < 0)
					out[n++] = '-';
				u = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;
				do
				{
					tmp[k++] = (char) ('0' + u % 10);
					u /= 10;
				} while (u > 0 || k < 3);
				while (k > 2)
					out[n++] = tmp[--k];
				out[n++] = '.';
				out[n++] = tmp[1];
				out[n++] = tmp[0];
			}
			break;
		case CSVK_LOCALE:
			if (len == 2 && all_upper_letters(s, 2, 2, out))
			{
				/* "da" -> da_DK, "en" -> en_US: Billy's locale ids */
				if (strcmp(out, "DA") == 0)
					strcpy(out, "da_DK");
				else if (strcmp(out, "EN") == 0)
					strcpy(out, "en_US");
				else if (strcmp(out, "DE") == 0)
					strcpy(out, "de_DE");
				else if (strcmp(out, "FR") == 0)
					strcpy(out, "fr_FR");
				else if (strcmp(out, "NL") == 0)
					strcpy(out, "nl_NL");
				else
					return "is not a locale Billy knows (da_DK, en_US, de_DE, fr_FR, nl_NL)";
			}
			else if (len == 5 && (s[2] == '_' || s[2] == '-'))
			{
				out[0] = (char) (s[0] | 0x20);
				out[1] = (char) (s[1] | 0x20);
				out[2] = '_';
				out[3] = (char) (s[3] & ~0x20);
				out[4] = (char) (s[4] & ~0x20);
				out[5] = '\0';
				if (strcmp(out, "da_DK") != 0 && strcmp(out, "en_US") != 0 &&
					strcmp(out, "de_DE") != 0 && strcmp(out, "fr_FR") != 0 &&
					strcmp(out, "nl_NL") != 0)
					return "is not a locale Billy knows (da_DK, en_US, de_DE, fr_FR, nl_NL)";
			}
			else
				return "is not a locale Billy knows (da_DK, en_US, de_DE, fr_FR, nl_NL)";
			n = 5;
			break;
	}
	out[n] = '\0';
	*outlen = n;
	return NULL;
}
