/* url_check — which URLs wordcount accepts, checked with curl's URL API:
 * absolute http or https URLs with a host and no credentials, at most
 * URL_CHECK_MAX bytes. Used at submit (422) and again before fetching. */
#ifndef WC_URL_CHECK_H
#define WC_URL_CHECK_H

#include <stddef.h>

#define URL_CHECK_MAX 2048

/* url_check returns 0, or -1 with a reason in err. */
int url_check(const char *url, char *err, size_t errlen);

#endif
