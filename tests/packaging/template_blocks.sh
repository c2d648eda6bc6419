#!/usr/bin/env bash
# kubetee new's template blocks (tools/kubetee/template_blocks.cmake), through
# embed_templates.cmake as the build runs it: a layer's file extending base's is base's
# with the layer's blocks in place, byte for byte; base's own file drops only the markers;
# every misuse fails the embedding, naming the file, line and block.
set -uo pipefail
src=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh"
trap 'rm -rf "$work"' EXIT
embed=$src/tools/kubetee/embed_templates.cmake

# embed <dir>: the templates under <dir> embedded into $work/t.c
embed() { cmake -DDIR="$1" -DOUT="$work/t.c" -P "$embed"; }
# text <path>: what kubetee new would write for <path> (every file's for '*'), from $work/t.c
text() {
  python3 - "$work/t.c" "$1" <<'EOF'
import re, sys
c = open(sys.argv[1]).read()
arrays = dict(re.findall(r'static const unsigned char (t\d+)\[\d+ \+ 1\] = \{([^}]*)\};', c))
for path, name in re.findall(r'\{"([^"]+)", (t\d+), \d+\}', c):
    if sys.argv[2] in ('*', path):
        sys.stdout.buffer.write(bytes(int(x, 16) for x in arrays[name].split(',')[:-1]))
EOF
}

t=$work/ok
mkdir -p "$t/base" "$t/layer"
printf 'one; [two]\n@block a@\n\\n default a\n@end@\nthree ${X}\n@block names@\n@end@\n@block c@\nc\n@end@\nlast, no newline' \
  > "$t/base/f.c"
printf '@extends base/f.c@\n@block names@\nnew b\n\nb again\n@end@\n\n@block a@\n@end@\n' > "$t/layer/f.c"
printf 'plain\n' > "$t/layer/g.c"
check "embeds templates with blocks" embed "$t"
text base/f.c > "$work/base.out"
printf 'one; [two]\n\\n default a\nthree ${X}\nc\nlast, no newline' > "$work/base.want"
check "base's file: its markers dropped, every other byte kept" cmp "$work/base.out" "$work/base.want"
text layer/f.c > "$work/layer.out"
printf 'one; [two]\nthree ${X}\nnew b\n\nb again\nc\nlast, no newline' > "$work/layer.want"
check "the layer's file: base's, its blocks replaced (a, emptied; names: a name the walk uses itself), the others base's (c)" \
  cmp "$work/layer.out" "$work/layer.want"
text layer/g.c > "$work/g.out"
check "a file without markers as it is" bash -c "[ \"\$(cat '$work/g.out')\" = plain ]"

# bad <description> <expected text> <base/f.c> <layer/f.c>: the embedding fails, saying it
bad() {
  local d=$work/bad$((pass + fail))
  mkdir -p "$d/base" "$d/layer"
  printf '%b' "$3" > "$d/base/f.c"
  printf '%b' "$4" > "$d/layer/f.c"
  refuse "$1" "$2" embed "$d"
}
base='x\n@block a@\ny\n@end@\n'
bad "a block base does not have" "layer/f.c: block 'nope' is not one of base/f.c's (a)" \
  "$base" '@extends base/f.c@\n@block nope@\nz\n@end@\n'
bad "text outside a layer's blocks" "layer/f.c: lines outside its blocks" \
  "$base" '@extends base/f.c@\nstray\n@block a@\nz\n@end@\n'
bad "a block twice in a layer" "layer/f.c:4: block 'a' a second time" \
  "$base" '@extends base/f.c@\n@block a@\n@end@\n@block a@\n@end@\n'
bad "a block twice in base" "base/f.c:4: block 'a' a second time" \
  'x\n@block a@\n@end@\n@block a@\n@end@\n' 'plain\n'
bad "a block inside a block" "base/f.c:3: block 'b' inside block 'a'" \
  'x\n@block a@\n@block b@\n@end@\n@end@\n' 'plain\n'
bad "an @end@ with no block" "base/f.c:2: @end@ with no block open" 'x\n@end@\n' 'plain\n'
bad "a block left open" "base/f.c: block 'a' has no @end@" 'x\n@block a@\ny\n' 'plain\n'
bad "a malformed marker" "base/f.c:2: a malformed marker" 'x\n@block A-1@\n@end@\n' 'plain\n'
bad "extending a missing file" "layer/f.c:1: extends base/g.c, which is not a template" \
  "$base" '@extends base/g.c@\n@block a@\n@end@\n'
bad "extending an extending file" "base/f.c:1: extends layer/f.c, which extends another" \
  '@extends layer/f.c@\n' '@extends base/f.c@\n'
bad "an @extends line that is not one" "layer/f.c:1: a malformed marker (@extends LAYER/PATH@)" \
  "$base" '@extends ../etc/passwd@\n'

# the tree's own templates: every layer file resolves, no marker reaches a project
check "kubetee's templates embed" embed "$src/tools/kubetee/templates"
text '*' > "$work/all.out"
check "the tree's templates written" test -s "$work/all.out"
check "no marker reaches a project" bash -c "! grep -n '@block\|@end@\|@extends' '$work/all.out'"
finish
