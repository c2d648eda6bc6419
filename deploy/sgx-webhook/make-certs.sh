#!/usr/bin/env bash
# Makes what the webhook's TLS needs, with openssl only: a CA (ca.crt, ca.key), a serving
# certificate for the webhook's Service signed by it (tls.crt, tls.key; EC P-256, SANs
# <service>.<namespace>.svc and .svc.cluster.local, serverAuth only), the Secret that
# holds them (secret.yaml) and the MutatingWebhookConfiguration with caBundle filled
# (mutatingwebhook.yaml), so kube-apiserver trusts exactly this CA for this webhook.
#
#   make-certs.sh OUTDIR [NAMESPACE] [SERVICE]
#   EXTRA_SANS="IP:127.0.0.1,DNS:localhost" make-certs.sh ...   (tests, local runs)
#   DAYS=365 (serving certificate), CA_DAYS=3650
#
# Apply with: kubectl apply -f OUTDIR/secret.yaml -k deploy/sgx-webhook
#             kubectl apply -f OUTDIR/mutatingwebhook.yaml
# Renewing: run again with the same OUTDIR and ca.key is reused (the caBundle stays); the
# webhook rereads the mounted Secret when it changes (--tls-reload-seconds).
set -euo pipefail
out=${1:?usage: make-certs.sh OUTDIR [NAMESPACE] [SERVICE]}
ns=${2:-kube-system}
svc=${3:-kubetee-sgx-webhook}
here=$(cd "$(dirname "$0")" && pwd)
for n in "$ns" "$svc"; do
  [[ $n =~ ^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$ ]] || { echo "make-certs: '$n' is not a DNS label" >&2; exit 2; }
done
mkdir -p "$out"
umask 077
if [ ! -s "$out/ca.key" ]; then
  openssl ecparam -name prime256v1 -genkey -noout -out "$out/ca.key"
  openssl req -x509 -new -key "$out/ca.key" -sha256 -days "${CA_DAYS:-3650}" -out "$out/ca.crt" \
    -subj "/CN=kubetee sgx-webhook CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign"
fi
sans="DNS:$svc.$ns.svc,DNS:$svc.$ns.svc.cluster.local${EXTRA_SANS:+,$EXTRA_SANS}"
openssl ecparam -name prime256v1 -genkey -noout -out "$out/tls.key.new"
openssl req -new -key "$out/tls.key.new" -subj "/CN=$svc.$ns.svc" -out "$out/tls.csr"
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' \
  "$sans" > "$out/tls.ext"
openssl x509 -req -in "$out/tls.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial \
  -sha256 -days "${DAYS:-365}" -extfile "$out/tls.ext" -out "$out/tls.crt.new" 2>/dev/null
openssl verify -CAfile "$out/ca.crt" -purpose sslserver "$out/tls.crt.new" >/dev/null
# the key first, then the certificate: a reader that sees the new certificate finds its key
mv "$out/tls.key.new" "$out/tls.key"
mv "$out/tls.crt.new" "$out/tls.crt"
rm -f "$out/tls.csr" "$out/tls.ext"
chmod 644 "$out/ca.crt" "$out/tls.crt"
b64() { base64 -w0 < "$1"; }
cat > "$out/secret.yaml" <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: $svc-tls
  namespace: $ns
type: kubernetes.io/tls
data:
  tls.crt: $(b64 "$out/tls.crt")
  tls.key: $(b64 "$out/tls.key")
YAML
# the webhook's own namespace is never subject to it (kube-system never is either)
own='"kube-system"'
[ "$ns" = kube-system ] || own="\"kube-system\", \"$ns\""
sed -e "s|caBundle: \"\"|caBundle: $(b64 "$out/ca.crt")|" \
    -e "s|namespace: kube-system|namespace: $ns|; s|name: kubetee-sgx-webhook$|name: $svc|" \
    -e "s|values: \[\"kube-system\"\]|values: [$own]|" \
    "$here/mutatingwebhook.yaml" > "$out/mutatingwebhook.yaml"
grep -q "caBundle: $(b64 "$out/ca.crt")" "$out/mutatingwebhook.yaml" ||
  { echo "make-certs: caBundle was not filled in" >&2; exit 1; }
echo "make-certs: $out/{ca.crt,tls.crt,tls.key,secret.yaml,mutatingwebhook.yaml} for $svc.$ns.svc" >&2
