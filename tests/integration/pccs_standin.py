#!/usr/bin/python3
"""A PCCS stand-in for tests: serves one attestation test set over HTTP the way Intel's
PCS / a PCCS does (API v4), issuer chains URL-encoded in the response headers. Counts the
requests it served in <dir>/.requests so tests can see cache hits."""
import http.server
import os
import sys
import urllib.parse

SET = sys.argv[1]
PORT_FILE = sys.argv[2]
# "pcs": behave as Intel PCS does: no rootcacrl endpoint; the root CA CRL is a plain file
MODE = sys.argv[3] if len(sys.argv) > 3 else "pccs"


def read(name):
    with open(os.path.join(SET, name), "rb") as f:
        return f.read()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        routes = {
            "/sgx/certification/v4/tcb": ("tcb_info.json", "TCB-Info-Issuer-Chain", "tcb_info_issuer_chain.pem"),
            "/tdx/certification/v4/tcb": ("tcb_info.json", "TCB-Info-Issuer-Chain", "tcb_info_issuer_chain.pem"),
            "/sgx/certification/v4/qe/identity": ("qe_identity.json", "SGX-Enclave-Identity-Issuer-Chain", "qe_identity_issuer_chain.pem"),
            "/tdx/certification/v4/qe/identity": ("qe_identity.json", "SGX-Enclave-Identity-Issuer-Chain", "qe_identity_issuer_chain.pem"),
            "/sgx/certification/v4/pckcrl": ("pck_crl.der", "SGX-PCK-CRL-Issuer-Chain", "pck_crl_issuer_chain.pem"),
            "/sgx/certification/v4/rootcacrl": ("root_ca_crl.der", None, None),
        }
        if MODE == "pcs" and url.path == "/IntelSGXRootCA.der":
            body = read("root_ca_crl.der")
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if url.path not in routes or (MODE == "pcs" and url.path.endswith("rootcacrl")):
            self.send_error(404)
            return
        if url.path.endswith("/tcb") and "fmspc" not in q:
            self.send_error(400)
            return
        body_name, header, chain = routes[url.path]
        body = read(body_name)
        if url.path.endswith("rootcacrl"):
            body = body.hex().encode()  # as some PCCS versions send it
        self.send_response(200)
        if header:
            self.send_header(header, urllib.parse.quote(read(chain).decode()))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        with open(PORT_FILE + ".requests", "a") as f:
            f.write(url.path + "\n")


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORT_FILE, "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
