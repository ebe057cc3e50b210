/*-------------------------------------------------------------------------
 *
 * jsonformats.h
 *	  JSON Schema string formats (date, date-time, time, uuid, email).
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_JSONFORMATS_H
#define BILLY_JSONFORMATS_H

/* whether s (len bytes) is in the format; formats billy does not know pass */
extern bool billy_valid_format(const char *format, const char *s, int len);

/* how a message names a format: "a date (YYYY-MM-DD)" */
extern const char *billy_format_words(const char *format);

#endif							/* BILLY_JSONFORMATS_H */
