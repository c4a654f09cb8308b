#!/usr/bin/env bash
# nginx-render.sh — fill the placeholders of deploy/nginx.conf.
#
#   deploy/nginx-render.sh [TEMPLATE] > /etc/nginx/conf.d/wordcount.conf
#
# Reads WC_LISTEN, WC_UPSTREAM and WC_STATIC_DIR from the environment, with
# the plain-host defaults (80, 127.0.0.1:5000, /usr/local/share/wordcount/static).
# Only those three ${...} names are replaced, so nginx's own $variables stay.
# Refuses values that could change the file's structure (spaces, quotes,
# semicolons, braces, | and &) and fails if a placeholder is left.
set -euo pipefail

template=${1:-$(dirname "$0")/nginx.conf}
WC_LISTEN=${WC_LISTEN:-80}
WC_UPSTREAM=${WC_UPSTREAM:-127.0.0.1:5000}
WC_STATIC_DIR=${WC_STATIC_DIR:-/usr/local/share/wordcount/static}

for name in WC_LISTEN WC_UPSTREAM WC_STATIC_DIR; do
    value=${!name}
    if [[ -z $value || $value =~ [[:space:]\;\{\}\"\'\$\\#\|\&] ]]; then
        echo "nginx-render: $name='$value' is empty or holds a character nginx would misread" >&2
        exit 2
    fi
done
[[ -r $template ]] || { echo "nginx-render: cannot read $template" >&2; exit 2; }

# Comment lines (which name the placeholders) are left as they are.
out=$(sed -e "/^[[:space:]]*#/!s|\${WC_LISTEN}|$WC_LISTEN|g" \
          -e "/^[[:space:]]*#/!s|\${WC_UPSTREAM}|$WC_UPSTREAM|g" \
          -e "/^[[:space:]]*#/!s|\${WC_STATIC_DIR}|$WC_STATIC_DIR|g" "$template")
if grep -v '^[[:space:]]*#' <<<"$out" | grep -q '\${WC_'; then
    echo "nginx-render: a placeholder is left in $template" >&2
    exit 1
fi
printf '%s\n' "$out"
