#include "tests/lib/yaml_json.h"

#include <stdio.h>
#include <string.h>
#include <yaml.h>

static json_t *convert(yaml_document_t *doc, yaml_node_t *node, int depth);

/* merge copies the keys of src (an object, or a list of objects) that dst lacks. */
static void
merge(json_t *dst, json_t *src) {
    if (json_is_array(src)) {
        size_t i;
        json_t *v;
        json_array_foreach(src, i, v) merge(dst, v);
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach(src, k, v) if (!json_object_get(dst, k)) json_object_set(dst, k, v);
}

static json_t *
convert(yaml_document_t *doc, yaml_node_t *node, int depth) {
    if (!node || depth > 64) return NULL;
    switch (node->type) {
    case YAML_SCALAR_NODE:
        return json_stringn((const char *)node->data.scalar.value, node->data.scalar.length);
    case YAML_SEQUENCE_NODE: {
        json_t *a = json_array();
        for (yaml_node_item_t *it = node->data.sequence.items.start;
             it < node->data.sequence.items.top; it++) {
            json_t *v = convert(doc, yaml_document_get_node(doc, *it), depth + 1);
            if (!v) return json_decref(a), NULL;
            json_array_append_new(a, v);
        }
        return a;
    }
    case YAML_MAPPING_NODE: {
        json_t *o = json_object(), *merges = json_array();
        for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
             p++) {
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            json_t *v = convert(doc, yaml_document_get_node(doc, p->value), depth + 1);
            if (!k || k->type != YAML_SCALAR_NODE || !v) {
                json_decref(v);
                json_decref(o);
                json_decref(merges);
                return NULL;
            }
            const char *key = (const char *)k->data.scalar.value;
            if (strcmp(key, "<<") == 0) json_array_append_new(merges, v);
            else json_object_set_new(o, key, v);
        }
        merge(o, merges);
        json_decref(merges);
        return o;
    }
    default:
        return NULL;
    }
}

json_t *
yaml_json_load(const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s", path);
        return NULL;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    json_t *out = NULL;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "%s: %s at line %zu", path,
                 parser.problem ? parser.problem : "YAML error", parser.problem_mark.line + 1);
    } else {
        out = convert(&doc, yaml_document_get_root_node(&doc), 0);
        if (!out)
            snprintf(err, errlen, "%s: empty, or a structure this reader does not take", path);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    fclose(f);
    return out;
}
