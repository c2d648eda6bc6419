#!/usr/bin/python3
"""PCCS's PUT /platformcollateral body for one shared set, as PCCS's admin tool (pccsadmin
fetch) writes it: chains as the PCS response headers carry them (URL-encoded), CRLs as hex
of their DER, identities as the PCS bodies' text, TCB Info as parsed JSON, written with
Python's json.dump (", " and ": " between items, which the proxy must write compactly
again to find the signed bytes).

usage: platformcollateral.py <set dir>   (prints the body)"""
import json
import os
import subprocess
import sys
import urllib.parse


def _read(d, name):
    with open(os.path.join(d, name), "rb") as f:
        return f.read()


def quote(pem):
    return urllib.parse.quote(pem, safe="-_.!~*'()")


def facts(d):
    exp = json.loads(_read(d, "expected.json"))
    tcb = json.loads(_read(d, "tcb_info.json"))
    tee = "tdx" if tcb["tcbInfo"].get("id") == "TDX" else "sgx"
    issuer = subprocess.run(["openssl", "crl", "-inform", "der", "-in", os.path.join(d, "pck_crl.der"),
                             "-noout", "-issuer"], capture_output=True).stdout
    ca = "platform" if b"Platform CA" in issuer else "processor"
    return exp, tcb, tee, ca


def leaf(d):
    chain = _read(d, "pck_chain.pem")
    end = b"-----END CERTIFICATE-----\n"
    return chain[:chain.index(end) + len(end)].decode()


def platform(exp, ppid="ab" * 384):
    pck = exp["pck"]
    return {"qe_id": exp["header"]["user_data"][:32], "pce_id": pck["pceid"],
            "cpu_svn": pck["cpusvn"], "pce_svn": "%02x%02x" % (pck["pcesvn"] & 255, pck["pcesvn"] >> 8),
            "enc_ppid": ppid, "platform_manifest": ""}


def body(d, ppid="ab" * 384):
    """The body as a Python object (callers change it, then json.dumps it)."""
    exp, tcb, tee, ca = facts(d)
    pck = exp["pck"]
    pl = platform(exp, ppid)
    tcb_fields = {"sgxtcbcomp%02dsvn" % (i + 1): v for i, v in enumerate(pck["sgx_tcb_components"])}
    tcb_fields["pcesvn"] = pck["pcesvn"]
    tcbm = (pck["cpusvn"] + pl["pce_svn"]).upper()
    crls = {("platformCrl" if ca == "platform" else "processorCrl"): _read(d, "pck_crl.der").hex()}
    ids = {("tdqeidentity" if tee == "tdx" else "qeidentity"): _read(d, "qe_identity.json").decode()}
    c = {
        "version": 4,
        "pck_certs": [{"qe_id": pl["qe_id"], "pce_id": pl["pce_id"], "enc_ppid": ppid,
                       "platform_manifest": "",
                       "certs": [{"tcb": tcb_fields, "tcbm": tcbm, "cert": quote(leaf(d))}]}],
        "tcbinfos": [{"fmspc": tcb["tcbInfo"]["fmspc"], tee + "_tcbinfo": tcb}],
        "pckcacrl": crls,
        "certificates": {
            "SGX-PCK-Certificate-Issuer-Chain": {ca.upper(): quote(_read(d, "pck_crl_issuer_chain.pem").decode())},
            "TCB-Info-Issuer-Chain": quote(_read(d, "tcb_info_issuer_chain.pem").decode()),
            "SGX-Enclave-Identity-Issuer-Chain": quote(_read(d, "qe_identity_issuer_chain.pem").decode()),
        },
        "rootcacrl": _read(d, "root_ca_crl.der").hex(),
    }
    c.update(ids)
    return {"platforms": [pl], "collaterals": c}


if __name__ == "__main__":
    sys.stdout.write(json.dumps(body(sys.argv[1])))
