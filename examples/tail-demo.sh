#!/bin/sh
# Both halves of a ring file in one command, as two terminals would run
# them: a logging process (the `ringfile` example, built on the library)
# writes into a ring file, and `logring tail` reads it in another process,
# while `logring tail --spy` watches the same ring without taking anything;
# then a process that logs through `tracing` (the `tracing` example), and one
# that logs through logring's own macros (the `macros` example), whose binary
# events `logring tail` decodes.
#
#   sh examples/tail-demo.sh
set -eu

cargo build --release --quiet --features cli,tracing,macros --bin logring \
    --example ringfile --example tracing --example macros
logring=target/release/logring
logger=target/release/examples/ringfile
tracer=target/release/examples/tracing
macros=target/release/examples/macros
dir=/dev/shm
[ -d "$dir" ] || dir=${TMPDIR:-/tmp}
ring="$dir/logring-demo-$$.ring"
events="$dir/logring-demo-events-$$.ring"
deferred="$dir/logring-demo-macros-$$.ring"
spied="$dir/logring-demo-spied-$$.txt"
trap 'rm -f "$ring" "$events" "$deferred" "$spied"' EXIT INT TERM

bold='' plain=''
if [ -t 1 ]; then bold=$(printf '\033[1m') plain=$(printf '\033[0m'); fi
say() { printf '\n%s# %s%s\n' "$bold" "$*" "$plain"; }
show() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"; "$@"; }

show "$logring" create "$ring" --capacity 64KiB --mode mpsc --retain 16KiB

say "terminal 1: a logging process writes 20 lines, 100 ms apart"
"$logger" log "$ring" 20 100 >/dev/null 2>&1 &
logger_pid=$!
sleep 0.5
show "$logring" stat "$ring"

say "terminal 3: a spy watches the ring; it takes nothing from the tail below"
"$logring" tail --spy "$ring" --timeout 1500ms >"$spied" &
spy_pid=$!

say "terminal 2: tail the ring while it is written (stopping after 1 s of quiet)"
show "$logring" tail "$ring" --timeout 1s
wait "$logger_pid"
wait "$spy_pid"
say "what the spy printed meanwhile: the same lines (the ring keeps 16 KiB of what the tail took)"
cat "$spied"

say "lines from a shell; a tail that stops early leaves the rest to the next one"
printf 'order 7 filled\norder 8 filled\nbad byte: \377\n' | "$logring" write "$ring"
show "$logring" tail "$ring" --count 1
show "$logring" tail "$ring" --no-follow --format json

show "$logring" stat "$ring"

say "a process that logs through tracing: binary events, decoded by logring tail"
"$tracer" "$events" 10 20
show "$logring" tail "$events" --no-follow
"$tracer" "$events" 1 0
show "$logring" tail "$events" --no-follow --format json
show "$logring" stat "$events"

say "a process that logs through logring's macros: the reader formats the messages"
"$macros" "$deferred" 10 20
show "$logring" tail "$deferred" --no-follow
"$macros" "$deferred" 1 0
show "$logring" tail "$deferred" --no-follow --format json --count 2
