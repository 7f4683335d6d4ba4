# bash completion for postie(1), also when it is installed as sendmail.
#
# Install: copy to /usr/share/bash-completion/completions/postie (for the
# sendmail name, add a symbolic link "sendmail" -> postie there), or source
# it from ~/.bashrc.
#
# The options and the words they take are read at completion time from
# "postie --help", so this file cannot fall behind the program:
#   --opt=ARG        takes an argument, attached or as the next word
#   --opt[=ARG]      takes an argument only when attached with =
#   ARG "a|b|WORD"   lower-case words are completed as they are; upper-case
#                    placeholders are expanded: MECH (SASL mechanisms),
#                    FACILITY (syslog), COND (DSN conditions), FILE and PATH
#                    (file names), HOST (host names).
# -a/--account completes the account names of the configuration file that
# postie would read (-C FILE, else $XDG_CONFIG_HOME/postie/config,
# ~/.postierc, ~/.msmtprc, $XDG_CONFIG_HOME/msmtp/config) and of the system
# file ($POSTIE_SYSTEM_CONFIG, else /etc/postierc, else /etc/msmtprc).

# _postie_expand_tilde WORD: WORD with a leading ~/ or ~ made $HOME.
_postie_expand_tilde() {
	# shellcheck disable=SC2088 # matches the "~" the user typed
	case $1 in
	"~") printf '%s\n' "$HOME" ;;
	"~/"*) printf '%s\n' "$HOME/${1#\~/}" ;;
	*) printf '%s\n' "$1" ;;
	esac
}

# _postie_help CMD: sets _postie_opts to lines "long<TAB>kind<TAB>argdoc"
# (kind: none, req or opt; long is "-X" for a short-only option) and
# _postie_short to lines "X<TAB>long" for short options that have a long
# name. Cached per program.
_postie_help_for=
_postie_opts=
_postie_short=
_postie_help() {
	local cmd=$1 prog help line re_long re_short long kind argdoc s
	prog=$(_postie_expand_tilde "$cmd")
	if [[ $prog != */* ]]; then
		prog=$(type -P -- "$prog") || return 1
	fi
	[[ $prog == "$_postie_help_for" && -n $_postie_opts ]] && return 0
	help=$("$prog" --help </dev/null 2>/dev/null) || return 1
	_postie_opts='' _postie_short=''
	# "  -C, --file=FILE   text", "  --auth[=on|off|MECH]  text", "  -r ADDR  text"
	re_long='^ +(-([A-Za-z]), )?--([a-z0-9][a-z0-9-]*)(\[=|=)?([^ ]*)'
	re_short='^ +-([A-Za-z])( ([^ ]+))? '
	while IFS= read -r line; do
		if [[ $line =~ $re_long ]]; then
			s=${BASH_REMATCH[2]} long=--${BASH_REMATCH[3]}
			argdoc=${BASH_REMATCH[5]}
			case ${BASH_REMATCH[4]} in
			"[=") kind=opt argdoc=${argdoc%]} ;;
			"=") kind=req ;;
			*) kind=none ;;
			esac
			_postie_opts+="$long"$'\t'"$kind"$'\t'"$argdoc"$'\n'
			[[ -n $s ]] && _postie_short+="$s"$'\t'"$long"$'\n'
		elif [[ $line =~ $re_short ]]; then
			s=${BASH_REMATCH[1]} argdoc=${BASH_REMATCH[3]}
			kind=none
			[[ -n $argdoc ]] && kind=req
			_postie_opts+="-$s"$'\t'"$kind"$'\t'"$argdoc"$'\n'
		fi
	done <<<"$help"
	_postie_help_for=$prog
	[[ -n $_postie_opts ]]
}

# _postie_optinfo NAME: prints "kind<TAB>argdoc<TAB>long" for --long or -X.
_postie_optinfo() {
	local name=$1 l k a s long
	if [[ $name == -[A-Za-z] ]]; then
		while IFS=$'\t' read -r s long; do
			[[ -n $s && -$s == "$name" ]] && { name=$long; break; }
		done <<<"$_postie_short"
	fi
	while IFS=$'\t' read -r l k a; do
		if [[ -n $l && $l == "$name" ]]; then
			printf '%s\t%s\t%s\n' "$k" "$a" "$l"
			return 0
		fi
	done <<<"$_postie_opts"
	return 1
}

# _postie_config_files WORD...: the user and system files postie would read,
# given the words of the command line (for -C FILE / --file=FILE).
_postie_config_files() {
	local i w user='' xdg=${XDG_CONFIG_HOME:-$HOME/.config} f
	for ((i = 2; i <= $#; i++)); do
		w=${!i}
		case $w in
		-C | --file)
			i=$((i + 1))
			user=${!i}
			;;
		--file=*) user=${w#--file=} ;;
		-C?*) user=${w#-C} ;;
		--) break ;;
		esac
	done
	if [[ -n $user ]]; then
		_postie_expand_tilde "$user"
	else
		for f in "$xdg/postie/config" "$HOME/.postierc" "$HOME/.msmtprc" "$xdg/msmtp/config"; do
			if [[ -f $f ]]; then
				printf '%s\n' "$f"
				break
			fi
		done
	fi
	if [[ -n ${POSTIE_SYSTEM_CONFIG:-} ]]; then
		printf '%s\n' "$POSTIE_SYSTEM_CONFIG"
	elif [[ -f /etc/postierc ]]; then
		printf '%s\n' /etc/postierc
	else
		printf '%s\n' /etc/msmtprc
	fi
}

# _postie_accounts FILE...: the account names defined in these files
# ("account NAME" or "account NAME : parents"); eval lines are not run.
_postie_accounts() {
	local f line name
	for f; do
		[[ -r $f && -f $f ]] || continue
		while IFS= read -r line || [[ -n $line ]]; do
			line=${line%$'\r'}
			[[ $line =~ ^[[:blank:]]*account[[:blank:]]+([^:]*[^:[:blank:]]) ]] || continue
			name=${BASH_REMATCH[1]}
			name=${name#\"}
			name=${name%\"}
			printf '%s\n' "$name"
		done <"$f"
	done | sort -u
}

# _postie_values ARGDOC CUR: sets COMPREPLY to the completions of CUR, an
# argument described by ARGDOC ("on|off|MECH", "FILE", ...).
_postie_values() {
	local argdoc=$1 cur=$2 word parts=() words=() prefix=
	IFS='|' read -r -a parts <<<"$argdoc"
	for word in "${parts[@]}"; do
		case $word in
		[a-z]*) words+=("$word") ;;
		MECH) words+=(plain login scram-sha-256-plus scram-sha-1-plus scram-sha-256
			scram-sha-1 cram-md5 digest-md5 external gssapi ntlm xoauth2 oauthbearer) ;;
		FACILITY) words+=(LOG_USER LOG_MAIL LOG_LOCAL{0..7}) ;;
		COND)
			# a comma-separated list: complete its last element
			[[ $cur == *,* ]] && prefix=${cur%,*},
			words+=(never failure delay success)
			;;
		HOST) mapfile -t -O "${#words[@]}" words < <(compgen -A hostname -- "$cur") ;;
		FILE | PATH)
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
			return 0
			;;
		esac
	done
	if [[ -n $prefix ]]; then
		mapfile -t COMPREPLY < <(compgen -P "$prefix" -W "${words[*]}" -- "${cur##*,}")
	else
		mapfile -t COMPREPLY < <(compgen -W "${words[*]}" -- "$cur")
	fi
}

# _postie_value OPTION CUR: complete the argument CUR of OPTION.
_postie_value() {
	local opt=$1 cur=$2 info kind argdoc long
	info=$(_postie_optinfo "$opt") || return 1
	IFS=$'\t' read -r kind argdoc long <<<"$info"
	case $long in
	--account)
		local files=()
		mapfile -t files < <(_postie_config_files "${COMP_WORDS[@]}")
		mapfile -t COMPREPLY < <(compgen -W "$(_postie_accounts "${files[@]}")" -- "$cur")
		return 0
		;;
	esac
	_postie_values "$argdoc" "$cur"
	return 0
}

_postie() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev='' prev2='' i opt info kind argdoc long
	local l k a opts=()
	COMPREPLY=()
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	((COMP_CWORD > 1)) && prev2=${COMP_WORDS[COMP_CWORD - 2]}
	_postie_help "${COMP_WORDS[0]}" || return 0

	# after "--" everything is a recipient
	for ((i = 1; i < COMP_CWORD; i++)); do
		[[ ${COMP_WORDS[i]} == -- ]] && return 0
	done

	# --opt=value: "=" may be a word of its own (COMP_WORDBREAKS) or not
	if [[ $cur == = && $prev == --* ]]; then
		_postie_value "$prev" ""
		return 0
	fi
	if [[ $prev == = && $prev2 == --* ]]; then
		_postie_value "$prev2" "$cur"
		return 0
	fi
	if [[ $cur == --*=* ]]; then
		opt=${cur%%=*}
		_postie_value "$opt" "${cur#*=}" || return 0
		# the word includes the option: put it back in front
		for i in "${!COMPREPLY[@]}"; do
			COMPREPLY[i]=$opt=${COMPREPLY[i]}
		done
		return 0
	fi

	# the argument of an option given as the next word
	if [[ $prev == -* && $prev != -- ]] && info=$(_postie_optinfo "$prev"); then
		IFS=$'\t' read -r kind argdoc long <<<"$info"
		if [[ $kind == req ]]; then
			_postie_value "$prev" "$cur"
			return 0
		fi
	fi

	if [[ $cur == -* ]]; then
		while IFS=$'\t' read -r l k a; do
			[[ -n $l ]] || continue
			[[ $l == --* || $cur != --* ]] || continue
			if [[ $k == req && $l == --* ]]; then
				opts+=("$l=")
			else
				opts+=("$l")
			fi
		done <<<"$_postie_opts"
		# short forms of options that also have a long name
		if [[ $cur != --* ]]; then
			while IFS=$'\t' read -r l k; do
				[[ -n $l ]] && opts+=("-$l")
			done <<<"$_postie_short"
		fi
		mapfile -t COMPREPLY < <(compgen -W "${opts[*]}" -- "$cur")
		# "--file=" waits for its argument
		if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]]; then
			compopt -o nospace 2>/dev/null
		fi
		return 0
	fi
	# a recipient: nothing to offer
	return 0
}

complete -F _postie postie
# As sendmail: only when that name is postie, so that another MTA's
# sendmail keeps its own completion.
_postie_is_sendmail() {
	local p t
	for p in "$(type -P sendmail 2>/dev/null)" /usr/sbin/sendmail /usr/lib/sendmail; do
		[[ -n $p && -e $p ]] || continue
		t=$(readlink -f -- "$p" 2>/dev/null) || continue
		[[ ${t##*/} == postie ]] && return 0
	done
	return 1
}
if _postie_is_sendmail; then
	complete -F _postie sendmail /usr/sbin/sendmail /usr/lib/sendmail
fi
unset -f _postie_is_sendmail
