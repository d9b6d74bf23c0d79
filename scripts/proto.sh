#!/usr/bin/env bash
# proto.sh generates and checks ringsim's gRPC API (proto/ringsim/v1).
#
#   scripts/proto.sh generate   regenerate the Go code committed next to the protos
#   scripts/proto.sh check      buf lint, buf breaking against the last landed version,
#                               and fail if regenerating changes the committed Go code
#
# buf and the protoc plugins are pinned Go tools (tools/go.mod, tools/protoc-gen-go.mod)
# run with `go tool`: the first run builds buf (about 100 s), later runs are cached.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

buf() { go tool -modfile=tools/go.mod buf "$@"; }

generate() {
	# Remove stale outputs first so that deleted protos do not leave code behind.
	find proto -name '*.pb.go' -delete
	buf generate
}

# against prints the buf input of the last landed version of the API: the newest commit
# on the current branch that is an ancestor of HEAD, is not HEAD itself and contains
# proto/. It prints nothing if there is none.
against() {
	git rev-parse --git-dir >/dev/null 2>&1 || return 0
	local c
	for c in $(git rev-list --first-parent HEAD~1 -- 2>/dev/null); do
		if git cat-file -e "$c:proto" 2>/dev/null; then
			echo ".git#ref=$c,subdir=proto"
			return 0
		fi
	done
}

check() {
	echo "proto: buf lint"
	buf lint

	local ref
	ref=$(against)
	if [[ -n $ref ]]; then
		echo "proto: buf breaking against $ref"
		buf breaking proto --against "$ref"
	else
		echo "proto: buf breaking skipped: no earlier commit on this branch contains proto/"
	fi

	echo "proto: regenerate and compare"
	local tmp
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' RETURN
	buf generate --template buf.gen.yaml -o "$tmp"
	local diffs=0
	while IFS= read -r -d '' f; do
		rel=${f#"$tmp"/}
		if ! cmp -s "$f" "$rel"; then
			echo "proto: $rel is stale: run scripts/proto.sh generate" >&2
			diffs=1
		fi
	done < <(find "$tmp" -name '*.pb.go' -print0)
	while IFS= read -r -d '' f; do
		if [[ ! -e $tmp/$f ]]; then
			echo "proto: $f is not generated from any proto: remove it" >&2
			diffs=1
		fi
	done < <(find proto -name '*.pb.go' -print0)
	if ((diffs)); then
		return 1
	fi
	echo "proto: ok"
}

case "${1:-}" in
generate) generate ;;
check) check ;;
*)
	echo "usage: $0 generate|check" >&2
	exit 2
	;;
esac
