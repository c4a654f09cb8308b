/* addr_policy — which addresses wordcount connects to on a user's behalf:
 * the pages it fetches (worker/fetch.h) and the callback URLs it delivers
 * webhooks to (worker/hooks.h), by the address's class
 * (common/addr_class.h):
 *   public                  always
 *   loopback, private       when FETCH_ALLOW_PRIVATE is on (the default in
 *                           development only)
 *   link-local, reserved    never (169.254.169.254, the cloud metadata
 *                           service, is link-local)
 * and FETCH_ALLOW_ADDRESSES lets the addresses it lists through whatever
 * their class (how tests reach a receiver on 127.0.0.1 with the check on).
 * Pure functions over the config. */
#ifndef WC_ADDR_POLICY_H
#define WC_ADDR_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "common/config.h"

/* addr_policy_allowed tells whether cfg lets us connect to sa. */
bool addr_policy_allowed(const struct config *cfg, const struct sockaddr *sa);
/* addr_policy_url checks a URL whose host is an address literal (a name
 * is checked when it resolves, at connect time): returns 0 when allowed
 * or a name, -1 with the reason in err when refused or unparsable. */
int addr_policy_url(const struct config *cfg, const char *url, char *err, size_t errlen);

#endif
