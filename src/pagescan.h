/*-------------------------------------------------------------------------
 *
 * pagescan.h
 *	  One pass over a page of Billy's JSON: validate it, find each record's
 *	  text, id and content hash, and read meta.paging.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_PAGESCAN_H
#define BILLY_PAGESCAN_H

#include "postgres.h"

#define BILLY_HASH_BYTES 16
#define BILLY_MAX_ID 64

typedef struct BillyRecord
{
	const char *json;			/* the record's JSON object, in the page */
	int			len;
	char		id[BILLY_MAX_ID];	/* its "id" */
	uint8		hash[BILLY_HASH_BYTES]; /* of text without downloadUrl's value */
} BillyRecord;

typedef struct BillyPage
{
	/* meta.paging, or -1 where absent */
	int			page;
	int			page_count;
	int			page_size;
	int64		total;
	/* the records under the root key (an array, or one object) */
	BillyRecord *records;
	int			nrecords;
	bool		root_found;
} BillyPage;

/*
 * billy_scan_page scans text; the records found are those of the root
 * member named root_key (an array of objects, or a single object).  Returns
 * NULL when the text is valid JSON of that shape, else a palloc'd sentence.
 */
extern char *billy_scan_page(const char *text, int len, const char *root_key,
							 BillyPage *page);

#endif							/* BILLY_PAGESCAN_H */
