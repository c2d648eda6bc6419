"""What the Python tests judge with: check = Checks(); check(ok, what) for every step.
It counts the checks and keeps what failed (check.failed); it prints every check ("ok: " /
"FAILED: ", cut at 400 characters) or, with quiet=True, only the failed ones ("FAIL: ").
check.finish() prints "N passed, M failed" and exits 1 when any failed, 0 otherwise."""
import sys


class Checks:
    def __init__(self, quiet=False):
        self.quiet = quiet
        self.count = 0
        self.failed = []

    def __call__(self, ok, what):
        self.count += 1
        if self.quiet:
            if not ok:
                print("FAIL:", what)
        else:
            print(("ok: " if ok else "FAILED: ") + what[:400])
        if not ok:
            self.failed.append(what)

    def finish(self):
        print(f"{self.count - len(self.failed)} passed, {len(self.failed)} failed")
        sys.exit(1 if self.failed else 0)
