/*-------------------------------------------------------------------------
 *
 * files.h
 *	  Files for Billy: the upload's raw body and the checks of its bytes.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_FILES_H
#define BILLY_FILES_H

#include "postgres.h"

#include "http.h"

extern const char *billy_file_sniff(const unsigned char *b, size_t n);
extern bool billy_file_request_body(BillyHttpRequest *req, const char *plan);

#endif							/* BILLY_FILES_H */
