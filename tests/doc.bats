#!/usr/bin/env bats
# The man pages: clean for mandoc's and groff's checkers, and complete:
# every option that --help lists is in postie(1), every keyword of the
# configuration parser's table is an entry in postierc(5). The tables are
# read through the program: postie --dump-keywords.

setup() {
	DOCDIR="${DOCDIR:-$BATS_TEST_DIRNAME/../doc}"
	: "${POSTIE:?POSTIE must name the postie binary (make check sets it)}"
}

# lint_mandoc PAGE: mandoc's warnings (and worse) for the page.
lint_mandoc() {
	command -v mandoc >/dev/null || { echo "mandoc is not installed (Debian package mandoc)" >&2; return 1; }
	run mandoc -T lint -W warning "$DOCDIR/$1"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

# lint_groff PAGE: what man-db and groff warn about while formatting it.
lint_groff() {
	local err="$BATS_TEST_TMPDIR/groff.err"
	LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 \
		man --warnings -E UTF-8 -l "$DOCDIR/$1" >/dev/null 2>"$err"
	cat "$err"
	[ ! -s "$err" ]
}

# section PAGE NAME: the plain text of one section of the formatted page,
# wide enough that no option or keyword is broken across lines.
section() {
	env -u MAN_KEEP_FORMATTING LC_ALL=C.UTF-8 MANWIDTH=200 man -l "$DOCDIR/$1" 2>/dev/null |
		awk -v s="$2" '$0 == s { on = 1; next } /^[A-Z]/ { on = 0 } on'
}

# The options --help lists: its option lines start with two spaces and a
# dash; each -X and --long-name before the description (which starts
# after a run of at least two spaces) is one option.
help_options() {
	"$POSTIE" --help | sed -n 's/^  \(-.*\)/\1/p' | sed 's/  .*//' |
		grep -oE '(^|[ ,])--?[A-Za-z0-9][-A-Za-z0-9]*' | sed 's/^[ ,]//' | sort -u
}

# dump KIND: the rows of one table ("keyword" or "option") that
# --dump-keywords prints, without the kind column.
dump() {
	"$POSTIE" --dump-keywords | awk -F '\t' -v k="$1" -v OFS='\t' '$1 == k { $1 = ""; print substr($0, 2) }'
}

# The keywords of the configuration parser's table.
conf_keywords() {
	dump keyword | cut -f1
}

@test "doc: mandoc -T lint finds nothing in postie.1" { lint_mandoc postie.1; }
@test "doc: mandoc -T lint finds nothing in postierc.5" { lint_mandoc postierc.5; }
@test "doc: man --warnings finds nothing in postie.1" { lint_groff postie.1; }
@test "doc: man --warnings finds nothing in postierc.5" { lint_groff postierc.5; }

@test "doc: every option of --help is in the OPTIONS of postie.1" {
	local opts text missing=() n=0
	opts=$(help_options)
	text=$(section postie.1 OPTIONS)
	[ -n "$text" ]
	for o in $opts; do
		n=$((n + 1))
		grep -qE -- "(^|[^-[:alnum:]])$o([^-[:alnum:]]|\$)" <<<"$text" || missing+=("$o")
	done
	echo "options in --help: $n; missing from postie.1: ${missing[*]}"
	# the parser found the options (--help lists about sixty)
	[ "$n" -ge 40 ]
	[ "${#missing[@]}" -eq 0 ]
}

@test "doc: every keyword of the configuration parser is an entry in postierc.5" {
	local kws text missing=() n=0
	kws=$(conf_keywords)
	text=$(section postierc.5 KEYWORDS)
	[ -n "$text" ]
	for k in $kws; do
		n=$((n + 1))
		# an entry's tag line: the keyword at the tag indent, then its argument
		grep -qE "^       $k( |\$)" <<<"$text" || missing+=("$k")
	done
	echo "keywords in the table: $n; without an entry in postierc.5: ${missing[*]}"
	[ "$n" -ge 40 ]
	[ "${#missing[@]}" -eq 0 ]
}

@test "doc: every keyword entry in postierc.5 is a keyword the parser knows" {
	local kws tags unknown=()
	kws=$(conf_keywords)
	# an entry's tag: a word at the tag indent whose next line is indented
	# as an entry's body (a paragraph line is followed by one like itself)
	tags=$(section postierc.5 KEYWORDS | awk '
		prev != "" && /^              [^ ]/ { print prev }
		{ prev = "" }
		/^       [a-z][a-z0-9_]*( |$)/ { split($0, w, " "); prev = w[1] }')
	[ -n "$tags" ]
	for t in $tags; do
		grep -qx -- "$t" <<<"$kws" || unknown+=("$t")
	done
	echo "entries for unknown keywords: ${unknown[*]}"
	[ "${#unknown[@]}" -eq 0 ]
}

# row FIELD...: one tab-separated row, as --dump-keywords prints it.
row() {
	local IFS=$'\t'
	echo "$*"
}

@test "doc: --dump-keywords prints both tables, tab-separated" {
	run "$POSTIE" --dump-keywords
	[ "$status" -eq 0 ]
	# keyword NAME ARG DEFAULT OBSOLETE DOC
	grep -qxF "$(row keyword host hostname '' 0 'the SMTP server (name or address)')" <<<"$output"
	grep -qxF "$(row keyword tls_trust_file '[file]' system 0 'trusted CA certificates (PEM), or "system"')" <<<"$output"
	grep -qxF "$(row keyword keepbcc '[(on|off)]' '' 1 'obsolete: on means remove_bcc_headers off')" <<<"$output"
	# option LONG SHORT ARGUMENT ARGDOC KEYWORD DOC
	grep -qxF "$(row option read-recipients -t none '' '' 'add recipients from To, Cc and Bcc')" <<<"$output"
	grep -qxF "$(row option dsn-return -R required 'off|headers|full' dsn_return 'DSN RET: off, headers or full')" <<<"$output"
	grep -qxF "$(row option '' -h required N '' '')" <<<"$output"
	grep -qxF "$(row option dump-keywords '' none '' '' '')" <<<"$output"
	# every row has all its fields, and nothing else is printed
	awk -F '\t' '!(($1 == "keyword" && NF == 6) || ($1 == "option" && NF == 7)) { bad++ }
		END { exit bad > 0 }' <<<"$output"
	[ "$(grep -c '^keyword' <<<"$output")" -ge 40 ]
	[ "$(grep -c '^option' <<<"$output")" -ge 60 ]
}

@test "doc: an option that sets a keyword names one, and --help shows the keyword's doc" {
	local kws help bad=() n=0
	kws=$(dump keyword)
	help=$("$POSTIE" --help)
	# the rows with a keyword: LONG KEYWORD DOC, split at a separator that
	# read does not merge when a field is empty (as it merges tabs)
	while IFS=$'\037' read -r long key doc; do
		n=$((n + 1))
		awk -F '\t' -v k="$key" '$1 == k { found = 1 } END { exit !found }' <<<"$kws" || bad+=("--$long:$key")
		[ -n "$doc" ] && [ "$doc" = "$(awk -F '\t' -v k="$key" '$1 == k { print $5 }' <<<"$kws")" ] ||
			bad+=("--$long:doc")
		grep -qF -- "--$long" <<<"$help" && grep -qF -- "$doc" <<<"$help" || bad+=("--$long:help")
	done < <(dump option | awk -F '\t' -v OFS='\037' '$5 != "" { print $1, $5, $6 }')
	echo "options that set a keyword: $n; wrong: ${bad[*]}"
	[ "$n" -ge 30 ]
	[ "${#bad[@]}" -eq 0 ]
}

@test "doc: --help lists the ignored flags and hides --dump-keywords" {
	run "$POSTIE" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *$'\nAccepted and ignored for sendmail compatibility: -i -oX -BX -AX -G -hN -LX -m -n -OX -U -x\n'* ]]
	[[ "$output" != *dump-keywords* ]]
}

@test "doc/HACKING's module table names every source file, and only those" {
	local srcdir="$DOCDIR/../src" table="$BATS_TEST_TMPDIR/table" files="$BATS_TEST_TMPDIR/files"
	# the first column of the table rows: "| main.c, options.h | ..."
	grep '^| [a-z]' "$DOCDIR/HACKING" | grep -v '^| file |' | cut -d'|' -f2 | tr ',' '\n' |
		tr -d ' ' | grep . | sort >"$table"
	(cd "$srcdir" && ls *.c options.h) | sort >"$files"
	run diff "$table" "$files"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(wc -l <"$files")" -gt 10 ]
}
