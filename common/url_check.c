#include "common/url_check.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int
url_check(const char *url, char *err, size_t errlen) {
    if (!url || !*url) return snprintf(err, errlen, "the URL is empty"), -1;
    if (strlen(url) > URL_CHECK_MAX)
        return snprintf(err, errlen, "the URL is longer than %d bytes", URL_CHECK_MAX), -1;
    CURLU *u = curl_url();
    if (!u) return snprintf(err, errlen, "out of memory"), -1;
    int rc = -1;
    char *scheme = NULL, *host = NULL, *user = NULL;
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc != CURLUE_OK) {
        snprintf(err, errlen, "not a valid URL: %s", curl_url_strerror(uc));
    } else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
               (strcasecmp(scheme, "http") && strcasecmp(scheme, "https"))) {
        snprintf(err, errlen, "only http and https URLs can be fetched");
    } else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
        snprintf(err, errlen, "the URL has no host");
    } else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
        snprintf(err, errlen, "credentials in URLs are not accepted");
    } else {
        rc = 0;
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_url_cleanup(u);
    return rc;
}
