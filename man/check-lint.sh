#!/bin/sh
# check-lint.sh - man --warnings has nothing to say about any page given.
#
# Usage: check-lint.sh PAGE...
set -u

command -v man >/dev/null 2>&1 ||
	{ echo "FAIL: no man command (contrib/install-deps installs man-db and groff-base)"; exit 1; }
failures=0
for page in "$@"; do
	if [ ! -s "$page" ]; then
		echo "FAIL: $page is missing or empty"
		failures=$((failures + 1))
		continue
	fi
	# Rendered as a user would see it; any warning on stderr is a failure.
	warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
	if [ -n "$warnings" ]; then
		echo "FAIL: man --warnings -l $page:"
		echo "$warnings"
		failures=$((failures + 1))
	fi
done
[ "$failures" -eq 0 ] || exit 1
echo "ok: $# pages render without warnings"
