#!/usr/bin/env bash
# testca.sh DIR — a throwaway certificate authority and server certificates
# for the TLS tests (tests/lib/testca.c runs it; it is fine by hand too).
#
# Writes into DIR (P-256 keys, valid two days):
#   ca.crt, ca.key         the CA ("wordcount test CA")
#   server.crt, .key       issued by the CA for DNS:localhost and IP:127.0.0.1
#   other.crt, .key        issued by the CA for DNS:other.invalid only (a wrong host name)
#   self.crt, .key         self-signed for DNS:localhost and IP:127.0.0.1 (not from the CA)
# Keys are mode 0600, the rest 0644.
set -euo pipefail

(($# == 1)) || { echo "usage: $0 DIR" >&2; exit 2; }
cd "$1"
umask 077
KEY=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)

openssl req -x509 "${KEY[@]}" -keyout ca.key -out ca.crt -days 2 -subj "/CN=wordcount test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

# issue NAME SAN: a server certificate signed by the CA.
issue() {
    openssl req -new "${KEY[@]}" -keyout "$1.key" -out "$1.csr" -subj "/CN=$1" 2>/dev/null
    printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$2" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
        -extfile "$1.ext" -out "$1.crt" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}
issue server "DNS:localhost,IP:127.0.0.1"
issue other "DNS:other.invalid"

openssl req -x509 "${KEY[@]}" -keyout self.key -out self.crt -days 2 -subj "/CN=self-signed" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null

rm -f ca.srl
chmod 0644 ./*.crt
