# Shared by the shell tests: a scratch directory, counters, and the two ways a step is
# judged. Each test sources this, runs its steps, then calls `finish`.
work=$(mktemp -d)
pass=0
fail=0

# expect <exit status> <text in output> <description> <command...>
expect() {
  local want=$1 text=$2 what=$3
  shift 3
  "$@" >"$work/out" 2>&1
  local got=$?
  if [ "$got" = "$want" ] && { [ -z "$text" ] || grep -q -- "$text" "$work/out"; }; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL: $what (exit $got, wanted $want and '$text')"
    cat "$work/out"
  fi
}

# check <description> <command...>: the command must succeed
check() { expect 0 "" "$@"; }

# refuse <description> <expected text> <command...>: must fail, saying the text
refuse() {
  local what=$1 text=$2
  shift 2
  "$@" >"$work/out" 2>&1
  local got=$?
  if [ "$got" != 0 ] && grep -q -- "$text" "$work/out"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL: $what (exit $got, wanted a failure saying '$text')"
    cat "$work/out"
  fi
}

finish() {
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ]
}
