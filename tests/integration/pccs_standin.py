#!/usr/bin/python3
"""A PCCS stand-in for tests: serves one attestation test set over HTTP the way Intel's
PCS / a PCCS does (API v4), issuer chains URL-encoded in the response headers. Counts the
requests it served in <dir>/.requests so tests can see cache hits.

Faults, for the collateral proxy's tests: <port file>.fault, read at every request, holds
lines "<fault> <path substring>" (the first whose substring is in the request path wins):
  tamper    the body with one byte changed (JSON: a TCB status; CRL: the last byte)
  reorder   the issuer chain with its certificates in the other order
  expired   the item from the set named by <port file>.expired (stale at the test's time)
  nochain   no issuer chain header
  slow      the answer after two seconds
  down      HTTP 503
  missing   HTTP 404
  v4body    v3's TCB Info path answered with v4's document (tcb_info.json)"""
import http.server
import json
import os
import re
import time
import sys
import urllib.parse

SET = sys.argv[1]
PORT_FILE = sys.argv[2]
# "pcs": behave as Intel PCS does: no rootcacrl endpoint; the root CA CRL is a plain file
MODE = sys.argv[3] if len(sys.argv) > 3 else "pccs"


def read(name, where=None):
    with open(os.path.join(where or SET, name), "rb") as f:
        return f.read()


def fault_for(path):
    try:
        with open(PORT_FILE + ".fault") as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and parts[1] in path:
                    return parts[0]
    except FileNotFoundError:
        pass
    return None


def tamper(body):
    if body.startswith(b"-----BEGIN"):  # a certificate: one base64 digit of its body
        i = body.index(b"\n") + 200
        return body[:i] + (b"B" if body[i:i + 1] != b"B" else b"C") + body[i + 1:]
    if body.startswith(b"{"):
        for a, b in ((b'"UpToDate"', b'"Revoked"'), (b'"OutOfDate"', b'"UpToDate"'),
                     (b'"SWHardeningNeeded"', b'"UpToDate"'), (b'"isvsvn":8', b'"isvsvn":9')):
            if a in body:
                return body.replace(a, b, 1)
    return body[:-1] + bytes([body[-1] ^ 1])


def reorder(chain):
    certs = re.findall(rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n?", chain, re.S)
    return b"".join(reversed(certs))


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        """Intel PCS's pckcerts for a platform manifest: {"platformManifest", "pceid"} in
        the body (kept in <port file>.posted), answered as the GET is."""
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if MODE != "pcs" or self.path != "/sgx/certification/v4/pckcerts" or \
                self.headers.get("Content-Type") != "application/json":
            self.send_error(404)
            return
        with open(PORT_FILE + ".posted", "ab") as f:
            f.write(body + b"\n")
        self.do_GET()

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        routes = {
            "/sgx/certification/v4/tcb": ("tcb_info.json", "TCB-Info-Issuer-Chain", "tcb_info_issuer_chain.pem"),
            "/tdx/certification/v4/tcb": ("tcb_info.json", "TCB-Info-Issuer-Chain", "tcb_info_issuer_chain.pem"),
            "/sgx/certification/v4/qe/identity": ("qe_identity.json", "SGX-Enclave-Identity-Issuer-Chain", "qe_identity_issuer_chain.pem"),
            "/tdx/certification/v4/qe/identity": ("qe_identity.json", "SGX-Enclave-Identity-Issuer-Chain", "qe_identity_issuer_chain.pem"),
            "/sgx/certification/v4/qve/identity": ("qve_identity.json", "SGX-Enclave-Identity-Issuer-Chain", "qe_identity_issuer_chain.pem"),
            "/sgx/certification/v4/pckcrl": ("pck_crl.der", "SGX-PCK-CRL-Issuer-Chain", "pck_crl_issuer_chain.pem"),
            "/sgx/certification/v4/rootcacrl": ("root_ca_crl.der", None, None),
            # the set's one PCK certificate, whatever TCB is asked for (qeid: a PCCS's form)
            "/sgx/certification/v4/pckcert": ("pck_chain.pem", "SGX-PCK-Certificate-Issuer-Chain", "pck_chain.pem"),
            "/sgx/certification/v4/tcbevaluationdatanumbers": ("tcb_eval_numbers.json", "TCB-Evaluation-Data-Numbers-Issuer-Chain", "tcb_info_issuer_chain.pem"),
            "/tdx/certification/v4/tcbevaluationdatanumbers": ("tcb_eval_numbers.json", "TCB-Evaluation-Data-Numbers-Issuer-Chain", "tcb_info_issuer_chain.pem"),
            # PCS v3: TCB Info version 2 (Intel's shared sets have none: 404), v3's header
            "/sgx/certification/v3/tcb": ("tcb_info_v2.json", "SGX-TCB-Info-Issuer-Chain", "tcb_info_issuer_chain.pem"),
        }
        if MODE == "pcs":  # Intel PCS lists a platform's certificates; a PCCS does not
            routes["/sgx/certification/v4/pckcerts"] = ("pck_chain.pem", "SGX-PCK-Certificate-Issuer-Chain", "pck_chain.pem")
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
        fault = fault_for(url.path)
        if fault == "v4body":
            body_name = "tcb_info.json"
        with open(PORT_FILE + ".requests", "a") as f:
            f.write(url.path + ("?" + url.query if url.query else "") + "\n")
        key = self.headers.get("Ocp-Apim-Subscription-Key")
        if key is not None:  # Intel PCS's API key, as a client sent it
            with open(PORT_FILE + ".apikey", "w") as f:
                f.write(key)
        if fault == "slow":
            time.sleep(2)
        if fault in ("down", "missing"):
            self.send_error(503 if fault == "down" else 404)
            return
        where = None
        if fault == "expired":
            with open(PORT_FILE + ".expired") as f:
                where = f.read().strip()
        try:
            body = read(body_name, where)
            chain_pem = read(chain, where) if chain else b""
        except FileNotFoundError:  # the set has none (Intel's carry no QvE identity)
            self.send_error(404)
            return
        if url.path.endswith("/pckcert") or url.path.endswith("/pckcerts"):
            end = b"-----END CERTIFICATE-----\n"
            leaf_end = body.index(end) + len(end)
            body, chain_pem = body[:leaf_end], body[leaf_end:]
        if url.path.endswith("/pckcerts"):
            # the set's one certificate, under the TCB the test says it is for (.tcbm:
            # CPUSVN hex then PCESVN little-endian hex), and a level with none
            with open(PORT_FILE + ".tcbm") as f:
                tcbm = f.read().strip()
            if fault == "tamper":  # the certificate inside the list
                body, fault = tamper(body), None
            tcb = {"sgxtcbcomp%02dsvn" % (i + 1): int(tcbm[2 * i:2 * i + 2], 16) for i in range(16)}
            tcb["pcesvn"] = int(tcbm[34:36] + tcbm[32:34], 16)
            if fault == "tcbm":
                tcbm = tcbm[:30] + ("00" if tcbm[30:32] != "00" else "01") + tcbm[32:]
            body = json.dumps([
                {"tcb": tcb, "tcbm": tcbm.upper(), "cert": urllib.parse.quote(body.decode(), safe="-_.!~*'()")},
                {"tcb": dict(tcb, pcesvn=0), "tcbm": tcbm[:32] + "0000", "cert": "Not available"},
            ]).encode()
        if fault == "tamper":
            body = tamper(body)
        if fault == "reorder":
            chain_pem = reorder(chain_pem)
        if url.path.endswith("rootcacrl"):
            body = body.hex().encode()  # as some PCCS versions send it
        self.send_response(200)
        if header and fault != "nochain":
            self.send_header(header, urllib.parse.quote(chain_pem.decode()))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORT_FILE, "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
