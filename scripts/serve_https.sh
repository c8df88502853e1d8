#!/usr/bin/env bash
# Serve the app over HTTPS on the local network, so that a headset's browser can open "Open in VR" links and
# enter VR (WebXR needs a secure context):  bash scripts/serve_https.sh [PORT]
#
# On first run it makes a self-signed certificate in .certs/ (365 days, valid for this machine's name, its first
# network address and localhost); each device accepts it once ("Advanced" → "Proceed"). Links and QR codes carry
# the network address (XRAY_PUBLIC_URL). With a real certificate, pass it the same way (server.sslCertFile/KeyFile).
set -euo pipefail
cd "$(dirname "$0")/.."
port="${1:-8501}"
address="$( (hostname -I 2>/dev/null || ipconfig getifaddr en0 2>/dev/null || true) | awk '{print $1}')"
address="${address:-127.0.0.1}"

if [ ! -s .certs/cert.pem ] || [ ! -s .certs/key.pem ]; then
  mkdir -p .certs
  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -keyout .certs/key.pem -out .certs/cert.pem \
    -subj "/CN=xray-workstation" \
    -addext "subjectAltName=DNS:localhost,DNS:$(hostname),IP:127.0.0.1,IP:${address}" 2>/dev/null
  chmod 600 .certs/key.pem
fi

export XRAY_PUBLIC_URL="https://${address}:${port}"
echo "Serving on ${XRAY_PUBLIC_URL} (open it on the headset; accept the certificate once)." >&2
exec streamlit run app.py --server.address 0.0.0.0 --server.port "$port" \
  --server.sslCertFile .certs/cert.pem --server.sslKeyFile .certs/key.pem --server.headless true
