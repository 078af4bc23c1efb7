#!/usr/bin/env bash
# Copyright (c) 2026 The ocbroker authors
# SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
#
# Captures the "Protocol v2" fixtures from the real, pinned OpenCode server.
#
# usage: tests/e2e/capture-v2.sh [OUTDIR]
#
# It starts opencode-linux-x64@1.18.34 offline against tests/e2e/mock_llm.py
# with tests/e2e/opencode.sh (fresh state dir), drives every v2 scenario
# with curl and writes the files into OUTDIR (default tests/fixtures/).
# Each sse-*.txt is one fresh `curl -sS -N $URL/event` opened before its
# scenario and closed ~1.5 s after the scenario's last session.idle.
# Formats and path placeholders are those of tests/fixtures/README.md: at the
# end every occurrence of <state>/home becomes /home/user, <state>/tmp
# becomes /tmp and any other <state> becomes /ocb-state, in the files
# written here only.  Ids, times and the mock's port differ on every run.
#
# Scenarios, in order (the mock's answer is chosen by the prompt's first
# word, see mock_llm.py):
#   warm-up      a `text` chat, not captured (first-prompt plugin noise)
#   kitchen      one session, "v2 kitchen sink": think, edit, a prompt with
#                a data: file part, todo, question (replied), summarize;
#                then its message list (full, ?limit=2, ?limit&before)
#   reject       `question` in a new session, rejected
#   full         `full` in a new session: reasoning+todowrite, question
#                (replied Blue), bash (permission, replied once), text
#   fork         POST /session/{kitchen}/fork without and with messageID
#   revert       `edit` then `text` in a new session; revert to the edit
#                turn, unrevert, revert again, then a new prompt
#   command      GET /command; POST /session/{id}/command ocb-think
#   errors       unknown/malformed ids on every new endpoint
#
# Needs bash, curl, jq, base64, and what opencode.sh needs (npm once).
# Exit status: 0; 1 on an error; 77 when the server cannot be installed.

set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
srcdir=$(cd -- "$here/../.." && pwd)
ctl=$here/opencode.sh
out=${1:-$srcdir/tests/fixtures}
readonly NOSES=ses_0000000000000000000000000000
readonly NOMSG=msg_0000000000000000000000000000
readonly NOQUE=que_0000000000000000000000000000
readonly WAIT=60	# seconds to wait for any one thing

state=
work=
url=
sse_pid=
sse_file=

say() {
	printf 'capture-v2: %s\n' "$*" >&2
}

die() {
	say "$*"
	exit 1
}

# shellcheck disable=SC2317  # reached through the trap
cleanup() {
	local st=$?
	trap - EXIT INT TERM
	[[ -z $sse_pid ]] || kill "$sse_pid" 2>/dev/null || true
	if [[ -n $state && -d $state ]]; then
		OCB_E2E_DIR=$state "$ctl" stop || say "stopping the server failed"
	fi
	[[ -z $work ]] || rm -rf -- "$work"
	exit "$st"
}

# ---- HTTP ----

# path of a fixture, remembered (in a file: fx runs in $(...)) for the
# placeholder pass
fx() {
	printf '%s\n' "$1" >>"$work/written"
	printf '%s' "$out/$1"
}

# getj NAME PATH: the body of GET PATH into NAME (as received).
getj() {
	curl -sS -o "$(fx "$1")" "$url$2"
}

# body METHOD PATH [JSON]: the response body on stdout.
body() {
	if [[ $# -ge 3 ]]; then
		curl -sS -X "$1" -H 'Content-Type: application/json' \
		    --data-binary "$3" "$url$2"
	else
		curl -sS -X "$1" "$url$2"
	fi
}

# xhttp NAME METHOD PATH [JSON]: one exchange into NAME in the README's
# .http format; the body is also left in $work/last.body.
xhttp() {
	local f h b
	f=$(fx "$1")
	h=$work/last.head
	b=$work/last.body
	if [[ $# -ge 4 ]]; then
		curl -sS -X "$2" -H 'Content-Type: application/json' \
		    --data-binary "$4" -D "$h" -o "$b" "$url$3"
	else
		curl -sS -X "$2" -D "$h" -o "$b" "$url$3"
	fi
	{
		printf '> %s %s HTTP/1.1\n' "$2" "$3"
		[[ $# -lt 4 ]] || printf '> Content-Type: application/json\n'
		printf '>\n'
		[[ $# -lt 4 ]] || printf '> %s\n' "$4"
		tr -d '\r' <"$h" | sed '/^$/d; s/^/< /'
		printf '<\n'
		cat -- "$b"
	} >"$f"
}

new_session() {
	body POST /session "{\"title\":\"$1\"}" | jq -r .id
}

prompt() {
	local st
	st=$(curl -sS -o /dev/null -w '%{http_code}' -X POST \
	    -H 'Content-Type: application/json' \
	    --data-binary "{\"parts\":[{\"type\":\"text\",\"text\":\"$2\"}]}" \
	    "$url/session/$1/prompt_async")
	[[ $st == 204 ]] || die "prompt_async $2 answered $st"
}

# ---- SSE ----

# sse_open NAME: a transcript into fixture NAME, or into $work/NAME when
# NAME starts with "tmp-" (not a fixture).
sse_open() {
	local i
	if [[ $1 == tmp-* ]]; then
		sse_file=$work/$1
	else
		sse_file=$(fx "$1")
	fi
	curl -sS -N "$url/event" >"$sse_file" &
	sse_pid=$!
	for ((i = 0; i < WAIT * 10; i++)); do
		grep -q '"type":"server.connected"' "$sse_file" && return 0
		sleep 0.1
	done
	die "no server.connected on /event"
}

sse_close() {
	[[ $sse_file == "$work"/* ]] || sleep 1.5
	kill "$sse_pid" 2>/dev/null || true
	wait "$sse_pid" 2>/dev/null || true
	sse_pid=
}

# until_grep FILE PATTERN: wait until FILE holds the fixed string PATTERN.
until_grep() {
	local i
	for ((i = 0; i < WAIT * 10; i++)); do
		grep -qF -- "$2" "$1" && return 0
		sleep 0.1
	done
	die "timed out waiting for $2 in $1"
}

# wait_idle SES [N]: until the open transcript holds N (1) idles of SES.
wait_idle() {
	local i n=${2:-1} pat="\"type\":\"session.idle\",\"properties\":{\"sessionID\":\"$1\"}"
	for ((i = 0; i < WAIT * 10; i++)); do
		[[ $(grep -cF -- "$pat" "$sse_file") -lt $n ]] || return 0
		sleep 0.1
	done
	die "session $1 did not go idle"
}

# turn SES TEXT: one prompt, not captured, until its session.idle (the
# first prompt after start is busy only some seconds after prompt_async).
turn() {
	sse_open tmp-turn.txt
	prompt "$1" "$2"
	wait_idle "$1"
	sse_close
}

# pending KIND SES: the id of the first pending question/permission of SES.
pending() {
	local i id
	for ((i = 0; i < WAIT * 10; i++)); do
		id=$(body GET "/$1" | jq -r --arg s "$2" \
		    '[.[] | select(.sessionID == $s)][0].id // empty')
		[[ -z $id ]] || { printf '%s' "$id"; return 0; }
		sleep 0.1
	done
	die "no pending $1 for $2"
}

# The id of message N (0-based, jq index) of role R in SES.
msg_id() {
	body GET "/session/$1/message" |
	    jq -r --arg r "$2" "[.[] | select(.info.role == \$r)][$3].info.id"
}

# ---- start ----

trap cleanup EXIT
trap 'exit 130' INT TERM
for c in curl jq base64; do
	command -v "$c" >/dev/null 2>&1 || die "$c not found"
done
mkdir -p -- "$out"
out=$(cd -- "$out" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/ocb-capture.XXXXXX")
state=$work/state
set +e
url=$(OCB_E2E_DIR=$state "$ctl" start)
st=$?
set -e
[[ $st == 0 ]] || { state=; exit "$st"; }
say "server at $url"

ses=$(new_session "warm-up")
turn "$ses" text

# ---- kitchen sink: every part kind in one session ----

K=$(new_session "v2 kitchen sink")

sse_open sse-reasoning.txt
prompt "$K" think
wait_idle "$K"
sse_close

sse_open sse-edit.txt
prompt "$K" edit
wait_idle "$K"
sse_close
getj diff.json "/session/$K/diff"
m=$(msg_id "$K" user 1)
getj diff-message.json "/session/$K/diff?messageID=$m"

sse_open sse-file.txt
data=$(printf 'file contents line\n' | base64 -w0)
xhttp prompt-async-file.http POST "/session/$K/prompt_async" \
    "{\"parts\":[{\"type\":\"text\",\"text\":\"text with a file\"},{\"type\":\"file\",\"mime\":\"text/plain\",\"filename\":\"a.txt\",\"url\":\"data:text/plain;base64,$data\"}]}"
wait_idle "$K"
sse_close

sse_open sse-todo.txt
prompt "$K" todo
wait_idle "$K"
sse_close
getj todo-list.json "/session/$K/todo"

sse_open sse-question.txt
prompt "$K" question
q=$(pending question "$K")
getj question-list.json /question
getj session-status-busy.json /session/status
xhttp question-reply.http POST "/question/$q/reply" '{"answers":[["Green"]]}'
wait_idle "$K"
sse_close
xhttp error-question-already-replied.http POST "/question/$q/reply" \
    '{"answers":[["Green"]]}'

sse_open sse-summarize.txt
xhttp summarize.http POST "/session/$K/summarize" \
    '{"providerID":"mock","modelID":"mock-1"}'
wait_idle "$K"
sse_close

getj message-list-full.json "/session/$K/message"
xhttp message-list-limit.http GET "/session/$K/message?limit=2"
cp -- "$work/last.body" "$(fx message-list-limit.json)"
cursor=$(tr -d '\r' <"$work/last.head" |
    sed -n 's/^[Xx]-[Nn]ext-[Cc]ursor: //p')
[[ -n $cursor ]] || die "no X-Next-Cursor on ?limit=2"
xhttp message-list-before.http GET "/session/$K/message?limit=2&before=$cursor"
cp -- "$work/last.body" "$(fx message-list-before.json)"
# Page to the end: how many pages, and what the last one says.
{
	n=1
	c=$cursor
	while [[ -n $c ]]; do
		n=$((n + 1))
		curl -sS -D "$work/page.head" -o "$work/page.body" \
		    "$url/session/$K/message?limit=2&before=$c"
		c=$(tr -d '\r' <"$work/page.head" |
		    sed -n 's/^[Xx]-[Nn]ext-[Cc]ursor: //p')
		((n < 100)) || die "more than 100 pages"
	done
	printf 'messages=%s\n' "$(jq length "$out/message-list-full.json")"
	printf 'pages_of_2=%s\n' "$n"
	printf 'last_page_messages=%s\n' "$(jq length "$work/page.body")"
	printf 'last_page_has_cursor=no\n'
	printf 'last_page_has_link=%s\n' \
	    "$(grep -qi '^link:' "$work/page.head" && echo yes || echo no)"
} >"$(fx message-list-pages.result)"
xhttp error-message-before-msgid.http GET "/session/$K/message?limit=2&before=$m"
xhttp error-message-limit-bad.http GET "/session/$K/message?limit=abc"
xhttp message-list-limit-0.http GET "/session/$K/message?limit=0"

# ---- question rejected ----

R=$(new_session "v2 question reject")
sse_open sse-question-reject.txt
prompt "$R" question
q=$(pending question "$R")
xhttp question-reject.http POST "/question/$q/reject"
wait_idle "$R"
sse_close

# ---- full: reasoning, todo, question, permission, text ----

F=$(new_session "v2 full")
sse_open sse-full.txt
prompt "$F" full
q=$(pending question "$F")
xhttp question-reply-full.http POST "/question/$q/reply" '{"answers":[["Blue"]]}'
p=$(pending permission "$F")
getj permission-list-pending.json /permission
xhttp permission-reply-full.http POST "/permission/$p/reply" '{"reply":"once"}'
wait_idle "$F"
sse_close
getj message-list-full-flow.json "/session/$F/message"
getj todo-list-full.json "/session/$F/todo"

# ---- fork ----

xhttp session-fork.http POST "/session/$K/fork" '{}'
cp -- "$work/last.body" "$(fx session-fork.json)"
m=$(msg_id "$K" user 2)
xhttp session-fork-message.http POST "/session/$K/fork" "{\"messageID\":\"$m\"}"
fk=$(jq -r .id "$work/last.body")
getj session-fork-message-list.json "/session/$fk/message"

# ---- revert / unrevert ----

V=$(new_session "v2 revert")
turn "$V" "edit notes2.txt"
turn "$V" text
m=$(msg_id "$V" user 0)
m2=$(msg_id "$V" user 1)
proj=$state/home/project
sse_open sse-revert.txt
xhttp session-revert.http POST "/session/$V/revert" "{\"messageID\":\"$m\"}"
cp -- "$work/last.body" "$(fx session-revert.json)"
{
	printf 'after_revert_hello=%s\n' "$(cat "$proj/hello.txt")"
	printf 'after_revert_notes_exists=%s\n' \
	    "$([[ -e $proj/notes.txt ]] && echo yes || echo no)"
	printf 'after_revert_messages=%s\n' \
	    "$(body GET "/session/$V/message" | jq length)"
} >"$(fx session-revert.result)"
xhttp session-unrevert.http POST "/session/$V/unrevert"
cp -- "$work/last.body" "$(fx session-unrevert.json)"
{
	printf 'after_unrevert_hello=%s\n' "$(cat "$proj/hello.txt")"
	printf 'after_unrevert_notes_exists=%s\n' \
	    "$([[ -e $proj/notes.txt ]] && echo yes || echo no)"
} >>"$out/session-revert.result"
sse_close
xhttp error-unrevert-not-reverted.http POST "/session/$V/unrevert"
xhttp error-revert-unknown-message.http POST "/session/$V/revert" \
    "{\"messageID\":\"$NOMSG\"}"
xhttp error-revert-bad-message-id.http POST "/session/$V/revert" \
    '{"messageID":"not-a-message-id"}'
xhttp error-revert-missing-message.http POST "/session/$V/revert" '{}'
# Revert the last turn only, then prompt: the reverted messages go.
sse_open sse-revert-prompt.txt
xhttp session-revert-last.http POST "/session/$V/revert" "{\"messageID\":\"$m2\"}"
prompt "$V" text
wait_idle "$V"
sse_close
getj message-list-after-revert.json "/session/$V/message"
# A part revert: to the step-finish of the last assistant message (a
# part with a text part before it, else the server reverts the message).
pm=$(msg_id "$V" assistant -1)
pp=$(body GET "/session/$V/message" | jq -r \
    '[.[] | select(.info.role == "assistant")][-1].parts |
     map(select(.type == "step-finish"))[0].id')
sse_open sse-revert-part.txt
xhttp session-revert-part.http POST "/session/$V/revert" \
    "{\"messageID\":\"$pm\",\"partID\":\"$pp\"}"
cp -- "$work/last.body" "$(fx session-revert-part.json)"
prompt "$V" text
wait_idle "$V"
sse_close
getj message-list-after-part-revert.json "/session/$V/message"
# While busy: 409?
sse_open sse-revert-busy.txt
prompt "$V" "slow 3"
until_grep "$sse_file" '"field":"text","delta":"tick1 "'
xhttp error-revert-busy.http POST "/session/$V/revert" "{\"messageID\":\"$m\"}"
wait_idle "$V"
sse_close

# ---- commands ----

getj command-list.json /command
C=$(new_session "v2 command")
sse_open sse-command.txt
xhttp command-run.http POST "/session/$C/command" \
    '{"command":"ocb-think","arguments":"it"}'
cp -- "$work/last.body" "$(fx command-run.json)"
wait_idle "$C"
sse_close
xhttp error-command-unknown.http POST "/session/$C/command" \
    '{"command":"no-such-command","arguments":""}'


# ---- errors: unknown ids on the new endpoints ----

xhttp error-question-unknown.http POST "/question/$NOQUE/reply" \
    '{"answers":[["Blue"]]}'
xhttp error-question-reject-unknown.http POST "/question/$NOQUE/reject"
xhttp error-question-bad-id.http POST /question/not-a-question-id/reply \
    '{"answers":[["Blue"]]}'
xhttp error-question-bad-body.http POST "/question/$NOQUE/reply" \
    '{"answers":"Blue"}'
xhttp error-v2-unknown-session-message.http GET "/session/$NOSES/message"
xhttp error-v2-unknown-session-todo.http GET "/session/$NOSES/todo"
xhttp error-v2-unknown-session-diff.http GET "/session/$NOSES/diff"
xhttp error-v2-unknown-session-fork.http POST "/session/$NOSES/fork" '{}'
xhttp error-v2-unknown-session-revert.http POST "/session/$NOSES/revert" \
    "{\"messageID\":\"$NOMSG\"}"
xhttp error-v2-unknown-session-unrevert.http POST "/session/$NOSES/unrevert"
xhttp error-v2-unknown-session-summarize.http POST "/session/$NOSES/summarize" \
    '{"providerID":"mock","modelID":"mock-1"}'
xhttp error-v2-unknown-session-command.http POST "/session/$NOSES/command" \
    '{"command":"ocb-think","arguments":"it"}'
xhttp error-diff-bad-message-id.http GET "/session/$K/diff?messageID=not-a-message-id"
xhttp error-diff-unknown-message.http GET "/session/$K/diff?messageID=$NOMSG"
xhttp error-fork-unknown-message.http POST "/session/$K/fork" \
    "{\"messageID\":\"$NOMSG\"}"
xhttp error-summarize-bad-model.http POST "/session/$C/summarize" \
    '{"providerID":"nope","modelID":"x"}'
sleep 2
getj session-status-idle-v2.json /session/status

# ---- placeholders ----

OCB_E2E_DIR=$state "$ctl" stop
st_dir=$state
state=
sort -u -o "$work/written" "$work/written"
while IFS= read -r f; do
	f=$out/$f
	[[ -f $f ]] || continue
	sed -i -e "s|$st_dir/home|/home/user|g" -e "s|$st_dir/tmp|/tmp|g" \
	    -e "s|$st_dir|/ocb-state|g" -- "$f"
done <"$work/written"
say "wrote $(wc -l <"$work/written") files into $out"
