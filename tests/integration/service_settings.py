"""Every service's settings, as operators read them (docs/operations.md "Configuration
(every service)"):

- a bad setting exits KT_SVC_EXIT_SETTINGS (2) in every service, whichever source it came
  from (an unknown YAML key, a bad value in a variable, an unknown flag, a configuration
  file that does not read), with the reason on stderr;
- docs/operations.md cannot drift from --help: the sections that copy --help (marked
  `<!-- --help: PROG -->` before the block) hold exactly its settings lines (WRITE_DOCS=1
  in the environment writes them), and every
  other service's section names each of its settings (key, flag or variable; a nested
  key by its last part, as in the section's YAML).

  service_settings.py SOURCE_DIR SERVE COLLATERAL SIGNER WEBHOOK DEVICE_PLUGIN AECS_SERVER"""
import os
import re
import subprocess
import sys
import tempfile

SRC = sys.argv[1]
SERVE, COLLATERAL, SIGNER, WEBHOOK, DP, AECS = sys.argv[2:8]
EXIT_SETTINGS = 2
# program, the arguments before the settings, its variables' prefix, its docs section
SERVICES = [(SERVE, [], "KT_SERVE_", "## kubetee-serve"),
            (COLLATERAL, ["serve"], "KT_COLLATERAL_", "## kubetee-collateral"),
            (SIGNER, ["serve"], "KT_SIGNER_", "## kubetee-signer"),
            (WEBHOOK, [], "SGX_WH_", "## sgx-webhook"),
            (DP, [], "SGX_DP_", "## sgx-device-plugin"),
            (AECS, [], "KT_AECS_", "## aecs-server")]
failed = []


def check(ok, what):
    print(("ok: " if ok else "FAILED: ") + what)
    if not ok:
        failed.append(what)


def run(prog, args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KT_", "SGX_"))}
    env.update(env_extra or {})
    r = subprocess.run([prog] + args, capture_output=True, text=True, timeout=30, env=env, stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout + r.stderr


def settings_of(help_text):
    """[(flag, variable, key)] of --help's table, and its lines from the first setting on."""
    rows = re.findall(r"^  --([a-z0-9-]+), ([A-Z0-9_]+), ([a-z0-9_.-]+):$", help_text, re.M)
    lines = help_text.splitlines()
    first = next(i for i, l in enumerate(lines) if l.startswith("  --"))
    return rows, [l.rstrip() for l in lines[first:] if l.strip()]


docs = open(os.path.join(SRC, "docs", "operations.md")).read()
work = tempfile.mkdtemp(prefix="kt-settings-")
bad_yaml = os.path.join(work, "bad.yaml")
with open(bad_yaml, "w") as f:
    f.write("no_such_setting: 1\n")
for prog, pre, prefix, heading in SERVICES:
    name = os.path.basename(prog)
    rc, help_text = run(prog, pre + ["--help"])
    rows, help_lines = settings_of(help_text)
    check(rc == 0 and len(rows) >= 5, f"{name} --help lists its settings ({len(rows)})")

    # ---- a bad setting, from each source: the same exit status everywhere ----
    for what, args, env in (("an unknown YAML key", ["--config", bad_yaml], None),
                            ("a configuration file that is not there", ["--config", os.path.join(work, "none.yaml")],
                             None),
                            ("an unknown flag", ["--no-such-setting", "1"], None),
                            ("an unknown variable with its prefix", [], {prefix + "NO_SUCH_SETTING": "1"}),
                            ("a bad value in a variable", [], {prefix + "LOG_FORMAT": "yaml"})):
        rc, text = run(prog, pre + args, env)
        check(rc == EXIT_SETTINGS and text.strip() != "",
              f"{name}: {what} exits {EXIT_SETTINGS} saying why (rc {rc}): {text.strip()[:160]}")

    # ---- the docs: its section, from its heading to the next one ----
    at = docs.find("\n" + heading)
    check(at >= 0, f"docs/operations.md has a section '{heading}'")
    end = docs.find("\n## ", at + 1)
    section = docs[at:end if end > 0 else len(docs)]
    marker = f"<!-- --help: {name} -->"
    if marker in section:
        block = re.search(re.escape(marker) + r"\s*```\n(.*?)```", section, re.S)
        got = [l.rstrip() for l in block.group(1).splitlines() if l.strip()] if block else []
        if block and got != help_lines and os.environ.get("WRITE_DOCS") == "1":
            fixed = section[:block.start(1)] + "\n".join(help_lines) + "\n" + section[block.end(1):]
            docs = docs[:at] + fixed + docs[at + len(section):]
            section, got = fixed, help_lines
            with open(os.path.join(SRC, "docs", "operations.md"), "w") as f:
                f.write(docs)
            print(f"wrote {name} --help into docs/operations.md")
        check(got == help_lines, f"{name}: the docs' copy of --help is --help's settings, exactly" +
              ("" if got == help_lines else ": differs at " + str(next((f"docs {a!r} / --help {b!r}" for a, b in
                                                                     zip(got + [""] * 99, help_lines + [""] * 99)
                                                                     if a != b), "")) +
                                                  " (WRITE_DOCS=1 ctest -R service_settings writes it)"))
    for flag, var, key in rows:
        named = any(re.search(r"(?<![A-Za-z0-9_.-])" + re.escape(w) + r"(?![A-Za-z0-9_-])", section)
                    for w in ("--" + flag, var, key) + ((key.split(".")[-1],) if "." in key else ()))
        check(named, f"{name}: docs/operations.md names its setting {key} (--{flag}, {var})")

print("every service's settings as documented" if not failed else f"{len(failed)} FAILED")
sys.exit(1 if failed else 0)
