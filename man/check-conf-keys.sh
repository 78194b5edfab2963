#!/bin/sh
# check-conf-keys.sh - docs/configuration.md and pacer.conf(5) document
# exactly the keys of the parser's tables (common/conf_keys.c).
#
# configuration.md has a table per section, under "## [cluster]",
# "## [nodes:GROUP]" and "## [partition:NAME]", with a row "| `key` | ..."
# per key: every key of the tables must have its row in its section, and
# every row must be a key.  The generated man page must have a tag
# ".BI "key = " per key (it is written from the same tables; this catches a
# build that did not regenerate it).
#
# Usage: check-conf-keys.sh PACER-CONFDOC CONFIGURATION.MD PACER.CONF.5
set -u

confdoc=$1 md=$2 page=$3
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0

"$confdoc" keys >"$tmp/table" || { echo "FAIL: $confdoc keys failed"; exit 1; }
[ -s "$tmp/table" ] || { echo "FAIL: $confdoc keys printed nothing"; exit 1; }

# "SECTION KEY" for every key row of the markdown's key sections.
awk '
/^## / { sect = ""; if (match($0, /^## \[[a-z]+(:[A-Z]+)?\]$/)) sect = substr($0, 5, length($0) - 5) }
sect != "" && /^\| `[a-z_]+` \|/ { key = $2; gsub(/`/, "", key); print sect " " key }
' "$md" | sort >"$tmp/doc"
sort "$tmp/table" >"$tmp/table.sorted"

while read -r sect key; do
	grep -qxF "$sect $key" "$tmp/doc" ||
		{ echo "FAIL: key '$key' of [$sect] is not in $md (add a row | \`$key\` | ... under ## [$sect])"; failures=$((failures + 1)); }
	grep -qF ".BI \"$key = \"" "$page" ||
		{ echo "FAIL: key '$key' of [$sect] is not in $page (rebuild: it is generated)"; failures=$((failures + 1)); }
done <"$tmp/table.sorted"
while read -r sect key; do
	grep -qxF "$sect $key" "$tmp/table.sorted" ||
		{ echo "FAIL: $md documents key '$key' in [$sect], which the parser does not have (common/conf_keys.c)"; failures=$((failures + 1)); }
done <"$tmp/doc"

[ "$failures" -eq 0 ] || exit 1
echo "ok: $(wc -l <"$tmp/table") keys, each in $md and the man page, and no other"
