#!/bin/sh
# check-options.sh - every option in --help is in the man page, and back.
#
# For each program and each pacer subcommand, runs --help and reads its
# options: those in the option table (a line starting with "-X" or
# "--name"), and every --long-option named anywhere in the text.  Then:
#   - each option of the table must be documented (a .TP tag) in the page;
#   - each long option named anywhere in --help must be named in the page;
#   - each option the page documents (a .TP tag) must be in --help.
# A pacer subcommand is checked against its ".SS pacer NAME" part of
# pacer.1's COMMANDS section; the global options and the daemons' against
# the OPTIONS section.  Every subcommand pacer --help lists must have its
# part, and every part must be a subcommand.
#
# Usage: check-options.sh BUILD_DIR SOURCE_DIR
set -u

build=$1
src=$2
man=$src/man
pacer=$build/cli/pacer
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

# The options of a --help text on stdin, one "KIND OPTION" a line: KIND is
# "table" (the option table) or "text" (a long option named anywhere).
help_options() {
	awk '
	{
		line = $0
		if (match(line, /^ +-/)) {
			s = substr(line, RLENGTH)
			if (match(s, /^-[A-Za-z0-9]/)) {
				print "table " substr(s, 1, 2)
				s = substr(s, 3)
				if (match(s, /^, /))
					s = substr(s, 3)
			}
			if (match(s, /^--[a-z][a-z0-9-]*/))
				print "table " substr(s, 1, RLENGTH)
		}
		while (match(line, /--[a-z][a-z0-9-]*/)) {
			print "text " substr(line, RSTART, RLENGTH)
			line = substr(line, RSTART + RLENGTH)
		}
	}' | sort -u
}

# The part of man page $1 for $2: "OPTIONS" (that .SH section) or
# "pacer CMD" (that .SS of the COMMANDS section), in roff.
page_part() {
	awk -v want="$2" '
	/^\.SH / { sh = $0; sub(/^\.SH +/, "", sh); gsub(/"/, "", sh); ss = ""; }
	/^\.SS / { ss = $0; sub(/^\.SS +/, "", ss); gsub(/"/, "", ss); }
	{
		if (want == "OPTIONS" ? sh == "OPTIONS" : (sh == "COMMANDS" && ss == want))
			print
	}' "$1"
}

# Roff on stdin as plain text: fonts, escapes and quotes removed.
plain() {
	sed -e 's/\\f[BIRP]//g' -e 's/\\f(..//g' -e 's/\\-/-/g' -e 's/\\&//g' -e 's/\\e/\\/g' \
	    -e 's/"//g' -e 's/^\.[A-Z][A-Z]* //'
}

# The options a man page part on stdin documents: its .TP tags.
page_tags() {
	awk 'tag { print; tag = 0 } /^\.TP/ { tag = 1 }' | plain | awk '
	{
		line = " " $0
		while (match(line, /[ ,[]-[A-Za-z0-9]([ ,=[]|$)/)) {
			print substr(line, RSTART + 1, 2)
			line = substr(line, RSTART + 3)
		}
		line = $0
		while (match(line, /--[a-z][a-z0-9-]*/)) {
			print substr(line, RSTART, RLENGTH)
			line = substr(line, RSTART + RLENGTH)
		}
	}' | sort -u
}

# check NAME PAGE PART HELP-COMMAND...: compare NAME's --help with PART of PAGE.
check() {
	name=$1 page=$2 part=$3
	shift 3
	if ! "$@" --help >"$tmp/help" 2>"$tmp/help.err"; then
		fail "$name --help failed: $(cat "$tmp/help.err")"
		return
	fi
	help_options <"$tmp/help" >"$tmp/help.opts"
	if [ ! -f "$man/$page" ]; then
		fail "$name has no man page: write man/$page"
		return
	fi
	page_part "$man/$page" "$part" >"$tmp/part"
	if [ ! -s "$tmp/part" ]; then
		if [ "$part" = OPTIONS ]; then
			fail "$page has no OPTIONS section for the options of '$name --help'"
		else
			fail "$page has no .SS \"$part\" under COMMANDS for '$name --help'"
		fi
		return
	fi
	page_tags <"$tmp/part" >"$tmp/tags"
	plain <"$tmp/part" >"$tmp/text"
	where="$page ($part)"
	[ "$part" = OPTIONS ] || where="$page (COMMANDS, .SS $part)"
	while read -r kind opt; do
		if [ "$kind" = table ]; then
			grep -qxF -- "$opt" "$tmp/tags" ||
				fail "option $opt is in '$name --help' but not documented in $where"
		else
			grep -qF -- "$opt" "$tmp/text" ||
				fail "option $opt is named in '$name --help' but not in $where"
		fi
	done <"$tmp/help.opts"
	while read -r opt; do
		grep -qE -- " $opt\$" "$tmp/help.opts" ||
			fail "option $opt is documented in $where but '$name --help' does not have it"
	done <"$tmp/tags"
}

[ -x "$pacer" ] || { echo "FAIL: no $pacer (build first)"; exit 1; }

check pacer pacer.1 OPTIONS "$pacer"
check pacerctld pacerctld.8 OPTIONS "$build/ctld/pacerctld"
check pacernoded pacernoded.8 OPTIONS "$build/noded/pacernoded"
check pacer-supervisor pacer-supervisor.8 OPTIONS "$build/noded/pacer-supervisor"
check pacer-local-cluster pacer-local-cluster.1 OPTIONS "$src/contrib/local-cluster"

# The subcommands: those pacer --help lists, and those pacer.1 has a part for.
"$pacer" --help | awk '/^Commands:/ { on = 1; next } /^$/ { on = 0 } on { print $1 }' \
	>"$tmp/commands"
[ -s "$tmp/commands" ] || fail "pacer --help lists no command (its 'Commands:' list changed?)"
awk '/^\.SH / { sh = $0 } /^\.SS / && sh ~ /COMMANDS/ { sub(/^\.SS +"?pacer /, ""); sub(/"$/, ""); print }' \
	"$man/pacer.1" >"$tmp/parts"
while read -r cmd; do
	grep -qxF "$cmd" "$tmp/parts" ||
		fail "pacer $cmd is in 'pacer --help' but pacer.1 has no .SS \"pacer $cmd\" under COMMANDS"
	check "pacer $cmd" pacer.1 "pacer $cmd" "$pacer" "$cmd"
done <"$tmp/commands"
while read -r cmd; do
	grep -qxF "$cmd" "$tmp/commands" ||
		fail "pacer.1 documents command 'pacer $cmd', which 'pacer --help' does not list"
done <"$tmp/parts"

if [ "$failures" -gt 0 ]; then
	echo "$failures problem(s): update the man page in man/ (or the --help text)"
	exit 1
fi
echo "ok: every option of every --help is in its man page, and back"
