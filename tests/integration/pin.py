"""pin.policy(): a policy pinning an enclave by what `kubetee dump` says of it, for the
tests that call or verify that enclave on the sim platform."""
import json
import subprocess


def policy(kubetee, enclave, path, *fields):
    """The enclave's identity (`kubetee dump --json`, a dict); writes to path a policy that
    allows simulated quotes with one rule pinning the given fields of it, in that order:
    mrenclave, mrsigner, isvprodid (the dump's prodid)."""
    ident = json.loads(subprocess.run([kubetee, "dump", "--enclave", enclave, "--json"], check=True,
                                      capture_output=True, text=True).stdout)
    rule = ", ".join(f"{f}: {ident['prodid' if f == 'isvprodid' else f]}" for f in fields)
    with open(path, "w") as f:
        f.write(f"allow_simulation: true\nrules:\n- {{{rule}}}\n")
    return ident
