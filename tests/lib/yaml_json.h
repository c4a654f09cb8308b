/* yaml_json — read a YAML file (libyaml) into a jansson value, for tests
 * that check docker-compose.yml.
 *
 * Scalars become strings (compose treats them as strings or parses them
 * itself), mappings objects, sequences arrays; aliases are resolved by
 * libyaml, and merge keys (`<<: *anchor`, or a list of anchors) are
 * applied as compose applies them: keys already present win. Returns a
 * new reference, or NULL with a reason in err. */
#ifndef WC_TEST_YAML_JSON_H
#define WC_TEST_YAML_JSON_H

#include <jansson.h>
#include <stddef.h>

json_t *yaml_json_load(const char *path, char *err, size_t errlen);

#endif
