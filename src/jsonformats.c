/*-------------------------------------------------------------------------
 *
 * jsonformats.c
 *	  The string formats JSON Schema's "format" names that billy checks:
 *	  date, date-time, time (RFC 3339), uuid, email; and how a message
 *	  names each.  Used by jsonschema.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "jsonformats.h"

static bool
digits(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int
num(const char *s, int n)
{
	int			r = 0;

	for (int i = 0; i < n; i++)
		r = r * 10 + (s[i] - '0');
	return r;
}

/* valid_date: YYYY-MM-DD, a day that exists */
static bool
valid_date(const char *s, int len)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int			y,
				m,
				d;

	if (len != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4) || !digits(s + 5, 2) || !digits(s + 8, 2))
		return false;
	y = num(s, 4);
	m = num(s + 5, 2);
	d = num(s + 8, 2);
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return false;
	if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return false;
	return true;
}

/* valid_time: HH:MM:SS[.frac](Z|+HH:MM|-HH:MM), as RFC 3339 */
static bool
valid_time(const char *s, int len, bool need_zone)
{
	int			i = 8;

	if (len < 8 || s[2] != ':' || s[5] != ':' || !digits(s, 2) || !digits(s + 3, 2) || !digits(s + 6, 2))
		return false;
	if (num(s, 2) > 23 || num(s + 3, 2) > 59 || num(s + 6, 2) > 60)
		return false;
	if (i < len && s[i] == '.')
	{
		i++;
		if (i >= len || s[i] < '0' || s[i] > '9')
			return false;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i == len)
		return !need_zone;
	if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == len)
		return true;
	if ((s[i] == '+' || s[i] == '-') && len - i == 6 && s[i + 3] == ':' &&
		digits(s + i + 1, 2) && digits(s + i + 4, 2))
		return num(s + i + 1, 2) <= 23 && num(s + i + 4, 2) <= 59;
	return false;
}

bool
billy_valid_format(const char *format, const char *s, int len)
{
	if (strcmp(format, "date") == 0)
		return valid_date(s, len);
	if (strcmp(format, "date-time") == 0)
		return len > 11 && (s[10] == 'T' || s[10] == 't' || s[10] == ' ') &&
			valid_date(s, 10) && valid_time(s + 11, len - 11, true);
	if (strcmp(format, "time") == 0)
		return valid_time(s, len, true);
	if (strcmp(format, "uuid") == 0)
	{
		if (len != 36)
			return false;
		for (int i = 0; i < 36; i++)
		{
			if (i == 8 || i == 13 || i == 18 || i == 23)
			{
				if (s[i] != '-')
					return false;
			}
			else if (!isxdigit((unsigned char) s[i]))
				return false;
		}
		return true;
	}
	if (strcmp(format, "email") == 0)
	{
		const char *at = memchr(s, '@', len);

		if (at == NULL || at == s || memchr(at + 1, '@', len - (at + 1 - s)))
			return false;
		for (int i = 0; i < len; i++)
			if ((unsigned char) s[i] <= ' ')
				return false;
		return memchr(at + 1, '.', len - (at + 1 - s)) != NULL && s[len - 1] != '.';
	}
	return true;				/* formats we do not know pass */
}

const char *
billy_format_words(const char *format)
{
	if (strcmp(format, "date") == 0)
		return "a date (YYYY-MM-DD)";
	if (strcmp(format, "date-time") == 0)
		return "a date and time with a zone (YYYY-MM-DDTHH:MM:SSZ)";
	if (strcmp(format, "time") == 0)
		return "a time with a zone (HH:MM:SSZ)";
	if (strcmp(format, "uuid") == 0)
		return "a UUID";
	if (strcmp(format, "email") == 0)
		return "an e-mail address";
	return format;
}
