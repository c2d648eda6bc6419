#!/usr/bin/python3
"""kubetee-collateral as a cluster uses it: in front of a PCCS stand-in (its own process,
tests/integration/pccs_standin.py) serving Intel's real collateral, and offline from
imports. Every endpoint byte for byte against the shared files; tampered, reordered,
stale and out-of-order collateral refused and never cached; outages at and past
nextUpdate; strict queries; `kubetee attest verify --pccs` through the proxy for every
shared set.

usage: collateral_proxy.py <kubetee-collateral> <kubetee> <sets dir> <test enclaves dir>"""
import http.client
import json
import os
import re
import shutil
import signal
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import platformcollateral as pcol
import prom

PROXY, KUBETEE, SETS, ENCLAVES = sys.argv[1:5]
HERE = os.path.dirname(os.path.abspath(__file__))
WORK = tempfile.mkdtemp(prefix="kt-collateral-")
passed = failed = 0
procs = []


def check(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok   " + what)
    else:
        failed += 1
        print("FAIL " + what + (": " + str(detail)[:600] if detail else ""))


def read(path):
    with open(path, "rb") as f:
        return f.read()


def intel_quote(pem):
    """Intel PCS's encoding of issuer chains: encodeURIComponent's."""
    return urllib.parse.quote(pem, safe="-_.!~*'()")


def wait_for(path, pattern, proc, seconds=20):
    end = time.time() + seconds
    while time.time() < end:
        if os.path.exists(path):
            m = re.search(pattern, open(path, errors="replace").read())
            if m:
                return m
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    return None


class Standin:
    def __init__(self, set_dir, name, mode="pccs"):
        self.port_file = os.path.join(WORK, name + ".port")
        self.proc = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "pccs_standin.py"),
                                      set_dir, self.port_file, mode])
        procs.append(self.proc)
        for _ in range(100):
            if os.path.exists(self.port_file) and open(self.port_file).read():
                break
            time.sleep(0.05)
        self.url = "http://127.0.0.1:" + open(self.port_file).read()

    def fault(self, text, expired_set=None):
        with open(self.port_file + ".fault", "w") as f:
            f.write(text)
        if expired_set:
            with open(self.port_file + ".expired", "w") as f:
                f.write(expired_set)

    def requests(self):
        p = self.port_file + ".requests"
        return open(p).read().splitlines() if os.path.exists(p) else []

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def post(port, target, body, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("POST", target, body=body, headers=dict({"Content-Type": "application/json"}, **(headers or {})))
    r = c.getresponse()
    got = r.read()
    c.close()
    return r.status, got


def resign(text, field, key):
    """A PCS body ({field: ..., "signature": ...}) with its signed value changed by the
    caller already, signed again with key (PEM file) as r||s hex, via openssl."""
    body = text.encode()
    der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=body,
                         capture_output=True).stdout
    r_len = der[3]
    rr, ss = der[4:4 + r_len], der[6 + r_len:6 + r_len + der[5 + r_len]]
    sig = rr[-32:].rjust(32, b"\0") + ss[-32:].rjust(32, b"\0")
    return b'{"' + field.encode() + b'":' + body + b',"signature":"' + sig.hex().encode() + b'"}'


class Proxy:
    count = 0

    def __init__(self, root, storage, now, *args, env=None):
        Proxy.count += 1
        self.log = os.path.join(WORK, "proxy%d.log" % Proxy.count)
        cmd = [PROXY, "--listen", "127.0.0.1:0", "--root-ca", root] + \
            (["--storage-dir", storage] if storage else []) + ["--now", str(now)] + list(args)
        self.proc = subprocess.Popen(cmd, stderr=open(self.log, "w"),
                                     env=dict(os.environ, **(env or {})))
        procs.append(self.proc)
        m = wait_for(self.log, r"event=collateral.serving port=(\d+)", self.proc)
        self.port = int(m.group(1)) if m else 0
        if not m:
            print(open(self.log).read())

    def get(self, target, method="GET", headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.putrequest(method, target, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            c.putheader(k, v)
        c.endheaders()
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body

    def metric(self, name):
        _, _, body = self.get("/metrics")
        m = re.search(r"^" + re.escape(name) + r" (\S+)$", body.decode(), re.M)
        return float(m.group(1)) if m else None

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=20)


def set_facts(name):
    d = os.path.join(SETS, name)
    exp = json.load(open(os.path.join(d, "expected.json")))
    tcb = json.loads(read(os.path.join(d, "tcb_info.json")))["tcbInfo"]
    tee = "tdx" if tcb.get("id") == "TDX" else "sgx"
    ca = "platform" if b"Platform CA" in subprocess.run(
        ["openssl", "crl", "-inform", "der", "-in", os.path.join(d, "pck_crl.der"), "-noout",
         "-issuer"], capture_output=True).stdout else "processor"
    return d, exp, tee, tcb["fmspc"], ca


def endpoints(tee, fmspc, ca):
    """(request target, body file, chain file, issuer chain headers)"""
    tcb_headers = ["TCB-Info-Issuer-Chain"] + (["SGX-TCB-Info-Issuer-Chain"] if tee == "sgx" else [])
    return [
        ("/%s/certification/v4/tcb?fmspc=%s" % (tee, fmspc), "tcb_info.json",
         "tcb_info_issuer_chain.pem", tcb_headers),
        ("/%s/certification/v4/qe/identity" % tee, "qe_identity.json",
         "qe_identity_issuer_chain.pem", ["SGX-Enclave-Identity-Issuer-Chain"]),
        ("/sgx/certification/v4/pckcrl?ca=%s&encoding=der" % ca, "pck_crl.der",
         "pck_crl_issuer_chain.pem", ["SGX-PCK-CRL-Issuer-Chain"]),
        ("/sgx/certification/v4/rootcacrl", "root_ca_crl.der", None, []),
    ]


def pck_query(exp):
    """pckcert's parameters for the set's platform: its QE ID (the quote header's user data)
    and the TCB its PCK certificate is for (PCESVN little-endian, as sent)."""
    pck = exp["pck"]
    pcesvn = "%02x%02x" % (pck["pcesvn"] & 255, pck["pcesvn"] >> 8)
    target = "/sgx/certification/v4/pckcert?qeid=%s&cpusvn=%s&pcesvn=%s&pceid=%s" % (
        exp["header"]["user_data"][:32], pck["cpusvn"], pcesvn, pck["pceid"])
    return target, (pck["cpusvn"] + pcesvn).upper(), pck["fmspc"].upper()


def pck_leaf(d):
    chain = read(os.path.join(d, "pck_chain.pem"))
    end = b"-----END CERTIFICATE-----\n"
    return chain[:chain.index(end) + len(end)]


def raise_tcb(target):
    """The pckcert target with every CPUSVN component one higher and PCESVN 0xfffe."""
    m = re.search(r"cpusvn=([0-9a-f]{32})&pcesvn=([0-9a-f]{4})", target)
    up = bytes(min(b + 1, 255) for b in bytes.fromhex(m.group(1))).hex()
    return target.replace(m.group(0), "cpusvn=%s&pcesvn=feff" % up)


def lower_tcb(target):
    """The pckcert target with the first CPUSVN component one lower."""
    m = re.search(r"cpusvn=([0-9a-f]{2})", target)
    return target.replace(m.group(0), "cpusvn=%02x" % (int(m.group(1), 16) - 1), 1)


def check_pck(name, p, d, exp, ca, what):
    target, tcbm, fmspc = pck_query(exp)
    st, h, body = p.get(target)
    chain = read(os.path.join(d, "pck_chain.pem"))
    end = b"-----END CERTIFICATE-----\n"
    leaf, rest = chain[:chain.index(end) + len(end)], chain[chain.index(end) + len(end):]
    check(st == 200 and body == leaf, "%s pckcert (%s): the PCK certificate" % (name, what), (st, body[:200]))
    check(h.get("sgx-pck-certificate-issuer-chain") == intel_quote(rest.decode()),
          "%s pckcert (%s): SGX-PCK-Certificate-Issuer-Chain" % (name, what))
    check(h.get("sgx-tcbm") == tcbm and h.get("sgx-fmspc") == fmspc and
          h.get("sgx-pck-certificate-ca-type") == ca,
          "%s pckcert (%s): SGX-TCBm, SGX-FMSPC, SGX-PCK-Certificate-CA-Type" % (name, what), h)


def every_set():
    """Each endpoint byte for byte, fetched lazily then from the cache, and the verifier
    through the proxy, for every shared set."""
    for name in sorted(os.listdir(SETS)):
        if not os.path.isfile(os.path.join(SETS, name, "expected.json")):
            continue
        d, exp, tee, fmspc, ca = set_facts(name)
        up = Standin(d, name)
        p = Proxy(os.path.join(d, "intel_root_ca.pem"), os.path.join(WORK, name + "-store"),
                  exp["verify_at"], "--upstream-url", up.url)
        for rnd in ("fetched", "cached"):
            for target, body_file, chain_file, headers in endpoints(tee, fmspc, ca):
                st, h, body = p.get(target)
                what = "%s %s (%s)" % (name, target, rnd)
                check(st == 200 and body == read(os.path.join(d, body_file)),
                      what + ": body byte-equal", (st, body[:200]))
                for hn in headers:
                    pem = read(os.path.join(d, chain_file)).decode()
                    got = h.get(hn.lower(), "")
                    check(got == intel_quote(pem) and urllib.parse.unquote(got) == pem,
                          what + ": " + hn + " is the chain file, URL-encoded as PCS does",
                          got[:100])
                check(re.fullmatch(r"[0-9a-f]{32}", h.get("request-id", "")) is not None,
                      what + ": Request-ID")
        check(len(up.requests()) == 4, name + ": four upstream fetches, then cache hits",
              up.requests())
        check_pck(name, p, d, exp, ca, "fetched")
        check_pck(name, p, d, exp, ca, "cached")
        check(len(up.requests()) == 5, name + ": one pckcert fetch", up.requests())
        # the verifier, unchanged, against the proxy
        cache = os.path.join(WORK, name + "-verifier")
        r = subprocess.run([KUBETEE, "attest", "verify", "--quote", os.path.join(d, "quote.dat"),
                            "--pccs", "http://127.0.0.1:%d" % p.port, "--root",
                            os.path.join(d, "intel_root_ca.pem"), "--cache", cache, "--at",
                            str(exp["verify_at"]), "--json"], capture_output=True, text=True)
        try:
            v = json.loads(r.stdout)["verdict"]
        except ValueError:
            v = {}
        if exp["expected_result"] == "OK":
            check(v.get("ok") is True and v.get("tcb_status") == exp["tcb_status"],
                  name + ": kubetee attest verify --pccs through the proxy: " + exp["tcb_status"],
                  r.stdout + r.stderr)
        else:
            check(v.get("ok") is False and "TCB level not supported" in v.get("reason", ""),
                  name + ": kubetee attest verify --pccs through the proxy fails as expected",
                  r.stdout + r.stderr)
        check(len(up.requests()) == 5, name + ": the verifier's requests were all cache hits",
              up.requests())
        check(p.metric("kubetee_collateral_hits_total") >= 8, name + ": hits counted")
        # a raw TCB no answer is held for, upstream down: PCK certificate selection among
        # the platform's certificates held serves the one at or below it
        up.fault("down /pckcert")
        higher = raise_tcb(pck_query(exp)[0])
        st, h, body = p.get(higher)
        target, tcbm, _ = pck_query(exp)
        check(st == 200 and body == pck_leaf(d) and h.get("sgx-tcbm") == tcbm,
              name + ": upstream down, a higher raw TCB gets the held certificate (its TCBm)",
              (st, h.get("sgx-tcbm"), body[:200]))
        st, _, body = p.get(lower_tcb(target))
        check(st == 503 and b"HTTP 503" in body and b"no PCK certificate at or below" in body,
              name + ": upstream down, a lower raw TCB gets none (503, both reasons)", (st, body))
        up.fault("")
        if tee == "tdx":
            st, _, body = p.get("/sgx/certification/v4/qe/identity")
            check(st == 502 and b"is TD_QE, not QE" in body,
                  name + ": a TD_QE identity upstream sends for SGX's QE is refused", body)
        check(p.stop() == 0, name + ": SIGTERM stops the proxy cleanly")
        check("event=collateral.stopped" in open(p.log).read(), name + ": logged its stop")
        up.stop()


BASE = "sgx-v3-dcapqvl-cfg-swhardening"


def faults():
    """What upstream sends that does not verify is refused and never cached or stored."""
    d, exp, tee, fmspc, ca = set_facts(BASE)
    root = os.path.join(d, "intel_root_ca.pem")
    tcb = "/sgx/certification/v4/tcb?fmspc=" + fmspc
    qe = "/sgx/certification/v4/qe/identity"
    crl = "/sgx/certification/v4/pckcrl?ca=processor&encoding=der"
    cases = [
        ("tamper /tcb", tcb, 502, "signature does not verify"),
        ("reorder /tcb", tcb, 502, "its last certificate is not the anchor"),
        ("nochain /tcb", tcb, 502, "no TCB-Info-Issuer-Chain header"),
        ("tamper /qe/identity", qe, 502, "signature does not verify"),
        ("expired /qe/identity", qe, 502, "not valid at"),
        ("tamper /pckcrl", crl, 502, "PCK CRL"),
        ("reorder /pckcrl", crl, 502, "PCK CRL issuer chain"),
        ("tamper /rootcacrl", tcb, 503, "no valid root CA CRL"),
        ("tamper /pckcert", pck_query(exp)[0], 502, "PCK certificate"),
        ("reorder /pckcert", pck_query(exp)[0], 502, "PCK certificate"),
        ("down /tcb", tcb, 503, "HTTP 503"),
        ("missing /tcb", tcb, 404, "HTTP 404"),
    ]
    for i, (fault, target, code, why) in enumerate(cases):
        up = Standin(d, "fault%d" % i)
        up.fault(fault, os.path.join(SETS, "sgx-v3-mobilecoin-debug-qe-outofdate"))
        store = os.path.join(WORK, "fault%d-store" % i)
        p = Proxy(root, store, exp["verify_at"], "--upstream-url", up.url)
        st, h, body = p.get(target)
        check(st == code and why.encode() in body, "upstream fault '%s': %d naming it" % (fault, code),
              (st, body))
        key = {"tcb": "sgx-tcb-", "qe/i": "sgx-qe", "pckcrl": "pckcrl-", "pckcert": "pckcert-"}
        bad = [k for t, k in key.items() if t in target][0]
        if fault.startswith("tamper /rootcacrl"):
            bad = "rootcacrl"
        check(not [f for f in os.listdir(store) if f.startswith(bad)],
              "upstream fault '%s': nothing stored" % fault, os.listdir(store))
        reason = "upstream_not_found" if code == 404 else (
            "upstream_unverified" if code == 502 else "upstream_unavailable")
        check(p.metric('kubetee_collateral_refusals_total{reason="%s"}' % reason) == 1,
              "upstream fault '%s': counted as %s" % (fault, reason))
        up.fault("")
        st, _, body = p.get(target)
        check(st == 200, "upstream fault '%s': once upstream is right, the real item is served" % fault,
              (st, body))
        p.stop()
        up.stop()
    # stale at the proxy's time: the TCB Info of the same FMSPC from nine months earlier
    late = "tdx-v5-td15-dcapqvl-tcb-not-supported"
    ld, lexp, _, lfmspc, _ = set_facts(late)
    up = Standin(ld, "stale")
    up.fault("expired /tcb", os.path.join(SETS, "tdx-v5-td15-automata-uptodate"))
    p = Proxy(os.path.join(ld, "intel_root_ca.pem"), os.path.join(WORK, "stale-store"),
              lexp["verify_at"], "--upstream-url", up.url)
    st, _, body = p.get("/tdx/certification/v4/tcb?fmspc=" + lfmspc)
    check(st == 502 and b"not valid at" in body, "expired TCB Info from upstream refused", body)
    check(not [f for f in os.listdir(os.path.join(WORK, "stale-store")) if "tcb" in f],
          "expired TCB Info not stored")
    p.stop()
    up.stop()


def freshness():
    """Upstream down: the cached item serves until its own validity ends, then a clear
    refusal; a grace window, off by default, serves past it marked and counted."""
    d, exp, tee, fmspc, ca = set_facts(BASE)
    root = os.path.join(d, "intel_root_ca.pem")
    store = os.path.join(WORK, "fresh-store")
    tcb = "/sgx/certification/v4/tcb?fmspc=" + fmspc
    up = Standin(d, "fresh")
    p = Proxy(root, store, exp["verify_at"], "--upstream-url", up.url)
    check(p.get(tcb)[0] == 200, "freshness: fetched once")
    _, _, m = p.get("/metrics")
    margin = re.search(r'kubetee_collateral_next_update_margin_seconds\{item="sgx-tcb-%s"\} (\S+)'
                       % fmspc.lower(), m.decode())
    p.stop()
    up.stop()
    check(margin is not None, "freshness: the nextUpdate margin is exported", m[-800:])
    valid_to = exp["verify_at"] + int(float(margin.group(1)))
    next_update = json.loads(read(os.path.join(d, "tcb_info.json")))["tcbInfo"]["nextUpdate"]
    check(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(valid_to)) == next_update,
          "freshness: the margin ends at the TCB Info's nextUpdate (%s)" % next_update)
    dead = "http://127.0.0.1:9"  # nothing listens: upstream is down
    p = Proxy(root, store, valid_to, "--upstream-url", dead)
    st, _, body = p.get(tcb)
    check(st == 200 and body == read(os.path.join(d, "tcb_info.json")),
          "freshness: upstream down, served at its last valid second", (st, body[:200]))
    p.stop()
    p = Proxy(root, store, valid_to + 1, "--upstream-url", dead)
    st, h, body = p.get(tcb)
    check(st == 503 and b"expired at" in body and "kubetee-collateral-grace" not in h,
          "freshness: one second past, refused with a clear status", (st, body))
    check(p.metric('kubetee_collateral_refusals_total{reason="expired"}') == 1,
          "freshness: counted as expired")
    p.stop()
    p = Proxy(root, store, valid_to + 1, "--upstream-url", dead, "--grace", "3600")
    st, h, body = p.get(tcb)
    check(st == 200 and h.get("kubetee-collateral-grace", "").startswith("expired "),
          "freshness: inside the grace window, served and marked", (st, h))
    check(p.metric("kubetee_collateral_grace_served_total") == 1, "freshness: grace counted")
    p.stop()
    p = Proxy(root, store, valid_to + 3601, "--upstream-url", dead, "--grace", "3600")
    check(p.get(tcb)[0] == 503, "freshness: past the grace window, refused")
    p.stop()


def queries():
    d, exp, tee, fmspc, ca = set_facts(BASE)
    store = os.path.join(WORK, "query-store")
    r = subprocess.run([PROXY, "import", "--root-ca", os.path.join(d, "intel_root_ca.pem"),
                        "--storage-dir", store, "--dir", d, "--now", str(exp["verify_at"])],
                       capture_output=True, text=True)
    check(r.returncode == 0, "offline: import of a collateral directory", r.stderr)
    p = Proxy(os.path.join(d, "intel_root_ca.pem"), store, exp["verify_at"], "--mode", "offline")
    t = "/sgx/certification/v4/tcb"
    for target, code, why in [
        (t + "?fmspc=%s&fmspc=%s" % (fmspc, fmspc), 400, "parameter given twice: 'fmspc'"),
        (t + "?fmspc=%s&tcbEvaluationDataNumber=17&update=standard" % fmspc, 400,
         "update and tcbEvaluationDataNumber cannot be used together"),
        (t + "?FMSPC=" + fmspc, 400, "unknown parameter 'FMSPC'"),
        (t + "?fmspc=" + fmspc[:-1], 400, "fmspc must be 12 hex digits"),
        (t + "?fmspc=" + fmspc + "0", 400, "fmspc must be 12 hex digits"),
        (t + "?fmspc=00A06711000G", 400, "fmspc must be 12 hex digits"),
        (t + "?fmspc=%30" + fmspc[1:], 400, "fmspc must be 12 hex digits"),
        (t, 400, "missing parameter 'fmspc'"),
        (t + "?", 400, "empty query"),
        (t + "?fmspc=%s&" % fmspc, 400, "empty parameter"),
        (t + "?fmspc", 400, "parameter without a value"),
        (t + "?fmspc=%s&update=Early" % fmspc, 400, "update must be early or standard"),
        (t + "?fmspc=%s&update=early" % fmspc, 404, "not cached"),
        ("/sgx/certification/v4/pckcrl?ca=Processor", 400, "ca must be processor or platform"),
        ("/sgx/certification/v4/pckcrl?ca=processor&encoding=DER", 400, "encoding must be der or pem"),
        ("/sgx/certification/v4/pckcrl", 400, "missing parameter 'ca'"),
        ("/sgx/certification/v4/qe/identity?fmspc=" + fmspc, 400, "unknown parameter 'fmspc'"),
        ("/sgx/certification/v4/rootcacrl?ca=processor", 400, "unknown parameter 'ca'"),
        ("/sgx/certification/v4/unknown%0aline", 404, "no such path '/sgx/certification/v4/unknown%0aline'"),
        ("/sgx/certification/v4/tcb/?fmspc=" + fmspc, 404, "no such path"),
        ("/sgx/certification/v2/tcb?fmspc=" + fmspc, 404, "no such path"),
        ("/tdx/certification/v3/tcb?fmspc=" + fmspc, 404, "no such path"),
        ("/sgx/certification/v3/tcb?fmspc=%s&update=early" % fmspc, 400, "unknown parameter 'update'"),
        ("/sgx/certification/v3/qe/identity?tcbEvaluationDataNumber=17", 400,
         "unknown parameter 'tcbEvaluationDataNumber'"),
        ("/sgx/certification/v3/fmspcs", 404, "no such path"),
        ("/sgx/certification/v3/tcb?fmspc=" + fmspc, 404, "sgx-tcb-%s-v3: not cached" % fmspc.lower()),
        ("/tdx/certification/v4/pckcrl?ca=platform", 404, "no such path"),
        ("/sgx/certification/v4/pckcert?qeid=%s&cpusvn=%s&pcesvn=0d00&pceid=0000&encrypted_ppid=00"
         % ("00" * 16, "00" * 16), 400, "encrypted_ppid must be 768 hex digits"),
        ("/sgx/certification/v4/pckcert?qeid=%s&cpusvn=%s&pcesvn=0d0&pceid=0000" % ("00" * 16, "00" * 16),
         400, "pcesvn must be 4 hex digits"),
        ("/sgx/certification/v4/pckcert?cpusvn=%s&pcesvn=0d00&pceid=0000" % ("00" * 16), 400,
         "missing parameter 'qeid'"),
        ("/sgx/certification/v4/tcb?fmspc=" + fmspc.lower(), 200, ""),
    ]:
        st, _, body = p.get(target)
        check(st == code and why.encode() in body, "query %s -> %d %s" % (target, code, why),
              (st, body))
    # a NUL in the target would hide what follows it from the handler
    import socket
    sk = socket.create_connection(("127.0.0.1", p.port), timeout=10)
    sk.sendall(b"GET /sgx/certification/v4/tcb?fmspc=" + fmspc.encode() + b"\x00&bogus=1 HTTP/1.1\r\n"
               b"Host: x\r\nConnection: close\r\n\r\n")
    raw = b""
    while True:
        chunk = sk.recv(65536)
        if not chunk:
            break
        raw += chunk
    sk.close()
    check(raw.startswith(b"HTTP/1.1 400"), "a NUL in the request target is refused", raw[:200])
    st, _, body = p.get("/sgx/certification/v4/pckcrl?ca=processor")
    der = subprocess.run(["openssl", "crl", "-outform", "der"], input=body, capture_output=True)
    check(st == 200 and body.startswith(b"-----BEGIN X509 CRL-----\n") and
          der.stdout == read(os.path.join(d, "pck_crl.der")),
          "pckcrl without encoding: PEM of the same CRL (Intel PCS's default)", body[:80])
    check(p.get("/sgx/certification/v4/rootcacrl", "POST")[0] == 405, "POST is refused")
    check(p.metric('kubetee_collateral_refusals_total{reason="bad_request"}') >= 15,
          "bad requests counted")
    _, _, m = p.get("/metrics")
    fams = re.findall(r"^# TYPE (\S+)", m.decode(), re.M)
    names = [l.split("{")[0].split(" ")[0] for l in m.decode().splitlines() if l and l[0] != "#"]
    grouped = [n for i, n in enumerate(names) if i == 0 or names[i - 1] != n]
    check(len(fams) == len(set(fams)) and grouped == fams, "metrics: each family grouped once", fams)
    try:
        parsed = prom.parse(m.decode())
        check(parsed.get(("kubetee_collateral_items", frozenset())) == 4,
              "metrics: Prometheus's parser reads them", parsed)
    except AssertionError as e:
        check(False, "metrics: Prometheus's parser reads them", e)
    check(p.get("/healthz")[0] == 200 and p.get("/readyz")[0] == 200, "healthz and readyz")
    p.stop()
    # storage is verified again when read: a stored item changed on disk is not served
    path = os.path.join(store, "sgx-tcb-%s.item" % fmspc.lower())
    data = read(path)
    with open(path, "wb") as f:
        f.write(tamper(data))
    p = Proxy(os.path.join(d, "intel_root_ca.pem"), store, exp["verify_at"], "--mode", "offline")
    st, _, body = p.get("/sgx/certification/v4/tcb?fmspc=" + fmspc)
    check(st == 404 and p.metric('kubetee_collateral_refusals_total{reason="store_unverified"}') == 1,
          "a stored item tampered on disk is refused, not served", (st, body))
    check(p.get("/sgx/certification/v4/qe/identity")[0] == 200, "the untouched items still serve")
    p.stop()


def tamper(data):
    """One TCB Info field changed, its signature left as it was."""
    return re.sub(rb'"tcbEvaluationDataNumber":(\d)', lambda m: b'"tcbEvaluationDataNumber":%d'
                  % ((int(m.group(1)) + 1) % 10), data, count=1)


def offline():
    """export from one proxy's storage, import into another's; a tampered or truncated
    export is refused whole."""
    d, exp, tee, fmspc, ca = set_facts(BASE)
    root = os.path.join(d, "intel_root_ca.pem")
    now = str(exp["verify_at"])
    src = os.path.join(WORK, "export-src")
    subprocess.run([PROXY, "import", "--root-ca", root, "--storage-dir", src, "--dir", d, "--now", now],
                   capture_output=True)
    exp_file = os.path.join(WORK, "collateral.export")
    r = subprocess.run([PROXY, "export", "--root-ca", root, "--storage-dir", src, "--out", exp_file,
                        "--now", now], capture_output=True, text=True)
    check(r.returncode == 0 and read(exp_file).startswith(b"kubetee-collateral-export 1\n"),
          "export", r.stderr)
    dst = os.path.join(WORK, "export-dst")
    r = subprocess.run([PROXY, "import", "--root-ca", root, "--storage-dir", dst, "--in", exp_file,
                        "--now", now], capture_output=True, text=True)
    check(r.returncode == 0 and len(os.listdir(dst)) == 4, "import of the export", r.stderr)
    p = Proxy(root, dst, exp["verify_at"], "--mode", "offline")
    st, _, body = p.get("/sgx/certification/v4/tcb?fmspc=" + fmspc)
    check(st == 200 and body == read(os.path.join(d, "tcb_info.json")), "offline: imported item served")
    p.stop()
    data = read(exp_file)
    check(tamper(data) != data, "the tampering changes the export")
    for what, bad in [("tampered", tamper(data)),
                      ("truncated", data[:-10]),
                      ("unknown-key", data.replace(b"KTCI1 sgx-qe", b"KTCI1 sgx-qx"))]:
        bad_file = os.path.join(WORK, "bad.export")
        with open(bad_file, "wb") as f:
            f.write(bad)
        empty = os.path.join(WORK, "import-" + what.replace(" ", "-"))
        r = subprocess.run([PROXY, "import", "--root-ca", root, "--storage-dir", empty, "--in",
                            bad_file, "--now", now], capture_output=True, text=True)
        check(r.returncode == 1 and "import refused" in r.stderr and not os.listdir(empty),
              "a %s export is refused and nothing of it stored" % what, r.stderr)
    # another root entirely: the anchor is pinned, not taken from the file
    r = subprocess.run([PROXY, "import", "--root-ca", os.path.join(d, "negative", "untrusted_root_ca.pem"),
                        "--storage-dir", os.path.join(WORK, "import-other-root"), "--in", exp_file,
                        "--now", now], capture_output=True, text=True)
    check(r.returncode == 1 and "import refused" in r.stderr, "an export under another root is refused",
          r.stderr)
    # out of order: an older root CA CRL never replaces a newer one (both valid 2025-03-25)
    old = os.path.join(SETS, "sgx-v3-mobilecoin-debug-qe-outofdate")
    st = os.path.join(WORK, "rollback")
    both = "1742860800"
    def crl_export(path, crl):
        with open(path, "wb") as f:
            f.write(b"kubetee-collateral-export 1\nKTCI1 rootcacrl 0 0 %d\n" % len(crl) + crl)
    rb = os.path.join(WORK, "rollback.export")
    crl_export(rb, read(os.path.join(d, "root_ca_crl.der")))
    r = subprocess.run([PROXY, "import", "--root-ca", root, "--storage-dir", st, "--in", rb,
                        "--now", both], capture_output=True, text=True)
    check(r.returncode == 0, "the newer root CA CRL imported", r.stderr)
    crl_export(rb, read(os.path.join(old, "root_ca_crl.der")))
    r = subprocess.run([PROXY, "import", "--root-ca", root, "--storage-dir", st, "--in", rb,
                        "--now", both], capture_output=True, text=True)
    check(r.returncode == 1 and "older than the cached one" in r.stderr,
          "an older root CA CRL after a newer one is refused", r.stderr)
    check(read(os.path.join(st, "rootcacrl.item")).endswith(read(os.path.join(d, "root_ca_crl.der"))),
          "the newer root CA CRL stays stored")


def registration():
    """OFFLINE platform registration from a quote: its PCK certificate served by QE ID and
    TCB; another TCB, another platform, or a quote under another root is not."""
    for name in sorted(os.listdir(SETS)):
        if not os.path.isfile(os.path.join(SETS, name, "expected.json")):
            continue
        d, exp, tee, fmspc, ca = set_facts(name)
        root = os.path.join(d, "intel_root_ca.pem")
        store = os.path.join(WORK, name + "-reg")
        now = str(exp["verify_at"])
        r = subprocess.run([PROXY, "import", "--root-ca", root, "--storage-dir", store, "--quote",
                            os.path.join(d, "quote.dat"), "--now", now], capture_output=True, text=True)
        check(r.returncode == 1 and "no valid pckcrl-" in r.stderr,
              name + ": registration needs its CA's PCK CRL first", r.stderr)
        subprocess.run([PROXY, "import", "--root-ca", root, "--storage-dir", store, "--dir", d,
                        "--now", now], capture_output=True)
        r = subprocess.run([PROXY, "import", "--root-ca", root, "--storage-dir", store, "--quote",
                            os.path.join(d, "quote.dat"), "--now", now], capture_output=True, text=True)
        check(r.returncode == 0 and "collateral.platform_registered" in r.stderr,
              name + ": platform registered from its quote", r.stderr)
        p = Proxy(root, store, exp["verify_at"], "--mode", "offline")
        check_pck(name, p, d, exp, ca, "registered")
        target, tcbm, _ = pck_query(exp)
        # PCK certificate selection: a raw TCB at or above the certificate's gets it (its
        # own TCBm in SGX-TCBm); one below it in any component or the PCESVN gets none
        other = target.replace("cpusvn=" + exp["pck"]["cpusvn"], "cpusvn=" + "ff" * 16)
        for t, what in ((other, "CPUSVN all ff"), (raise_tcb(target), "every component one higher")):
            st, h, body = p.get(t)
            check(st == 200 and body == pck_leaf(d) and h.get("sgx-tcbm") == tcbm and
                  h.get("sgx-fmspc") == fmspc.upper() and h.get("sgx-pck-certificate-ca-type") == ca,
                  name + ": selection for a higher raw TCB (%s) serves the certificate" % what,
                  (st, h, body[:100]))
        st, _, body = p.get(lower_tcb(target))
        check(st == 404 and b"no PCK certificate at or below" in body,
              name + ": a raw TCB below the certificate's gets none", body)
        st, _, body = p.get(re.sub(r"pcesvn=[0-9a-f]{4}", "pcesvn=0000", other))
        check(st == 404 and b"no PCK certificate at or below" in body,
              name + ": a PCESVN below the certificate's gets none", body)
        st, _, body = p.get(re.sub(r"qeid=[0-9a-f]{32}", "qeid=" + "ee" * 16, other))
        check(st == 404, name + ": another platform's is not there", body)
        st, _, body = p.get(other.replace("pceid=0000", "pceid=0100"))
        check(st == 404, name + ": another PCE ID's is not there", body)
        p.stop()
    d, exp, tee, fmspc, ca = set_facts(BASE)
    target = pck_query(exp)[0]
    p = Proxy(os.path.join(d, "intel_root_ca.pem"), os.path.join(WORK, "query-store"),
              exp["verify_at"], "--mode", "offline")
    st, _, body = p.get(target.split("&pceid")[0])
    check(st == 400 and b"missing parameter 'pceid'" in body, "pckcert without pceid", body)
    p.stop()


def reg_body(exp, **change):
    """PCCS's platform registration body for the set's platform (the PCK ID retrieval
    tool's fields), with changes."""
    pck = exp["pck"]
    b = {"qe_id": exp["header"]["user_data"][:32], "pce_id": pck["pceid"], "cpu_svn": pck["cpusvn"],
         "pce_svn": "%02x%02x" % (pck["pcesvn"] & 255, pck["pcesvn"] >> 8), "enc_ppid": "ab" * 384}
    b.update(change)
    return json.dumps({k: v for k, v in b.items() if v is not None})


def platforms():
    """REQ mode: POST /sgx/certification/v4/platforms (PCCS's body) with the admin token
    fetches the platform's PCK certificate(s) and collateral, verified and stored; nothing
    is fetched on a GET miss; pckcerts lists the registered platform's certificates; user
    tokens; bad bodies named."""
    d, exp, tee, fmspc, ca = set_facts(BASE)
    root = os.path.join(d, "intel_root_ca.pem")
    token = os.path.join(WORK, "admin.token")
    with open(token, "w") as f:
        f.write("s3cret-admin\n")
    up = Standin(d, "req")
    p = Proxy(root, os.path.join(WORK, "req-store"), exp["verify_at"], "--mode", "req",
              "--upstream-url", up.url, "--admin-token-file", token)
    target, tcbm, _ = pck_query(exp)
    st, _, body = p.get(target)
    check(st == 503 and b"req mode: fetched when a platform is registered" in body and not up.requests(),
          "req: before any registration nothing is fetched (not even the root CA CRL)", (st, body, up.requests()))
    reg = "/sgx/certification/v4/platforms"
    good = reg_body(exp)
    for headers, what in (({}, "no admin-token"), ({"admin-token": "s3cret-admi"}, "a prefix of it"),
                          ({"admin-token": "s3cret-admin2"}, "a longer one"),
                          ({"user-token": "s3cret-admin"}, "it as user-token")):
        st, body = post(p.port, reg, good, headers)
        check(st == 401 and body == b"Authentication failed.\n" and not up.requests(),
              "req: registration with %s refused, nothing fetched" % what, (st, body))
    admin = {"admin-token": "s3cret-admin"}
    for body_, why in (("{", "body is not JSON"), ("[]", "not a JSON object"),
                       (reg_body(exp)[:-1] + ', "bogus": 1}', "unknown key 'bogus'"),
                       (reg_body(exp)[:-1] + ', "qe_id": "%s"}' % ("00" * 16), "duplicate"),
                       (reg_body(exp, qe_id="00" * 15), "'qe_id' must be a string of 32 hex digits"),
                       (reg_body(exp, pce_svn="0g00"), "'pce_svn' must be a string of 4 hex digits"),
                       (reg_body(exp, enc_ppid=None), "missing 'enc_ppid'"),
                       (reg_body(exp, cpu_svn=7), "'cpu_svn' must be a string"),
                       (reg_body(exp, platform_manifest="0g"),
                        "'platform_manifest' must be a string of at most 65536 hex digits"),
                       (reg_body(exp, enc_ppid=None, platform_manifest=""), "missing 'enc_ppid' (or a "
                        "'platform_manifest')")):
        st, body = post(p.port, reg, body_, admin)
        check(st == 400 and why.encode() in body, "req: a bad registration body is refused naming it (%s)" % why,
              (st, body))
    c = http.client.HTTPConnection("127.0.0.1", p.port, timeout=30)
    c.request("POST", reg, body=good, headers=dict(admin, **{"Content-Type": "text/plain"}))
    r = c.getresponse()
    check(r.status == 415, "req: registration must be application/json", r.status)
    r.read()
    c.close()
    check(not up.requests(), "req: no refused registration fetched anything", up.requests())
    st, body = post(p.port, reg, good, admin)
    check(st == 200 and body == b"Operation successful.\n", "req: the platform registered", (st, body))
    asked = up.requests()
    check([r for r in asked if "/pckcert?" in r and "qeid=" in r and "encrypted_ppid=" + "ab" * 384 in r] and
          [r for r in asked if "/tcb?fmspc=" + fmspc.lower() in r.lower()] and
          [r for r in asked if "/qe/identity" in r] and [r for r in asked if "/pckcrl" in r] and
          [r for r in asked if "/rootcacrl" in r],
          "req: registration fetched its PCK certificate, TCB Info, QE identity, PCK CRL, root CA CRL", asked)
    stored = os.listdir(os.path.join(WORK, "req-store"))
    check([f for f in stored if f.startswith("pckcert-")] and [f for f in stored if f.startswith("sgx-tcb-")],
          "req: what registration fetched is stored", stored)
    n = len(up.requests())
    st, h, body = p.get(target)
    check(st == 200 and body == pck_leaf(d) and h.get("sgx-tcbm") == tcbm,
          "req: the registered platform's pckcert served", (st, body[:100]))
    st, h, body = p.get(raise_tcb(target))
    check(st == 200 and body == pck_leaf(d) and h.get("sgx-tcbm") == tcbm,
          "req: a higher raw TCB of it served by selection", (st, body[:100]))
    st, _, body = p.get("/sgx/certification/v4/tcb?fmspc=00906ed50000")
    check(st == 404 and b"req mode" in body, "req: another FMSPC's TCB Info not fetched on a miss", body)
    check(len(up.requests()) == n, "req: GETs fetched nothing", up.requests()[n:])
    st, _, body = p.get(target.replace(exp["header"]["user_data"][:32], "ee" * 16))
    check(st == 404 and b"req mode: fetched when a platform is registered" in body,
          "req: an unregistered platform's pckcert is not fetched", body)
    # pckcerts: the registered platform's certificates, as Intel PCS lists them
    pc = "/sgx/certification/v4/pckcerts?encrypted_ppid=%s&pceid=0000" % ("AB" * 384)
    st, h, body = p.get(pc)
    try:
        lst = json.loads(body)
    except ValueError:
        lst = None
    pck = exp["pck"]
    want_tcb = {"sgxtcbcomp%02dsvn" % (i + 1): v for i, v in enumerate(pck["sgx_tcb_components"])}
    want_tcb["pcesvn"] = pck["pcesvn"]
    check(st == 200 and lst == [{"tcb": want_tcb, "tcbm": tcbm, "cert": intel_quote(pck_leaf(d).decode())}] and
          h.get("sgx-fmspc") == fmspc.upper() and h.get("sgx-pck-certificate-ca-type") == ca and
          urllib.parse.unquote(h.get("sgx-pck-certificate-issuer-chain", "")) ==
          read(os.path.join(d, "pck_chain.pem")).decode()[len(pck_leaf(d)):],
          "req: pckcerts lists the platform's certificate with its TCB, TCBm and chain", (st, h, body[:300]))
    st, _, body = p.get(pc.replace("AB" * 384, "CD" * 384))
    check(st == 404 and b"platform not registered" in body, "req: pckcerts of an unregistered platform", body)
    for q_, why in ((pc.replace("&pceid=0000", ""), b"missing parameter 'pceid'"),
                    (pc.replace("AB" * 384, "AB" * 383), b"encrypted_ppid must be 768 hex digits"),
                    (pc + "&qeid=" + "00" * 16, b"unknown parameter 'qeid'")):
        st, _, body = p.get(q_)
        check(st == 400 and why in body, "req: a bad pckcerts query refused naming it", body)
    p.stop()
    up.stop()
    # the registration is stored: pckcerts finds the platform after a restart; a changed
    # registration record is refused on load (counted), and the platform is then unknown
    store = os.path.join(WORK, "req-store")
    regs = [f for f in os.listdir(store) if f.startswith("platform-")]
    check(regs == ["platform-%s-0000.item" % exp["header"]["user_data"][:32]],
          "req: the registration stored under its QE ID and PCE ID", regs)
    p = Proxy(root, store, exp["verify_at"], "--mode", "offline")
    st, _, body = p.get(pc)
    check(st == 200 and json.loads(body)[0]["tcbm"] == tcbm, "req: pckcerts after a restart", (st, body[:100]))
    p.stop()
    path = os.path.join(store, regs[0])
    rec = read(path)
    with open(path, "wb") as f:
        f.write(rec[:-1] + (b"0" if rec[-1:] != b"0" else b"1"))
    p = Proxy(root, store, exp["verify_at"], "--mode", "offline")
    st, _, body = p.get(pc)
    check(st == 404 and b"platform not registered" in body, "req: a changed registration record: no platform", body)
    p.stop()
    with open(path, "wb") as f:
        f.write(rec.replace(b"held {", b"kept {", 1))  # neither held nor queued
    p = Proxy(root, store, exp["verify_at"], "--mode", "offline")
    check(p.metric('kubetee_collateral_refusals_total{reason="store_unverified"}') == 1 and
          "collateral.store_item_refused item=" + regs[0][:-5] in open(p.log).read(),
          "req: a malformed registration record refused on load, counted and logged")
    p.stop()
    with open(path, "wb") as f:
        f.write(rec)
    # Intel PCS as upstream: pckcerts lists every certificate; each verified, the tcbm of
    # each matched to its certificate
    for fault, code, why in (("", 200, b"Operation successful"),
                             ("tcbm /pckcerts", 502, b"its tcbm is not its certificate's TCB"),
                             ("tamper /pckcerts", 502, b"pckcerts entry 0")):
        up = Standin(d, "reqpcs" + fault[:4], "pcs")
        with open(up.port_file + ".tcbm", "w") as f:
            f.write(tcbm.lower())
        up.fault(fault)
        store = os.path.join(WORK, "reqpcs-store" + fault[:4])
        p = Proxy(root, store, exp["verify_at"], "--mode", "req", "--upstream-url", up.url,
                  "--upstream-kind", "pcs", "--root-crl-url", up.url + "/IntelSGXRootCA.der",
                  env={"KT_COLLATERAL_ADMIN_TOKEN": "env-admin"})
        st, body = post(p.port, reg, good, {"admin-token": "env-admin"})
        check(st == code and why in body, "req pcs upstream '%s': registration %d" % (fault or "right", code),
              (st, body))
        asked = up.requests()
        check([r for r in asked if r.startswith("/sgx/certification/v4/pckcerts?encrypted_ppid=" + "ab" * 384 +
                                                "&pceid=0000")],
              "req pcs upstream '%s': pckcerts asked by encrypted PPID and PCE ID" % (fault or "right"), asked)
        held = [f for f in os.listdir(store) if f.startswith("pckcert-")]
        check(bool(held) == (code == 200), "req pcs upstream '%s': %s" % (
            fault or "right", "the certificate stored" if code == 200 else "nothing stored"), held)
        st, _, body = p.get(target)
        check((st == 200) == (code == 200), "req pcs upstream '%s': pckcert %s" % (
            fault or "right", "served" if code == 200 else "not served"), (st, body[:100]))
        p.stop()
        up.stop()
    # offline: no upstream to register with; the registration is queued for an admin
    p = Proxy(root, os.path.join(WORK, "req-offline"), exp["verify_at"], "--mode", "offline",
              env={"KT_COLLATERAL_ADMIN_TOKEN": "x"})
    st, body = post(p.port, reg, good, {"admin-token": "x"})
    st2, h, listed = p.get("/sgx/certification/v4/platforms", headers={"admin-token": "x"})
    check(st == 200 and st2 == 200 and json.loads(listed) == [json.loads(good) | {"platform_manifest": ""}] and
          h.get("platform-count") == "1",
          "offline: a registration over HTTP is queued, listed by GET /platforms", (st, body, listed[:200]))
    # no admin token configured: registration always refused
    p.stop()
    p = Proxy(root, os.path.join(WORK, "req-offline"), exp["verify_at"], "--mode", "offline")
    st, body = post(p.port, reg, good, {"admin-token": ""})
    check(st == 401 and "no admin token is configured" in open(p.log).read(),
          "no admin token configured: registration refused and logged", (st, body))
    p.stop()
    # user tokens: every GET then needs user-token
    utok = os.path.join(WORK, "user.token")
    with open(utok, "w") as f:
        f.write("u-token")
    p = Proxy(root, os.path.join(WORK, "req-store"), exp["verify_at"], "--mode", "offline",
              "--user-token-file", utok)
    tcb = "/sgx/certification/v4/tcb?fmspc=" + fmspc
    for headers, want in (({}, 401), ({"user-token": "u-toke"}, 401), ({"user-token": "u-token"}, 200),
                          ({"admin-token": "u-token"}, 401)):
        st, _, body = p.get(tcb, headers=headers)
        check(st == want, "user token %s: %d" % (headers or "absent", want), (st, body[:100]))
    st, _, body = p.get("/healthz")
    check(st == 200, "user token: /healthz stays open for probes", st)
    check(p.metric('kubetee_collateral_refusals_total{reason="unauthorized"}') == 3,
          "user token: refusals counted as unauthorized")
    p.stop()
    r = subprocess.run([PROXY, "--root-ca", root, "--storage-dir", os.path.join(WORK, "req-store"), "--mode",
                        "offline", "--listen", "127.0.0.1:0"], capture_output=True, text=True,
                       env=dict(os.environ, KT_COLLATERAL_USER_TOKEN="two words"), timeout=20)
    check(r.returncode == 2 and "KT_COLLATERAL_USER_TOKEN: the token must be one printable word" in r.stderr,
          "user token from the environment: a malformed one refused", r.stderr)
    r = subprocess.run([PROXY, "--root-ca", root, "--storage-dir", os.path.join(WORK, "req-store"), "--mode",
                        "nearby"], capture_output=True, text=True, timeout=20)
    check(r.returncode == 2 and "mode must be lazy, req or offline, not 'nearby'" in r.stderr,
          "config: a bad mode named with the modes allowed", r.stderr)
    r = subprocess.run([PROXY, "--root-ca", root, "--storage-dir", os.path.join(WORK, "req-store"), "--mode",
                        "req"], capture_output=True, text=True, timeout=20)
    check(r.returncode == 2 and "req mode needs upstream_url" in r.stderr, "config: req mode needs an upstream",
          r.stderr)


def eval_numbers():
    """tcbEvaluationDataNumber on tcb and the identities: asked of upstream, kept apart, and
    what comes back must be that evaluation's; the parameter checked strictly."""
    d, exp, tee, fmspc, ca = set_facts(BASE)
    root = os.path.join(d, "intel_root_ca.pem")
    tcb_n = json.loads(read(os.path.join(d, "tcb_info.json")))["tcbInfo"]["tcbEvaluationDataNumber"]
    qe_n = json.loads(read(os.path.join(d, "qe_identity.json")))["enclaveIdentity"]["tcbEvaluationDataNumber"]
    up = Standin(d, "evalnum")
    store = os.path.join(WORK, "evalnum-store")
    p = Proxy(root, store, exp["verify_at"], "--upstream-url", up.url)
    tcb = "/sgx/certification/v4/tcb?fmspc=" + fmspc
    st, _, body = p.get("%s&tcbEvaluationDataNumber=%d" % (tcb, tcb_n))
    check(st == 200 and body == read(os.path.join(d, "tcb_info.json")) and
          [r for r in up.requests() if "tcbEvaluationDataNumber=%d" % tcb_n in r and "update=" not in r],
          "eval: TCB Info of evaluation %d asked of upstream by number and served" % tcb_n, (st, up.requests()))
    check("sgx-tcb-%s-eval%d.item" % (fmspc.lower(), tcb_n) in os.listdir(store),
          "eval: kept under its own key", os.listdir(store))
    st, _, body = p.get("%s&tcbEvaluationDataNumber=%d" % (tcb, tcb_n + 1))
    check(st == 502 and ("has tcbEvaluationDataNumber %d, not the %d asked for" % (tcb_n, tcb_n + 1)).encode() in body,
          "eval: upstream's TCB Info of another evaluation refused", body)
    st, _, body = p.get("/sgx/certification/v4/qe/identity?tcbEvaluationDataNumber=%d" % qe_n)
    check(st == 200 and body == read(os.path.join(d, "qe_identity.json")), "eval: QE identity by number", (st, body[:100]))
    st, _, body = p.get("/sgx/certification/v4/qe/identity?tcbEvaluationDataNumber=%d" % (qe_n + 5))
    check(st == 502 and b"identity has tcbEvaluationDataNumber" in body, "eval: QE identity of another evaluation refused", body)
    for q_, why in (("%s&update=early&tcbEvaluationDataNumber=%d" % (tcb, tcb_n), b"cannot be used together"),
                    ("%s&tcbEvaluationDataNumber=0%d" % (tcb, tcb_n), b"without leading zeros, not '0"),
                    ("%s&tcbEvaluationDataNumber=0" % tcb, b"tcbEvaluationDataNumber must be"),
                    ("%s&tcbEvaluationDataNumber=2147483648" % tcb, b"tcbEvaluationDataNumber must be"),
                    ("%s&tcbEvaluationDataNumber=-1" % tcb, b"tcbEvaluationDataNumber must be"),
                    ("%s&tcbEvaluationDataNumber=" % tcb, b"tcbEvaluationDataNumber must be"),
                    ("%s&tcbevaluationdatanumber=%d" % (tcb, tcb_n), b"unknown parameter 'tcbevaluationdatanumber'"),
                    ("/sgx/certification/v4/pckcrl?ca=processor&tcbEvaluationDataNumber=1", b"unknown parameter")):
        st, _, body = p.get(q_)
        check(st == 400 and why in body, "eval: a bad query refused naming it (%s)" % why.decode(), body)
    p.stop()
    up.stop()


def upstream():
    """Refresh ahead of expiry, the early TCB evaluation set, Intel PCS's layout with an API
    key, and a drain on SIGTERM that lets a request in flight finish."""
    d, exp, tee, fmspc, ca = set_facts(BASE)
    root = os.path.join(d, "intel_root_ca.pem")
    old = os.path.join(SETS, "sgx-v3-mobilecoin-debug-qe-outofdate")
    # 2025-03-25: both root CA CRLs hold; upstream has the older one, then the newer
    up = Standin(d, "refresh")
    up.fault("expired /rootcacrl", old)
    p = Proxy(root, os.path.join(WORK, "refresh-store"), 1742860800, "--upstream-url", up.url,
              "--refresh", "1000000000", "--refresh-every", "1")
    st, _, body = p.get("/sgx/certification/v4/rootcacrl")
    check(st == 200 and body == read(os.path.join(old, "root_ca_crl.der")), "refresh: the older root CA CRL first")
    up.fault("")
    newer = read(os.path.join(d, "root_ca_crl.der"))
    for _ in range(100):
        if p.get("/sgx/certification/v4/rootcacrl")[2] == newer:
            break
        time.sleep(0.1)
    check(p.get("/sgx/certification/v4/rootcacrl")[2] == newer,
          "refresh: fetched again ahead of expiry, the newer one replaces it")
    check(p.metric("kubetee_collateral_refreshes_total") >= 1 and
          "event=collateral.refreshed item=rootcacrl" in open(p.log).read(), "refresh: counted and logged")
    up.fault("expired /rootcacrl", old)
    time.sleep(2.5)
    check(p.get("/sgx/certification/v4/rootcacrl")[2] == newer and
          "older than the cached one" in open(p.log).read(),
          "refresh: the older one offered again is refused (out of order)")
    p.stop()
    up.stop()
    # update=early is its own item
    up = Standin(d, "early")
    p = Proxy(root, os.path.join(WORK, "early-store"), exp["verify_at"], "--upstream-url", up.url)
    tcb = "/sgx/certification/v4/tcb?fmspc=" + fmspc
    check(p.get(tcb + "&update=early")[0] == 200 and p.get(tcb)[0] == 200 and
          p.get(tcb + "&update=standard")[0] == 200, "early: both evaluation sets served")
    tcbs = [r for r in up.requests() if "/tcb" in r]
    check(len(tcbs) == 2 and "update=early" in tcbs[0] and "update=standard" in tcbs[1],
          "early: fetched as update=early and update=standard, once each", tcbs)
    check(os.path.exists(os.path.join(WORK, "early-store", "sgx-tcb-%s-early.item" % fmspc.lower())),
          "early: stored apart")
    p.stop()
    up.stop()
    # Intel PCS: no rootcacrl (the root CA CRL from its URL), an API key, no qeid
    up = Standin(d, "pcs", "pcs")
    key = os.path.join(WORK, "apikey")
    with open(key, "w") as f:
        f.write("0123456789abcdef0123456789abcdef\n")
    p = Proxy(root, os.path.join(WORK, "pcs-store"), exp["verify_at"], "--upstream-url", up.url,
              "--upstream-kind", "pcs", "--root-crl-url", up.url + "/IntelSGXRootCA.der",
              "--api-key-file", key)
    st, _, body = p.get(tcb)
    check(st == 200 and body == read(os.path.join(d, "tcb_info.json")), "pcs: TCB Info through Intel PCS's layout",
          (st, body[:200]))
    check(read(up.port_file + ".apikey") == b"0123456789abcdef0123456789abcdef",
          "pcs: the API key from its file sent as Ocp-Apim-Subscription-Key")
    check(p.get(pck_query(exp)[0])[0] == 200 and
          not [r for r in up.requests() if "pckcert" in r and "qeid" in r],
          "pcs: pckcert asked without qeid", up.requests())
    p.stop()
    up.stop()
    with open(key, "w") as f:
        f.write("two words\n")
    r = subprocess.run([PROXY, "--root-ca", root, "--storage-dir", os.path.join(WORK, "pcs-store"),
                        "--upstream-url", "http://127.0.0.1:9", "--api-key-file", key],
                       capture_output=True, text=True)
    check(r.returncode == 2 and "api_key_file: the key must be one printable word" in r.stderr,
          "pcs: a malformed API key file is refused", r.stderr)
    # misses for items nobody has cannot make the proxy hammer upstream
    up = Standin(d, "rate")
    up.fault("missing /tcb")
    p = Proxy(root, os.path.join(WORK, "rate-store"), exp["verify_at"], "--upstream-url", up.url,
              "--upstream-rate", "2")
    codes = [p.get("/sgx/certification/v4/tcb?fmspc=%012x" % i) for i in range(8)]
    limited = [c for c in codes if c[0] == 503 and b"upstream fetch rate limit (2 a second)" in c[2]]
    check(len(limited) >= 5 and len(up.requests()) <= 4,
          "rate: 8 misses for unknown FMSPCs make at most 4 upstream requests", (codes, up.requests()))
    check(p.metric('kubetee_collateral_refusals_total{reason="upstream_rate"}') == len(limited),
          "rate: counted")
    p.stop()
    up.stop()
    # SIGTERM while a request waits on a slow upstream: it finishes, then the proxy exits
    up = Standin(d, "drain")
    up.fault("slow /tcb")
    p = Proxy(root, os.path.join(WORK, "drain-store"), exp["verify_at"], "--upstream-url", up.url)
    got = {}
    t = threading.Thread(target=lambda: got.update(r=p.get(tcb)))
    t.start()
    time.sleep(0.7)
    p.proc.send_signal(signal.SIGTERM)
    t.join(30)
    rc = p.proc.wait(timeout=30)
    check(got.get("r", (0,))[0] == 200 and rc == 0, "drain: the request in flight at SIGTERM is answered",
          got)
    up.stop()


def sqlite_store():
    """The same items in one SQLite file: imported, served, exported; a row changed in the
    file is refused when read."""
    d, exp, tee, fmspc, ca = set_facts(BASE)
    root = os.path.join(d, "intel_root_ca.pem")
    now = str(exp["verify_at"])
    db = os.path.join(WORK, "items.sqlite")
    store = ["--storage", "sqlite", "--storage-file", db]
    r = subprocess.run([PROXY, "import", "--root-ca", root, "--dir", d, "--now", now] + store,
                       capture_output=True, text=True)
    check(r.returncode == 0, "sqlite: import", r.stderr)
    rows = dict(sqlite3.connect(db).execute("SELECT key, record FROM items").fetchall())
    check(sorted(rows) == ["pckcrl-processor", "rootcacrl", "sgx-qe", "sgx-tcb-" + fmspc.lower()],
          "sqlite: one row per item", sorted(rows))
    p = Proxy(root, "", exp["verify_at"], "--mode", "offline", *store)
    st, _, body = p.get("/sgx/certification/v4/tcb?fmspc=" + fmspc)
    check(st == 200 and body == read(os.path.join(d, "tcb_info.json")), "sqlite: served from the file")
    p.stop()
    out = os.path.join(WORK, "sqlite.export")
    r = subprocess.run([PROXY, "export", "--root-ca", root, "--out", out, "--now", now] + store,
                       capture_output=True, text=True)
    r2 = subprocess.run([PROXY, "import", "--root-ca", root, "--storage-dir", os.path.join(WORK, "from-sqlite"),
                         "--in", out, "--now", now], capture_output=True, text=True)
    check(r.returncode == 0 and r2.returncode == 0 and len(os.listdir(os.path.join(WORK, "from-sqlite"))) == 4,
          "sqlite: exported, and imported into a directory", r.stderr + r2.stderr)
    con = sqlite3.connect(db)
    key = "sgx-tcb-" + fmspc.lower()
    con.execute("UPDATE items SET record = ? WHERE key = ?", (tamper(rows[key]), key))
    con.commit()
    con.close()
    p = Proxy(root, "", exp["verify_at"], "--mode", "offline", *store)
    st, _, _ = p.get("/sgx/certification/v4/tcb?fmspc=" + fmspc)
    check(st == 404 and p.metric('kubetee_collateral_refusals_total{reason="store_unverified"}') == 1,
          "sqlite: a row changed in the file is refused", st)
    p.stop()
    r = subprocess.run([PROXY, "--root-ca", root, "--storage", "sqlite", "--mode", "offline"],
                       capture_output=True, text=True)
    check(r.returncode == 2 and "storage must be dir (with storage_dir) or sqlite (with storage_file)" in r.stderr,
          "sqlite: needs its file", r.stderr)


def tls():
    """HTTPS on the API's address with a certificate from files; plain HTTP is not served
    there."""
    d, exp, tee, fmspc, ca = set_facts(BASE)
    root = os.path.join(d, "intel_root_ca.pem")
    cert, key = os.path.join(WORK, "tls.pem"), os.path.join(WORK, "tls.key")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], capture_output=True, text=True)
    check(r.returncode == 0, "tls: a certificate", r.stderr)
    store = os.path.join(WORK, "tls-store")
    subprocess.run([PROXY, "import", "--root-ca", root, "--storage-dir", store, "--dir", d, "--now",
                    str(exp["verify_at"])], capture_output=True)
    p = Proxy(root, store, exp["verify_at"], "--mode", "offline", "--tls-cert", cert, "--tls-key", key)
    ctx = ssl.create_default_context(cafile=cert)
    c = http.client.HTTPSConnection("127.0.0.1", p.port, context=ctx, timeout=10)
    c.request("GET", "/sgx/certification/v4/tcb?fmspc=" + fmspc)
    resp = c.getresponse()
    body = resp.read()
    c.close()
    check(resp.status == 200 and body == read(os.path.join(d, "tcb_info.json")), "tls: served over HTTPS")
    try:
        st = p.get("/healthz")[0]
    except Exception:  # the TLS server drops a plain request
        st = None
    check(st != 200, "tls: no plain HTTP on the TLS address", st)
    p.proc.send_signal(signal.SIGHUP)
    check(wait_for(p.log, r"event=collateral.tls_reloaded", p.proc, 10) is not None,
          "tls: SIGHUP reloads the certificate")
    p.stop()
    r = subprocess.run([PROXY, "--root-ca", root, "--storage-dir", store, "--mode", "offline", "--tls-cert", cert],
                       capture_output=True, text=True)
    check(r.returncode == 2 and "tls_cert and tls_key go together" in r.stderr, "tls: a certificate needs its key")


def config():
    d, exp, tee, fmspc, ca = set_facts(BASE)
    cfg = os.path.join(WORK, "c.yaml")
    # each file refused, naming why; the last one (lazy, no upstream) serves on below
    for mode, last, why, what in (("offline", "bogus: 1", "unknown key 'bogus' in the document (line 4)",
                                    "config: an unknown key is named"),
                                   ("offline", "threads: 0x4", "threads must be a decimal number",
                                    "config: a non-decimal number is refused"),
                                   ("lazy", "listen: 127.0.0.1:1", "lazy mode needs upstream_url",
                                    "config: lazy mode without an upstream")):
        with open(cfg, "w") as f:
            f.write("mode: %s\nstorage_dir: %s\nroot_ca: %s\n%s\n"
                    % (mode, os.path.join(WORK, "cfg-store"), os.path.join(d, "intel_root_ca.pem"), last))
        r = subprocess.run([PROXY, "--config", cfg], capture_output=True, text=True)
        check(r.returncode == 2 and why in r.stderr, what, r.stderr)
    r = subprocess.run([PROXY, "--config", cfg, "--bogus-flag", "1"], capture_output=True, text=True)
    check(r.returncode == 2 and "unknown option '--bogus-flag'" in r.stderr, "config: unknown flag named")
    # the environment over the file, a flag over the environment
    p = Proxy(os.path.join(d, "intel_root_ca.pem"), os.path.join(WORK, "cfg-store"),
              exp["verify_at"], "--config", cfg, "--mode", "offline",
              env={"KT_COLLATERAL_MODE": "lazy", "KT_COLLATERAL_LISTEN": "127.0.0.1:1"})
    check(p.port != 0 and "mode=offline" in open(p.log).read(),
          "config: flags over the environment over the file")
    p.stop()
    r = subprocess.run([PROXY, "--config", cfg, "--mode", "offline", "--per-address", "0"],
                       capture_output=True, text=True)
    check(r.returncode == 2 and "per_address must be 1..4096" in r.stderr,
          "config: per_address 0 refused", r.stderr)
    # per_address: connections from one address at once (16 by default; clients behind one
    # NAT address need more)
    for setting, want in ((None, 16), ("24", 24)):
        p = Proxy(os.path.join(d, "intel_root_ca.pem"), os.path.join(WORK, "cfg-store"),
                  exp["verify_at"], "--mode", "offline",
                  *(["--per-address", setting] if setting else []))
        conns = [http.client.HTTPConnection("127.0.0.1", p.port, timeout=5) for _ in range(24)]
        answered = 0
        for c in conns:
            c.connect()
        time.sleep(0.3)
        for c in conns:
            try:
                c.request("GET", "/healthz")
                answered += c.getresponse().status == 200
            except (OSError, http.client.HTTPException):
                pass
        for c in conns:
            c.close()
        check(answered == want, "config: per_address %s: %d of 24 connections from one address "
              "served" % (setting or "default", want), answered)
        p.stop()


def sim():
    """A sim cluster: the sim platform's collateral (under its simulation root) imported and
    served the same way, and a sim quote verified through the proxy."""
    env = dict(os.environ, KUBETEE_SIM_DIR=os.path.join(WORK, "sim"))
    q = os.path.join(WORK, "sim.quote")
    r = subprocess.run([KUBETEE, "attest", "quote", "--enclave", os.path.join(ENCLAVES, "tfftest.signed.so"),
                        "--report-data", "0" * 64, "--out", q], env=env, capture_output=True, text=True)
    check(r.returncode == 0, "sim: a quote", r.stderr)
    coll = subprocess.run([KUBETEE, "sim", "collateral"], env=env, capture_output=True,
                          text=True).stdout.strip()
    root = os.path.join(coll, "intel_root_ca.pem")  # the simulation root, by that name
    store = store_sim = os.path.join(WORK, "sim-store")
    r = subprocess.run([PROXY, "import", "--root-ca", root, "--storage-dir", store, "--dir", coll],
                       capture_output=True, text=True)
    check(r.returncode == 0 and "collateral.simulated_root" in r.stderr,
          "sim: its collateral imported, the simulation root logged as such", r.stderr)
    intel = os.path.join(SETS, BASE, "intel_root_ca.pem")
    r = subprocess.run([PROXY, "import", "--root-ca", intel, "--storage-dir",
                        os.path.join(WORK, "sim-intel"), "--dir", coll], capture_output=True, text=True)
    check(r.returncode == 1 and "import refused" in r.stderr,
          "sim: its collateral is refused under Intel's root", r.stderr)
    p = Proxy(root, store, 0, "--mode", "offline")
    st, h, body = p.get("/sgx/certification/v4/tcb?fmspc=0053494d0000")
    check(st == 200 and body == read(os.path.join(coll, "tcb_info.json")), "sim: TCB Info served", (st, body[:100]))
    r = subprocess.run([KUBETEE, "attest", "verify", "--quote", q, "--pccs", "http://127.0.0.1:%d" % p.port,
                        "--root", root, "--cache", os.path.join(WORK, "sim-cache"), "--allow-simulation"],
                       env=env, capture_output=True, text=True)
    check(r.returncode == 0 and "PASS" in r.stdout and "(simulated)" in r.stdout,
          "sim: kubetee attest verify --pccs through the proxy", r.stdout + r.stderr)
    p.stop()
    # a QvE identity: the sim QE's, renamed and signed again by the sim TCB signing key
    # (openssl), served by the stand-in; the same body where QE's identity belongs is not
    qve_dir = os.path.join(WORK, "sim-qve")
    shutil.copytree(coll, qve_dir)
    text = read(os.path.join(coll, "qe_identity.json")).decode()
    m = re.fullmatch(r'\{"enclaveIdentity":(.*),"signature":"[0-9a-fA-F]{128}"\}\s*', text, re.S)
    tcb_key = os.path.join(WORK, "sim", "attest", "tcb_signing.key")
    qve = resign(m.group(1).replace('"id":"QE"', '"id":"QVE"', 1), "enclaveIdentity", tcb_key)
    with open(os.path.join(qve_dir, "qve_identity.json"), "wb") as f:
        f.write(qve)
    swapped = os.path.join(WORK, "sim-swapped")
    shutil.copytree(qve_dir, swapped)
    shutil.copy(os.path.join(qve_dir, "qve_identity.json"), os.path.join(swapped, "qe_identity.json"))
    up = Standin(qve_dir, "sim-qve")
    p = Proxy(root, os.path.join(WORK, "sim-qve-store"), 0, "--upstream-url", up.url)
    st, h, got = p.get("/sgx/certification/v4/qve/identity")
    check(st == 200 and got == qve and urllib.parse.unquote(h.get("sgx-enclave-identity-issuer-chain", "")) ==
          read(os.path.join(coll, "qe_identity_issuer_chain.pem")).decode(), "sim: QvE identity served", (st, got[:200]))
    up.fault("expired /qe/identity", swapped)
    st, _, got = p.get("/sgx/certification/v4/qe/identity")
    check(st == 502 and b"is QVE, not QE" in got, "sim: a QvE identity where QE's belongs is refused", got)
    # TCB Evaluation Data Numbers (the sim collateral has them; Intel's shared sets do not)
    up.fault("")
    eval_target = "/sgx/certification/v4/tcbevaluationdatanumbers"
    st, h, got = p.get(eval_target)
    check(st == 200 and got == read(os.path.join(coll, "tcb_eval_numbers.json")) and
          h.get("tcb-evaluation-data-numbers-issuer-chain") ==
          intel_quote(read(os.path.join(coll, "tcb_info_issuer_chain.pem")).decode()) and
          h.get("content-type") == "application/json",
          "sim: tcbevaluationdatanumbers fetched, verified and served with its issuer chain", (st, h, got[:100]))
    p.stop()
    up.stop()
    # one with TDX's id, signed again by the sim TCB signing key, where SGX's belongs; one
    # with a changed byte
    text = read(os.path.join(coll, "tcb_eval_numbers.json")).decode()
    m = re.fullmatch(r'\{"tcbEvaluationDataNumbers":(.*),"signature":"[0-9a-fA-F]{128}"\}\s*', text, re.S)
    tdx_dir = os.path.join(WORK, "sim-evaltdx")
    shutil.copytree(coll, tdx_dir)
    with open(os.path.join(tdx_dir, "tcb_eval_numbers.json"), "wb") as f:
        f.write(resign(m.group(1).replace('"id":"SGX"', '"id":"TDX"', 1), "tcbEvaluationDataNumbers", tcb_key))
    for fault, why in (("expired /tcbevaluationdatanumbers", b"are for TDX, not SGX"),
                       ("tamper /tcbevaluationdatanumbers", b"does not verify")):
        up = Standin(coll, "sim-eval" + fault[:3])
        up.fault(fault, tdx_dir)
        store = os.path.join(WORK, "sim-eval-store" + fault[:3])
        p = Proxy(root, store, 0, "--upstream-url", up.url)
        st, _, got = p.get(eval_target)
        check(st == 502 and why in got and not [f for f in os.listdir(store) if "tcbeval" in f],
              "sim: tcbevaluationdatanumbers upstream fault '%s' refused, not stored" % fault, (st, got))
        p.stop()
        up.stop()
    # offline: the imported copy; TDX's is not held
    p = Proxy(root, store_sim, 0, "--mode", "offline")
    st, h, got = p.get(eval_target)
    check(st == 200 and got == read(os.path.join(coll, "tcb_eval_numbers.json")),
          "sim: tcbevaluationdatanumbers imported and served offline", (st, got[:100]))
    st, _, got = p.get("/tdx/certification/v4/tcbevaluationdatanumbers")
    check(st == 404 and b"tdx-tcbeval" in got, "sim: TDX's tcbevaluationdatanumbers not held", got)
    st, _, got = p.get(eval_target + "?update=early")
    check(st == 400 and b"unknown parameter 'update'" in got, "sim: tcbevaluationdatanumbers takes no parameter", got)
    # fmspcs: the FMSPCs of the TCB Info held and verified
    st, h, got = p.get("/sgx/certification/v4/fmspcs")
    check(st == 200 and json.loads(got) == [{"fmspc": "0053494D0000"}] and
          h.get("content-type") == "application/json", "sim: fmspcs lists the verified TCB Info's FMSPC", got)
    st, _, got = p.get("/sgx/certification/v4/fmspcs?platform=all")
    check(st == 200 and json.loads(got) == [{"fmspc": "0053494D0000"}], "sim: fmspcs platform=all", got)
    st, _, got = p.get("/sgx/certification/v4/fmspcs?platform=E5")
    check(st == 400 and b"platform: only 'all'" in got, "sim: fmspcs platform=E5 refused (no signed item says it)", got)
    st, _, got = p.get("/sgx/certification/v4/fmspcs?platform=e5")
    check(st == 400 and b"platform must be all, client, E3 or E5, not 'e5'" in got,
          "sim: fmspcs platform=e5 refused naming the values", got)
    p.stop()


def put(port, body, token="adm", target="/sgx/certification/v4/platformcollateral"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["admin-token"] = token
    c.request("PUT", target, body=data, headers=headers)
    r = c.getresponse()
    got = r.read()
    c.close()
    return r.status, got


ADMIN = {"KT_COLLATERAL_ADMIN_TOKEN": "adm"}


def put_every_set():
    """OFFLINE's second half as PCCS has it: the admin tool's platformcollateral body PUT
    with the admin token; every item verified, then held and served byte for byte; the
    platform's PCK certificate by its raw TCB; the verifier through the proxy."""
    for name in sorted(os.listdir(SETS)):
        if not os.path.isfile(os.path.join(SETS, name, "expected.json")):
            continue
        d, exp, tee, fmspc, ca = set_facts(name)
        store = os.path.join(WORK, name + "-put")
        p = Proxy(os.path.join(d, "intel_root_ca.pem"), store, exp["verify_at"], "--mode", "offline",
                  env=ADMIN)
        st, body = put(p.port, pcol.body(d))
        check(st == 200 and body == b"Operation successful.\n", name + ": PUT platformcollateral", (st, body))
        for target, body_file, chain_file, headers in endpoints(tee, fmspc, ca):
            st, h, got = p.get(target)
            check(st == 200 and got == read(os.path.join(d, body_file)) and
                  all(h.get(hn.lower()) == intel_quote(read(os.path.join(d, chain_file)).decode())
                      for hn in headers),
                  "%s: %s served from the PUT, body and chain byte-equal" % (name, target), (st, got[:100]))
        check_pck(name, p, d, exp, ca, "PUT")
        r = subprocess.run([KUBETEE, "attest", "verify", "--quote", os.path.join(d, "quote.dat"),
                            "--pccs", "http://127.0.0.1:%d" % p.port, "--root",
                            os.path.join(d, "intel_root_ca.pem"), "--cache", os.path.join(WORK, name + "-putv"),
                            "--at", str(exp["verify_at"]), "--json"], capture_output=True, text=True)
        try:
            v = json.loads(r.stdout)["verdict"]
        except ValueError:
            v = {}
        check(v.get("ok") is (exp["expected_result"] == "OK"),
              name + ": kubetee attest verify --pccs against the PUT collateral", r.stdout + r.stderr)
        p.stop()
        # after a restart, from storage
        p = Proxy(os.path.join(d, "intel_root_ca.pem"), store, exp["verify_at"], "--mode", "offline",
                  env=ADMIN)
        st, _, got = p.get("/%s/certification/v4/tcb?fmspc=%s" % (tee, fmspc))
        check(st == 200 and got == read(os.path.join(d, "tcb_info.json")), name + ": PUT items stored", st)
        p.stop()


def put_refusals():
    """What a PUT body carries that does not verify, or is not PCCS's form, is refused
    naming it, and nothing of the body is held: not even its items that do verify."""
    d, exp, tee, fmspc, ca = set_facts(BASE)
    root = os.path.join(d, "intel_root_ca.pem")
    store = os.path.join(WORK, "put-bad")
    p = Proxy(root, store, exp["verify_at"], "--mode", "offline", env=ADMIN)
    good = pcol.body(d)

    def changed(fn):
        b = json.loads(json.dumps(good))
        fn(b["collaterals"])
        return b

    def tamper_tcb(c):
        c["tcbinfos"][0]["sgx_tcbinfo"]["tcbInfo"]["tcbLevels"][0]["tcbStatus"] = "UpToDate"

    def tamper_qe(c):
        c["qeidentity"] = c["qeidentity"].replace('"isvsvn":8', '"isvsvn":9', 1)

    def bad_tcbm(c):
        t = c["pck_certs"][0]["certs"][0]["tcbm"]
        c["pck_certs"][0]["certs"][0]["tcbm"] = t[:30] + ("00" if t[30:32] != "00" else "01") + t[32:]

    def tamper_cert(c):
        cert = c["pck_certs"][0]["certs"][0]["cert"]
        i = cert.index("%0A") + 200
        c["pck_certs"][0]["certs"][0]["cert"] = cert[:i] + ("B" if cert[i] != "B" else "C") + cert[i + 1:]

    def swap_chains(c):
        cs = c["certificates"]
        cs["TCB-Info-Issuer-Chain"], cs["SGX-Enclave-Identity-Issuer-Chain"] = \
            cs["SGX-PCK-Certificate-Issuer-Chain"]["PROCESSOR"], cs["TCB-Info-Issuer-Chain"]

    def other_fmspc(c):
        c["tcbinfos"][0]["fmspc"] = "00906ED50000"

    def bad_crl(c):
        c["pckcacrl"]["processorCrl"] = c["pckcacrl"]["processorCrl"][:-2] + "00"

    def qe_as_qve(c):
        c["qveidentity"] = c.pop("qeidentity")

    cases = [
        (changed(tamper_tcb), "sgx-tcb-%s: " % fmspc.lower(), "does not verify"),
        (changed(tamper_qe), "sgx-qe: ", "does not verify"),
        (changed(bad_tcbm), "pck_certs entry 0", "its tcbm is not its certificate's TCB"),
        (changed(tamper_cert), "pck_certs entry 0", "certificate 0"),
        (changed(swap_chains), "sgx-tcb-", ""),
        (changed(other_fmspc), "sgx-tcb-00906ed50000", ""),
        (changed(bad_crl), "pckcrl-processor", ""),
        (changed(qe_as_qve), "sgx-qve", "is QE, not QVE"),
        (changed(lambda c: c.update(bogus=1)), "collaterals: unknown key 'bogus'", ""),
        (changed(lambda c: c.update(version=3)), "'version' must be 4", ""),
        (changed(lambda c: c.update(rootcacrl="zz")), "'rootcacrl' must be the CRL's DER in hex", ""),
        (changed(lambda c: c["certificates"].update({"SGX-TCB-Info-Issuer-Chain": "x"})),
         "are the same chain; give one", ""),
        (changed(lambda c: c["pck_certs"][0].update(qe_id="00")), "'qe_id' must be a string of 32 hex digits", ""),
        (changed(lambda c: c["tcbinfos"][0].update(tcbinfo={})), "'tcbinfo' and 'sgx_tcbinfo' are both SGX's", ""),
        (changed(lambda c: c.pop("certificates")), "missing 'certificates'", ""),
        (b"[]", "body is not a JSON object", ""),
        (json.dumps(good).encode()[:-1], "body is not JSON", ""),
        (json.dumps(good).replace('"collaterals"', '"platforms": [], "collaterals"', 1).encode(), "duplicate", ""),
    ]
    for body, why, why2 in cases:
        st, got = put(p.port, body)
        check(st == 400 and why.encode() in got and why2.encode() in got and not os.listdir(store),
              "PUT refused naming it (%s %s), nothing of it held" % (why, why2), (st, got[:300], os.listdir(store)))
    st, _, got = p.get("/sgx/certification/v4/rootcacrl")
    check(st == 404, "PUT refused: not even its root CA CRL (which verifies) is held", st)
    st, got = put(p.port, good, target="/sgx/certification/v4/platformcollateral?platform_count=2")
    check(st == 400 and b"platform_count is 2 but the body lists 1" in got, "PUT platform_count checked", got)
    st, got = put(p.port, good, target="/sgx/certification/v4/platformcollateral?platform_count=01")
    check(st == 400 and b"the only parameter is platform_count" in got, "PUT platform_count=01 refused", got)
    for token, what in ((None, "no admin-token"), ("ad", "a prefix of it"), ("adm ", "a longer one")):
        st, got = put(p.port, good, token)
        check(st == 401 and got == b"Authentication failed.\n" and not os.listdir(store),
              "PUT with %s: 401, nothing held" % what, (st, got))
    c = http.client.HTTPConnection("127.0.0.1", p.port, timeout=30)
    c.request("POST", "/sgx/certification/v4/platformcollateral", body=b"{}",
              headers={"Content-Type": "application/json", "admin-token": "adm"})
    r = c.getresponse()
    check(r.status == 405, "platformcollateral takes PUT only", r.status)
    r.read()
    c.close()
    st, got = put(p.port, good, target="/sgx/certification/v4/platformcollatera%6c")
    check(st in (400, 404, 405) and not os.listdir(store), "an escaped admin path is not the path", (st, got))
    # the body is refused from its headers alone when the token is wrong: a body larger
    # than the limit is not read
    sk = __import__("socket").create_connection(("127.0.0.1", p.port), timeout=10)
    sk.sendall(b"PUT /sgx/certification/v4/platformcollateral HTTP/1.1\r\nHost: x\r\n"
               b"Content-Type: application/json\r\nadmin-token: nope\r\nContent-Length: 1000000\r\n\r\n")
    check(sk.recv(4096).startswith(b"HTTP/1.1 401"), "a wrong token is answered before the body is sent")
    sk.close()
    sk = __import__("socket").create_connection(("127.0.0.1", p.port), timeout=10)
    sk.sendall(b"PUT /sgx/certification/v4/platformcollateral HTTP/1.1\r\nHost: x\r\n"
               b"Content-Type: application/json\r\nadmin-token: adm\r\nContent-Length: 40000000\r\n\r\n")
    check(sk.recv(4096).startswith(b"HTTP/1.1 413"), "a body over 32 MiB is refused from its length (413)")
    sk.close()
    st, got = put(p.port, good)
    check(st == 200, "the unchanged body is then held", (st, got))
    check(p.get("/sgx/certification/v4/rootcacrl")[0] == 200, "its root CA CRL served")
    p.stop()
    # under another root: refused whole
    other = os.path.join(WORK, "put-other")
    p = Proxy(os.path.join(d, "negative", "untrusted_root_ca.pem"), other, exp["verify_at"], "--mode", "offline",
              env=ADMIN)
    st, got = put(p.port, good)
    check(st == 400 and b"rootcacrl" in got and not os.listdir(other), "PUT under another pinned root refused", got)
    p.stop()
    # out of order: an older root CA CRL never replaces a newer one held (both valid then)
    old = os.path.join(SETS, "sgx-v3-mobilecoin-debug-qe-outofdate")
    roll = os.path.join(WORK, "put-rollback")
    p = Proxy(root, roll, 1742860800, "--mode", "offline", env=ADMIN)

    def crl_only(src):
        return {"platforms": [], "collaterals": {"version": 4, "certificates": {},
                                                 "rootcacrl": read(os.path.join(src, "root_ca_crl.der")).hex()}}
    check(put(p.port, crl_only(d))[0] == 200, "PUT of a lone root CA CRL")
    st, got = put(p.port, crl_only(old))
    check(st == 400 and b"older than the one held" in got and
          p.get("/sgx/certification/v4/rootcacrl")[2] == read(os.path.join(d, "root_ca_crl.der")),
          "PUT of an older root CA CRL refused; the newer stays", got)
    p.stop()


def admin_platforms():
    """GET /platforms: the registration queue (offline registrations, and ones upstream
    could not serve) and the held platforms by FMSPC, with the admin token; a PUT of a
    queued platform's collateral takes it off the queue."""
    d, exp, tee, fmspc, ca = set_facts(BASE)
    root = os.path.join(d, "intel_root_ca.pem")
    store = os.path.join(WORK, "adm-platforms")
    p = Proxy(root, store, exp["verify_at"], "--mode", "offline", env=ADMIN)
    reg = pcol.platform(exp)
    st, _ = post(p.port, "/sgx/certification/v4/platforms", json.dumps(reg), {"admin-token": "adm"})
    adm = {"admin-token": "adm"}
    plat = "/sgx/certification/v4/platforms"
    st, h, got = p.get(plat, headers=adm)
    check(st == 200 and json.loads(got) == [reg] and h.get("platform-count") == "1" and
          h.get("content-type") == "application/json", "GET /platforms lists the queued registration", got[:200])
    check(p.get(plat + "?source=reg", headers=adm)[2] == got, "source=reg: the same")
    check(p.get(plat + "?source=%5B%5D", headers=adm)[2] == b"[]", "source=[]: no platform held yet")
    p.stop()
    p = Proxy(root, store, exp["verify_at"], "--mode", "offline", env=ADMIN)
    check(p.get(plat, headers=adm)[2] == got, "the queue survives a restart")
    check(put(p.port, pcol.body(d))[0] == 200, "PUT of its collateral")
    check(json.loads(p.get(plat, headers=adm)[2]) == [], "the platform left the queue")
    for target in (plat + "?source=[]", plat + "?source=%5B" + fmspc + "%5D",
                   plat + "?source=%5b000000000000%2C" + fmspc.lower() + "%5d"):
        st, h, got = p.get(target, headers=adm)
        check(st == 200 and json.loads(got) == [reg] and h.get("platform-count") == "1",
              "%s lists the held platform" % target, got[:200])
    st, _, got = p.get(plat + "?source=[000000000000]", headers=adm)
    check(st == 200 and json.loads(got) == [], "another FMSPC's list is empty", got)
    for q_, why in (("?source=reg_na", b"source=reg_na: not kept apart"),
                    ("?source=[00A06711000]", b"source must be a list [FMSPC,...]"),
                    ("?source=[%s,]" % fmspc, b"source must be a list"),
                    ("?source=%5B" + fmspc + "%5C", b"source must be a list"),
                    ("?source=REG", b"source must be reg or reg_na"),
                    ("?fmspc=" + fmspc, b"unknown parameter 'fmspc'")):
        st, _, got = p.get(plat + q_, headers=adm)
        check(st == 400 and why in got, "GET /platforms%s refused naming it" % q_, (st, got))
    for headers, what in (({}, "no token"), ({"admin-token": "ad"}, "a prefix"), ({"user-token": "adm"}, "as user-token")):
        st, _, got = p.get(plat, headers=headers)
        check(st == 401 and got == b"Authentication failed.\n", "GET /platforms with %s: 401" % what, (st, got))
    check(p.metric('kubetee_collateral_refusals_total{reason="unauthorized"}') == 3, "unauthorized counted")
    p.stop()
    # a user token does not open the admin paths, nor the admin token the user's
    p = Proxy(root, store, exp["verify_at"], "--mode", "offline",
              env={"KT_COLLATERAL_ADMIN_TOKEN": "adm", "KT_COLLATERAL_USER_TOKEN": "usr"})
    check(p.get(plat, headers={"user-token": "usr"})[0] == 401, "the user token does not list platforms")
    check(p.get(plat, headers={"admin-token": "adm"})[0] == 200, "the admin token alone does")
    p.stop()


def admin_refresh():
    """POST (and PCCS's deprecated GET) /refresh: every item held fetched again now, the
    root CA CRL first; a bad answer refused naming it, the held copy still served;
    type=certs fetches the platforms' PCK certificates again."""
    d, exp, tee, fmspc, ca = set_facts(BASE)
    root = os.path.join(d, "intel_root_ca.pem")
    up = Standin(d, "adm-refresh")
    p = Proxy(root, os.path.join(WORK, "adm-refresh-store"), exp["verify_at"], "--upstream-url", up.url, env=ADMIN)
    tcb = "/sgx/certification/v4/tcb?fmspc=" + fmspc
    for target, _, _, _ in endpoints(tee, fmspc, ca):
        p.get(target)
    n = len(up.requests())
    ref = "/sgx/certification/v4/refresh"
    st, body = post(p.port, ref, b"", {"admin-token": "adm", "Content-Type": ""})
    asked = up.requests()[n:]
    check(st == 200 and body == b"Operation successful.\n" and len(asked) == 4 and "rootcacrl" in asked[0],
          "POST /refresh: the four items held fetched again, the root CA CRL first", (st, body, asked))
    check(p.metric("kubetee_collateral_refreshes_total") == 4, "refreshes counted")
    st, _, body = p.get(ref, headers={"admin-token": "adm"})
    check(st == 200 and len(up.requests()) == n + 8, "GET /refresh (PCCS's deprecated form) too", (st, body))
    st, _, body = p.get(ref, "HEAD", headers={"admin-token": "adm"})
    check(st == 405 and len(up.requests()) == n + 8, "HEAD /refresh refreshes nothing (405)", st)
    up.fault("tamper /tcb")
    st, body = post(p.port, ref, b"", {"admin-token": "adm", "Content-Type": ""})
    check(st == 502 and ("sgx-tcb-" + fmspc.lower()).encode() in body and b"1 of 4 not refreshed" in body,
          "refresh: a tampered TCB Info refused naming it", (st, body))
    st, _, got = p.get(tcb)
    check(st == 200 and got == read(os.path.join(d, "tcb_info.json")), "refresh: the held TCB Info still served")
    up.fault("")
    n = len(up.requests())
    st, body = post(p.port, ref, b"", {"Content-Type": ""})
    check(st == 401 and len(up.requests()) == n, "refresh without the admin token: 401, nothing fetched", (st, body))
    st, body = post(p.port, ref, b"{}", {"admin-token": "adm"})
    check(st == 413, "refresh takes no body", (st, body))
    # one kind of collateral (beyond PCCS, which has certs or everything)
    for q_, want in (("?type=crls", ["rootcacrl", "pckcrl"]), ("?type=tcbinfo", ["/tcb?"]),
                     ("?type=tcbinfo&fmspc=[%s]" % fmspc, ["/tcb?"]),
                     ("?type=tcbinfo&fmspc=%5B000000000000%5D", []),
                     ("?type=enclaveidentity", ["/qe/identity"]),
                     ("?type=all", ["rootcacrl", "pckcrl", "/tcb?", "/qe/identity"])):
        n = len(up.requests())
        st, body = post(p.port, ref + q_, b"", {"admin-token": "adm", "Content-Type": ""})
        asked = up.requests()[n:]
        check(st == 200 and len(asked) == len(want) and all(w in a for w, a in zip(want, asked)),
              "refresh%s: just those fetched again, in order" % q_, (st, body, asked))
    for q_, why in (("?type=bogus", b"type must be all, certs, crls, tcbinfo or enclaveidentity, not 'bogus'"),
                    ("?fmspc=[%s]" % fmspc, b"fmspc is taken with type=certs or type=tcbinfo only"),
                    ("?type=crls&fmspc=[%s]" % fmspc, b"fmspc is taken with type=certs or type=tcbinfo only"),
                    ("?type=certs&fmspc=%s" % fmspc, b"fmspc must be a list")):
        st, body = post(p.port, ref + q_, b"", {"admin-token": "adm", "Content-Type": ""})
        check(st == 400 and why in body, "refresh%s refused naming it" % q_, (st, body))
    # type=certs: the registered platforms' certificates
    reg = json.dumps(pcol.platform(exp))
    time.sleep(1.1)  # the refreshes took the second's upstream fetches (upstream_rate)
    check(post(p.port, "/sgx/certification/v4/platforms", reg, {"admin-token": "adm"})[0] == 200,
          "lazy: a platform registered")
    for q_, want in (("?type=certs", 1), ("?type=certs&fmspc=[%s]" % fmspc, 1),
                     ("?type=certs&fmspc=%5B000000000000%5D", 0), ("?type=certs&fmspc=", 1)):
        n = len(up.requests())
        st, body = post(p.port, ref + q_, b"", {"admin-token": "adm", "Content-Type": ""})
        got = [r for r in up.requests()[n:] if "/pckcert?" in r]
        check(st == 200 and len(got) == want, "refresh%s: %d platform's certificate fetched" % (q_, want),
              (st, body, up.requests()[n:]))
    p.stop()
    up.stop()
    p = Proxy(root, os.path.join(WORK, "adm-refresh-store"), exp["verify_at"], "--mode", "offline", env=ADMIN)
    st, body = post(p.port, ref, b"", {"admin-token": "adm", "Content-Type": ""})
    check(st == 503 and b"offline mode has no upstream" in body, "refresh offline: 503", (st, body))
    p.stop()


def manifest():
    """A multi-package platform: its platform manifest registered, stored, listed, and
    sent to Intel PCS (POST pckcerts) for its certificates."""
    d, exp, tee, fmspc, ca = set_facts(BASE)
    root = os.path.join(d, "intel_root_ca.pem")
    target, tcbm, _ = pck_query(exp)
    up = Standin(d, "manifest", "pcs")
    with open(up.port_file + ".tcbm", "w") as f:
        f.write(tcbm.lower())
    store = os.path.join(WORK, "manifest-store")
    p = Proxy(root, store, exp["verify_at"], "--mode", "req", "--upstream-url", up.url, "--upstream-kind", "pcs",
              "--root-crl-url", up.url + "/IntelSGXRootCA.der", env=ADMIN)
    man = "0f" * 2000
    reg = dict(pcol.platform(exp), enc_ppid="", platform_manifest=man)
    st, body = post(p.port, "/sgx/certification/v4/platforms", json.dumps(reg), {"admin-token": "adm"})
    posted = open(up.port_file + ".posted").read().splitlines() if os.path.exists(up.port_file + ".posted") else []
    check(st == 200 and posted and json.loads(posted[0]) == {"platformManifest": man, "pceid": "0000"},
          "manifest: pckcerts POSTed to Intel PCS with the platform manifest and PCE ID", (st, body, posted[:1]))
    st, h, got = p.get(target)
    check(st == 200 and got == pck_leaf(d), "manifest: the platform's certificate served", (st, got[:100]))
    st, _, got = p.get("/sgx/certification/v4/platforms?source=[]", headers={"admin-token": "adm"})
    check(st == 200 and json.loads(got) == [reg], "manifest: stored and listed with its manifest", got[:200])
    p.stop()
    up.stop()
    p = Proxy(root, store, exp["verify_at"], "--mode", "offline", env=ADMIN)
    st, _, got = p.get("/sgx/certification/v4/platforms?source=[]", headers={"admin-token": "adm"})
    check(st == 200 and json.loads(got) == [reg], "manifest: kept across a restart", got[:200])
    p.stop()


def tcb_info_v2(coll, key):
    """The sim platform's TCB Info as PCS v3 serves TCB Info (version 2: no id, each level's
    components as sgxtcbcompNNsvn), signed again by the sim TCB signing key."""
    t = json.loads(read(os.path.join(coll, "tcb_info.json")))["tcbInfo"]
    v2 = {"version": 2}
    for k in ("issueDate", "nextUpdate", "fmspc", "pceId", "tcbType", "tcbEvaluationDataNumber"):
        v2[k] = t[k]
    levels = []
    for lv in t["tcbLevels"]:
        tcb = {"sgxtcbcomp%02dsvn" % (i + 1): c["svn"] for i, c in enumerate(lv["tcb"]["sgxtcbcomponents"])}
        tcb["pcesvn"] = lv["tcb"]["pcesvn"]
        levels.append({"tcb": tcb, "tcbDate": lv["tcbDate"], "tcbStatus": lv["tcbStatus"]})
    v2["tcbLevels"] = levels
    return resign(json.dumps(v2, separators=(",", ":")), "tcbInfo", key)


def v3():
    """PCS/PCCS v3 paths for older quote provider libraries: the same items as v4 (same
    bytes and headers) but TCB Info, v3's own (version 2, fetched from upstream's v3 path,
    served with SGX-TCB-Info-Issuer-Chain only); v4's parameters refused."""
    for name in sorted(os.listdir(SETS)):
        if not os.path.isfile(os.path.join(SETS, name, "expected.json")):
            continue
        d, exp, tee, fmspc, ca = set_facts(name)
        up = Standin(d, name + "-v3")
        p = Proxy(os.path.join(d, "intel_root_ca.pem"), os.path.join(WORK, name + "-v3store"),
                  exp["verify_at"], "--upstream-url", up.url)
        for target, body_file, chain_file, headers in endpoints(tee, fmspc, ca)[1 if tee == "sgx" else 2:]:
            target = target.replace("/v4/", "/v3/").replace("/tdx/", "/sgx/")
            st, h, got = p.get(target)
            check(st == 200 and got == read(os.path.join(d, body_file)) and
                  all(h.get(hn.lower()) == intel_quote(read(os.path.join(d, chain_file)).decode())
                      for hn in headers), "%s v3 %s: as v4's, byte-equal" % (name, target), (st, got[:100]))
        check_pck(name, p, d, exp, ca, "v3")
        st, _, got = p.get("/sgx/certification/v3/tcb?fmspc=" + fmspc)
        check(st == 404 and b"upstream answered HTTP 404" in got and
              [r for r in up.requests() if r == "/sgx/certification/v3/tcb?fmspc=" + fmspc.lower()],
              name + ": v3 tcb asked of upstream's v3 path (Intel's sets have no version 2 TCB Info)",
              (st, got, up.requests()))
        p.stop()
        up.stop()
    # the sim platform's TCB Info as version 2 serves v3's path
    env = dict(os.environ, KUBETEE_SIM_DIR=os.path.join(WORK, "sim"))
    coll = subprocess.run([KUBETEE, "sim", "collateral"], env=env, capture_output=True, text=True).stdout.strip()
    root = os.path.join(coll, "intel_root_ca.pem")
    v3dir = os.path.join(WORK, "sim-v3")
    shutil.copytree(coll, v3dir)
    v2 = tcb_info_v2(coll, os.path.join(WORK, "sim", "attest", "tcb_signing.key"))
    with open(os.path.join(v3dir, "tcb_info_v2.json"), "wb") as f:
        f.write(v2)
    up = Standin(v3dir, "sim-v3")
    store = os.path.join(WORK, "sim-v3-store")
    p = Proxy(root, store, 0, "--upstream-url", up.url)
    t3 = "/sgx/certification/v3/tcb?fmspc=0053494d0000"
    st, h, got = p.get(t3)
    chain = intel_quote(read(os.path.join(coll, "tcb_info_issuer_chain.pem")).decode())
    check(st == 200 and got == v2 and h.get("sgx-tcb-info-issuer-chain") == chain and
          "tcb-info-issuer-chain" not in h, "v3 tcb: version 2 TCB Info, SGX-TCB-Info-Issuer-Chain only",
          (st, h, got[:100]))
    st, h, got = p.get("/sgx/certification/v4/tcb?fmspc=0053494d0000")
    check(st == 200 and got == read(os.path.join(coll, "tcb_info.json")) and h.get("tcb-info-issuer-chain") == chain,
          "v4 tcb beside it: version 3, its own item", (st, got[:100]))
    check(os.path.exists(os.path.join(store, "sgx-tcb-0053494d0000-v3.item")), "v3 tcb stored under its own key")
    p.stop()
    up.fault("v4body /v3/tcb")
    store2 = os.path.join(WORK, "sim-v3-store2")
    p = Proxy(root, store2, 0, "--upstream-url", up.url)
    st, _, got = p.get(t3)
    check(st == 502 and b"TCB Info version 3, not 2" in got and
          not [f for f in os.listdir(store2) if f.endswith("-v3.item")],
          "v3 tcb: upstream's version 3 document refused, not stored", (st, got))
    p.stop()
    up.stop()
    # PUT v3's platformcollateral (pccsadmin's v3 form): tcbinfo, SGX-TCB-Info-Issuer-Chain
    tcb_chain = read(os.path.join(coll, "tcb_info_issuer_chain.pem")).decode()
    body = {"platforms": [], "collaterals": {
        "pck_certs": [], "tcbinfos": [{"fmspc": "0053494D0000", "tcbinfo": json.loads(v2)}],
        "certificates": {"SGX-PCK-Certificate-Issuer-Chain": {}, "SGX-TCB-Info-Issuer-Chain": intel_quote(tcb_chain)},
        "rootcacrl": read(os.path.join(coll, "root_ca_crl.der")).hex()}}
    store3 = os.path.join(WORK, "sim-v3-put")
    p = Proxy(root, store3, 0, "--mode", "offline", env=ADMIN)
    v3put = "/sgx/certification/v3/platformcollateral"
    bad4 = json.loads(json.dumps(body))
    bad4["collaterals"]["version"] = 4
    bad_sgx = json.loads(json.dumps(body))
    bad_sgx["collaterals"]["tcbinfos"][0]["sgx_tcbinfo"] = bad_sgx["collaterals"]["tcbinfos"][0].pop("tcbinfo")
    bad_v = json.loads(json.dumps(body))
    bad_v["collaterals"]["tcbinfos"][0]["tcbinfo"] = json.loads(read(os.path.join(coll, "tcb_info.json")))
    for b, why in ((bad4, b"'version' must be 3"), (bad_sgx, b"v3's body has 'tcbinfo' only"),
                   (bad_v, b"TCB Info version 3, not 2")):
        st, got = put(p.port, b, target=v3put)
        check(st == 400 and why in got and not os.listdir(store3), "PUT v3: refused (%s)" % why.decode(), (st, got))
    st, got = put(p.port, body, target=v3put)
    check(st == 200, "PUT v3: PCCS v3's body held", (st, got))
    st, _, got = p.get(t3)
    check(st == 200 and got == v2, "PUT v3: its TCB Info served on v3's path", (st, got[:100]))
    st, _, got = p.get("/sgx/certification/v3/platforms", headers={"admin-token": "adm"})
    check(st == 200 and got == b"[]", "GET v3 platforms", (st, got))
    st, got = post(p.port, "/sgx/certification/v3/refresh", b"", {"admin-token": "adm", "Content-Type": ""})
    check(st == 503 and b"offline mode" in got, "POST v3 refresh (offline: 503)", (st, got))
    p.stop()


# KT_TEST_COLLATERAL_ONLY=name,name runs only those (while working on one; not KT_COLLATERAL_*:
# the proxy refuses variables of its prefix that are no setting)
STEPS = [every_set, sim, faults, freshness, queries, offline, registration, platforms, eval_numbers,
         upstream, sqlite_store, tls, config, put_every_set, put_refusals, admin_platforms,
         admin_refresh, manifest, v3]
try:
    only = os.environ.get("KT_TEST_COLLATERAL_ONLY")
    for step in STEPS:
        if not only or step.__name__ in only.split(","):
            step()
finally:
    for pr in procs:
        if pr.poll() is None:
            pr.kill()
            pr.wait()
    if not os.environ.get("KT_TEST_COLLATERAL_KEEP"): shutil.rmtree(WORK, ignore_errors=True)
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
