"""What the AECS end-to-end tests share: keys, the AECS enclave's identity, the policy the
tools verify it by, and an aecs-server configuration on a store under work."""
import json
import os
import subprocess


def keygen(work, name, curve="prime256v1"):
    path = os.path.join(work, name + ".pem")
    subprocess.run(["openssl", "ecparam", "-name", curve, "-genkey", "-noout", "-out", path], check=True,
                   capture_output=True)
    return path


def aecs_files(work, enclave, kubetee, extra=""):
    """(identity, policy path, config path): the enclave's `kubetee dump`, a policy pinning
    it, and a configuration (gRPC and HTTP on free ports, store and audit file in work)."""
    ident = json.loads(subprocess.run([kubetee, "dump", "--enclave", enclave, "--json"], check=True,
                                      capture_output=True, text=True).stdout)
    policy = os.path.join(work, "aecs-policy.yaml")
    with open(policy, "w") as f:
        f.write(f"allow_simulation: true\nrules:\n- {{mrenclave: {ident['mrenclave']}, mrsigner: {ident['mrsigner']}, "
                f"isvprodid: {ident['prodid']}}}\n")
    config = os.path.join(work, "aecs.yaml")
    with open(config, "w") as f:
        f.write(f"listen: 127.0.0.1:0\nhttp: 127.0.0.1:0\nstore: fs:{work}/store\nenclave: {enclave}\n"
                f"audit_file: {work}/audit.log\n{extra}")
    return ident, policy, config
