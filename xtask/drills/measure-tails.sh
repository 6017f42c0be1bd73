#!/bin/bash
# measure-tails.sh — measures what an OCI runtime's container init calls AFTER it loads
# the seccomp filter and BEFORE (and including) the workload's execve. Those calls go
# through the container's filter, so a recorded profile must allow them.
#
# Usage: measure-tails.sh [N] [CASE...]
#   N      runs per case (default 30); runs N/2+1..N are made with both CPUs busy.
#   CASE   any of: runc-nnp0 runc-nnp1 podman-runc podman-runc-nnp podman-crun
#          podman-crun-nnp docker-default docker-allowall docker-nnp docker-errno
#          runc-replay (default: all).
#          runc-replay enforces default-deny profiles (workload + a tail) with runc,
#          N runs each: the shipped tail, the observed one, and the observed one
#          without futex / without rt_sigreturn (negative controls).
# Env:     OUT=DIR   keep the per-run sequences and the summary in DIR.
#          LOAD=0    never load the CPUs.
#
# Method: every runtime call goes through a wrapper `strace -f -D -tt
# --decode-pids=pidns -o LOG REAL_RUNTIME "$@"`. In each log the filter load is
# prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, {len=..}) or seccomp(SECCOMP_SET_MODE_FILTER,
# .., {len=..}) (libseccomp's probes with a NULL filter are not loads); the window runs
# from it to the first execve of the same thread group. Each syscall ENTERED in the
# window by any thread of that thread group is listed, marked F when the thread is under
# the filter (the loading thread, and threads created by a filtered thread after the
# load) and U otherwise (runc loads without TSYNC: the Go runtime's other threads stay
# unfiltered and die at execve). Failing calls count (they passed the filter).
# --decode-pids=pidns is needed: inside the container's PID namespace clone returns
# namespace-local TIDs, and the log's TIDs are strace's.
#
# Needs root, strace, runc, crun, podman, dockerd + /usr/bin/docker (docker cases),
# a static busybox, jq. Touches the host only by mounting missing cgroup v1
# controllers (crun's hybrid-mode requirement, same as tests/common/podman.rs; left
# mounted, like the test suite does). Everything else lives in one temp dir that is
# removed at exit (daemon stopped, containers removed, mounts below it detached).
set -u
N=${1:-30}
shift || true
CASES=${*:-runc-nnp0 runc-nnp1 podman-runc podman-runc-nnp podman-crun podman-crun-nnp docker-default docker-allowall docker-nnp docker-errno runc-replay}
LOAD=${LOAD:-1}
OUT=${OUT:-}

[ "$(id -u)" = 0 ] || { echo "must run as root" >&2; exit 1; }
for t in strace runc jq; do command -v $t >/dev/null || { echo "missing $t" >&2; exit 1; }; done
RUNC=$(command -v runc)
CRUN=$(command -v crun || true)
STRACE=$(command -v strace)
BUSYBOX=$(command -v busybox)
DOCKER=/usr/bin/docker     # /usr/local/bin/docker may be another (newer) client

W=$(mktemp -d /tmp/sr-tails.XXXXXX)
CGP=/$(basename "$W")      # docker's --cgroup-parent: one dir per hierarchy, removed at exit
# Host dirs that runc/dockerd/containerd create on first use whatever their roots say
# (/run/runc: podman runs runc without --root; /run/docker/plugins: dockerd's plugin
# dir; /run/containerd/s: the shims' sockets). Removed at exit if we created them and
# they are empty again.
HOSTDIRS=""
for d in /run/runc /run/docker /run/containerd; do [ -e "$d" ] || HOSTDIRS="$HOSTDIRS $d"; done
BUSY_PIDS=""
DOCKERD_PID=""

busy_on() {
    [ "$LOAD" = 1 ] || return 0
    [ -n "$BUSY_PIDS" ] && return 0
    for _ in $(seq "$(nproc)"); do (while :; do :; done) & BUSY_PIDS="$BUSY_PIDS $!"; done
}
busy_off() {
    for p in $BUSY_PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    BUSY_PIDS=""
}

cleanup() {
    busy_off
    if [ -e "$W/podman.conf" ]; then
        CONTAINERS_CONF=$W/podman.conf CONTAINERS_STORAGE_CONF=$W/storage.conf \
            timeout 60 podman rm -fa -t 0 >/dev/null 2>&1
    fi
    if [ -n "$DOCKERD_PID" ]; then
        DOCKER_HOST=unix://$W/docker/sock timeout 30 $DOCKER rm -f \
            $(DOCKER_HOST=unix://$W/docker/sock timeout 10 $DOCKER ps -aq 2>/dev/null) >/dev/null 2>&1
        kill -TERM "$DOCKERD_PID" 2>/dev/null
        for _ in $(seq 150); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$DOCKERD_PID" 2>/dev/null
        wait "$DOCKERD_PID" 2>/dev/null
    fi
    for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
        [ -d "$h$CGP" ] && find "$h$CGP" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    for r in "$W"/runc-root/*/; do
        [ -d "$r" ] || continue
        $RUNC --root "$W/runc-root" delete -f "$(basename "$r")" >/dev/null 2>&1
    done
    # wait for stray tracers/conmon naming the dir, then detach mounts below it
    for _ in $(seq 100); do pgrep -f "$W" >/dev/null || break; sleep 0.1; done
    awk -v d="$W" '$5 ~ "^"d {print $5}' /proc/self/mountinfo | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null; done
    rm -rf "$W"
    for d in $HOSTDIRS; do find "$d" -depth -type d -empty -delete 2>/dev/null; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- the analyser (awk)
cat >"$W/tail.awk" <<'AWK'
# awk -f tail.awk pass=1 LOG pass=2 LOG pass=3 LOG  → "F|U TID NAME" per call in the window
function rest_of(   r) {
  r = $0
  sub(/^[0-9]+ +/, "", r)
  sub(/^[0-9][0-9]:[0-9][0-9]:[0-9][0-9][.0-9]* +/, "", r)
  return r
}
function tg(t,   n) {
  n = 0
  while ((t in thr) && thr[t] && (t in par) && n < 10000) { t = par[t]; n++ }
  return t
}
function cname(r) {
  if (match(r, /^[a-z_][a-z0-9_]*\(/)) return substr(r, 1, RLENGTH - 1)
  return ""
}
function retval(r,   s) {
  if (match(r, /\) += [0-9]+ \/\* [0-9]+ in strace's PID NS \*\//)) {
    s = substr(r, RSTART, RLENGTH); sub(/^.*\/\* */, "", s); sub(/ .*/, "", s); return s
  }
  if (match(r, /\) += [0-9]+$/)) { s = substr(r, RSTART, RLENGTH); sub(/^.*= */, "", s); return s }
  return ""
}
{ tid = $1; r = rest_of() }
pass == 1 {
  n = cname(r)
  if (n == "clone" || n == "clone3" || n == "fork" || n == "vfork") {
    pend[tid] = (r ~ /CLONE_THREAD/) ? 1 : 0
    if (r ~ /<unfinished \.\.\.>$/) next
    c = retval(r); if (c != "") { par[c] = tid; thr[c] = pend[tid] }
    next
  }
  if (r ~ /^<\.\.\. (clone|clone3|fork|vfork) resumed>/) {
    c = retval(r); if (c != "" && (tid in pend)) { par[c] = tid; thr[c] = pend[tid] }
  }
  next
}
pass == 2 {
  n = cname(r)
  if ((n == "prctl" && r ~ /^prctl\(PR_SET_SECCOMP, SECCOMP_MODE_FILTER/) || \
      (n == "seccomp" && r ~ /^seccomp\(SECCOMP_SET_MODE_FILTER,/ && r ~ /\{len=/)) {
    g = tg(tid); if (!(g in execline)) { loadline[g] = FNR; loadtid[g] = tid }
  }
  if (n == "execve") {
    g = tg(tid)
    if ((g in loadline) && !(g in execline)) { execline[g] = FNR; if (G == "") G = g }
  }
  next
}
pass == 3 {
  if (G == "") next
  if (FNR < loadline[G] || FNR > execline[G]) next
  if (tg(tid) != G) next
  if (FNR == loadline[G]) filt[tid] = 1
  n = cname(r)
  if (n == "") {
    if (r ~ /^<\.\.\. (clone|clone3) resumed>/ && (tid in filt)) { c = retval(r); if (c != "") filt[c] = 1 }
    next
  }
  if ((n == "clone" || n == "clone3") && (tid in filt) && r !~ /<unfinished/) { c = retval(r); if (c != "") filt[c] = 1 }
  printf "%s %s %s\n", ((tid in filt) ? "F" : "U"), tid, n
}
AWK

# ---------------------------------------------------------------- common setup
R=$W/rootfs
mkdir -p "$R/bin" "$W/cur" "$W/res"
for d in proc sys dev etc tmp run root; do mkdir -p "$R/$d"; done
chmod 1777 "$R/tmp"
cp "$BUSYBOX" "$R/bin/busybox"
for a in $("$R/bin/busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$R/bin/$a"; done

wrapper() { # wrapper NAME REAL
    printf '#!/bin/sh\nexec %s -f -D -tt --decode-pids=pidns -o %s/cur/%s.$$.log %s "$@"\n' \
        "$STRACE" "$W" "$1" "$2" >"$W/wrap-$1"
    chmod 755 "$W/wrap-$1"
}
wrapper runc "$RUNC"
[ -n "$CRUN" ] && wrapper crun "$CRUN"

ALLOWALL='{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],"syscalls":[{"names":["acct"],"action":"SCMP_ACT_ERRNO"}]}'
echo "$ALLOWALL" >"$W/allowall.json"

bundle() { # bundle DIR NNP(true|false) ARGS-JSON
    mkdir -p "$1"
    (cd "$1" && $RUNC spec)
    jq --arg root "$R" --argjson nnp "$2" --argjson args "$3" --argjson sc "$ALLOWALL" '
        .process.terminal = false | .process.args = $args | .process.noNewPrivileges = $nnp
        | .root.path = $root | .linux.seccomp = $sc' "$1/config.json" >"$1/c.json"
    mv "$1/c.json" "$1/config.json"
}

podman_setup() {
    [ -e "$W/podman.conf" ] && return 0
    cat >"$W/podman.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "none"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "crun"
hooks_dir = ["$W/hooks"]
tmp_dir = "$W/libpod-tmp"
lock_type = "file"
EOF
    mkdir -p "$W/hooks"
    printf '[storage]\ndriver = "vfs"\ngraphroot = "%s"\nrunroot = "%s"\n' \
        "$W/storage" "$W/runroot" >"$W/storage.conf"
    # crun refuses hybrid cgroups while a controller is still bound to cgroup2
    cg2=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
    if [ -n "$cg2" ] && [ "$cg2" != /sys/fs/cgroup ]; then
        (
            flock 9
            for c in $(cat "$cg2/cgroup.controllers"); do
                grep -qE " - cgroup [^ ]+ [^ ]*\b$c\b" /proc/self/mountinfo && continue
                mkdir -p "/sys/fs/cgroup/$c" && mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c" &&
                    echo "host change: mounted cgroup v1 $c at /sys/fs/cgroup/$c" >&2
            done
        ) 9>/run/seccomp-recorder-tests.cgroup.lock
    fi
}
podman_run() { CONTAINERS_CONF=$W/podman.conf CONTAINERS_STORAGE_CONF=$W/storage.conf timeout 120 podman "$@"; }

docker_setup() {
    [ -n "$DOCKERD_PID" ] && return 0
    # with a system containerd, dockerd would use it (namespace moby) instead of its own
    [ -S /run/containerd/containerd.sock ] && { echo "a system containerd runs: skip docker cases" >&2; return 1; }
    D=$W/docker
    mkdir -p "$D"
    local t0; t0=$(date +%s.%N)
    # --config-file: the host's /etc/docker/daemon.json must not apply; its
    # "deprecated-key-path" keeps dockerd 20.10 from writing /etc/docker/key.json.
    printf '{"deprecated-key-path": "%s"}\n' "$D/key.json" >"$D/daemon.json"
    dockerd --config-file "$D/daemon.json" --cgroup-parent "$CGP" --data-root "$D/data" --exec-root "$D/exec" --pidfile "$D/pid" \
        --host "unix://$D/sock" --iptables=false --ip-masq=false --bridge=none \
        --storage-driver vfs --add-runtime "strace-runc=$W/wrap-runc" >"$D/log" 2>&1 &
    DOCKERD_PID=$!
    for _ in $(seq 600); do
        DOCKER_HOST=unix://$D/sock $DOCKER version >/dev/null 2>&1 && break
        kill -0 "$DOCKERD_PID" 2>/dev/null || { echo "dockerd died:" >&2; tail "$D/log" >&2; return 1; }
        sleep 0.05
    done
    echo "dockerd ready after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}') s" >&2
    tar -C "$R" -c . | DOCKER_HOST=unix://$D/sock $DOCKER import - bb:local >/dev/null
    # a docker-format profile: default ERRNO with errno 38, allows what runc and busybox
    # need, denies mkdir (the errno of `mkdir` tells whether defaultErrnoRet is honoured)
    jq -n '{defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 38,
        architectures: ["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
        syscalls: [{action: "SCMP_ACT_ALLOW", names: [
          "access","arch_prctl","brk","capget","capset","chdir","close","epoll_ctl",
          "epoll_pwait","execve","exit","exit_group","faccessat2","fchown","fcntl","fstat",
          "fstatfs","futex","getcwd","getdents64","getegid","geteuid","getgid","getpid",
          "getppid","gettid","getuid","madvise","mmap","mprotect","munmap","nanosleep",
          "newfstatat","openat","prctl","read","rt_sigaction","rt_sigprocmask",
          "rt_sigreturn","sched_yield","set_tid_address","setgid","setgroups","setuid",
          "sigaltstack","tgkill","write","writev","ioctl","getrandom","lseek","statx",
          "stat","lstat","uname","setresuid","setresgid","pselect6","clone","mkdir"
        ]}]}' >"$W/errno38-allowmkdir.json"
    jq '.syscalls[0].names -= ["mkdir"]' "$W/errno38-allowmkdir.json" >"$W/errno38.json"
    jq 'del(.defaultErrnoRet)' "$W/errno38.json" >"$W/errno-default.json"
    jq '.defaultAction = "SCMP_ACT_ALLOW" | del(.defaultErrnoRet)
        | .syscalls = [{action: "SCMP_ACT_ERRNO", errnoRet: 38, names: ["mkdir"]}]' \
        "$W/errno38.json" >"$W/rule-errno38.json"
}
docker_run() { DOCKER_HOST=unix://$W/docker/sock timeout 120 $DOCKER "$@"; }

# ---------------------------------------------------------------- one run of a case
wait_tracers() {
    for _ in $(seq 200); do pgrep -f "$W/cur/" >/dev/null || return 0; sleep 0.05; done
}
analyse_cur() { # prints the window of the log that has one
    for L in "$W"/cur/*.log; do
        [ -e "$L" ] || continue
        awk -f "$W/tail.awk" pass=1 "$L" pass=2 "$L" pass=3 "$L"
    done
}
one_run() { # one_run CASE I
    local c=$1 i=$2
    case $c in
    runc-nnp0 | runc-nnp1)
        local b=$W/bundle-$c
        [ -d "$b" ] || bundle "$b" "$([ $c = runc-nnp1 ] && echo true || echo false)" '["/bin/true"]'
        timeout 60 "$W/wrap-runc" --root "$W/runc-root" run -b "$b" "t$i-$$" </dev/null ;;
    podman-runc) podman_run run --rm --network=none --runtime "$W/wrap-runc" --rootfs "$R" /bin/true ;;
    podman-runc-nnp) podman_run run --rm --network=none --runtime "$W/wrap-runc" \
        --security-opt no-new-privileges --rootfs "$R" /bin/true ;;
    podman-crun) podman_run run --rm --network=none --runtime "$W/wrap-crun" --rootfs "$R" /bin/true ;;
    podman-crun-nnp) podman_run run --rm --network=none --runtime "$W/wrap-crun" \
        --security-opt no-new-privileges --rootfs "$R" /bin/true ;;
    docker-default) docker_run run --rm --network none --runtime strace-runc bb:local /bin/true ;;
    docker-allowall) docker_run run --rm --network none --runtime strace-runc \
        --security-opt "seccomp=$W/allowall.json" bb:local /bin/true ;;
    docker-nnp) docker_run run --rm --network none --runtime strace-runc \
        --security-opt no-new-privileges bb:local /bin/true ;;
    esac
}

summarise() { # summarise CASE RUNS
    local c=$1 dir=$W/res/$1
    {
        echo "== $c: $(ls "$dir"/*.seq 2>/dev/null | wc -l) runs with a filter window, $(cat "$dir/failed" 2>/dev/null | wc -l) failed, $(cat "$dir/noload" 2>/dev/null | wc -l) without a load"
        for m in F U; do
            echo "-- $m ($([ $m = F ] && echo 'filtered thread(s)' || echo 'other threads of the init, unfiltered')): name runs-with-it/total (idle/loaded)"
            for f in "$dir"/*.seq; do
                [ -e "$f" ] || continue
                awk -v m=$m '$1 == m {print $3}' "$f" | sort -u | sed "s|\$| $(basename "$f" .seq)|"
            done | awk -v tot="$(ls "$dir"/*.seq 2>/dev/null | wc -l)" -v half="$HALF" '
                { split($2, a, "-"); n[$1]++; if (a[2] == "loaded") l[$1]++; else i[$1]++ }
                END { for (k in n) printf "   %-18s %3d/%d (%d/%d)\n", k, n[k], tot, i[k], l[k] }' | sort
        done
        echo "-- UNION F: $(cat "$dir"/*.seq 2>/dev/null | awk '$1 == "F" {print $3}' | sort -u | tr '\n' ' ')"
        echo "-- UNION F+U: $(cat "$dir"/*.seq 2>/dev/null | awk '{print $3}' | sort -u | tr '\n' ' ')"
        # a typical run: the one whose F name set is the most common
        typ=$(for f in "$dir"/*.seq; do [ -e "$f" ] || continue
                echo "$(awk '$1 == "F" {print $3}' "$f" | sort -u | tr '\n' ,) $f"; done |
              sort | awk '{c[$1]++; f[$1]=$2} END {m=0; for (k in c) if (c[k] > m) {m=c[k]; b=f[k]}; print b}')
        if [ -n "$typ" ]; then
            echo "-- typical run ($(basename "$typ" .seq)), filtered thread, in order (xN = N in a row):"
            awk '$1 == "F" {print $3}' "$typ" | awk '
                $1 == p {k++; next} { if (NR > 1) printf "%s%s ", p, (k > 1 ? "x" k : ""); p = $1; k = 1 }
                END { printf "%s%s\n", p, (k > 1 ? "x" k : "") }' | fold -s -w 100 | sed 's/^/   /'
            echo "   other threads in that run: $(awk '$1 == "U" {print $3}' "$typ" | sort | uniq -c | awk '{printf "%s×%s ", $2, $1}')"
        fi
    } | tee -a "$W/summary"
}

# ---------------------------------------------------------------- replay
# What runc's init called on its filtered thread in 30+30 runs (docs/runtime-tails.md)
RUNC_OBSERVED="capget capset chdir close epoll_ctl execve faccessat2 fcntl fstat fstatfs futex getcwd getdents64 getpid getppid newfstatat openat prctl read rt_sigreturn setgid setgroups setuid write"
# ... plus what runc's code and the Go runtime can call there (docs/runtime-tails.md)
RUNC_SHIPPED="$RUNC_OBSERVED fchown access faccessat getuid geteuid getgid getegid nanosleep sched_yield gettid tgkill epoll_pwait mmap munmap madvise rt_sigprocmask sigaltstack clock_gettime exit_group"
replay() { # replay LABEL NNP NAMES...
    local label=$1 nnp=$2; shift 2
    local b=$W/replay-$label ok=0 fail=0 why=""
    bundle "$b" "$nnp" '["/bin/true"]'
    local names; names=$(printf '%s\n' "$@" | sort -u | jq -R . | jq -s .)
    jq --argjson names "$names" '.linux.seccomp = {defaultAction: "SCMP_ACT_ERRNO",
        defaultErrnoRet: 38, architectures: ["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
        syscalls: [{names: $names, action: "SCMP_ACT_ALLOW"}]}' "$b/config.json" >"$b/c.json"
    mv "$b/c.json" "$b/config.json"
    for i in $(seq "$N"); do
        if [ "$i" -gt "$HALF" ]; then busy_on; else busy_off; fi
        if timeout 30 $RUNC --root "$W/runc-root" run -b "$b" "r$label$i" </dev/null >"$W/replay.out" 2>&1; then
            ok=$((ok + 1))
        else
            why="$why $?"; fail=$((fail + 1))
            $RUNC --root "$W/runc-root" delete -f "r$label$i" >/dev/null 2>&1
        fi
    done
    busy_off
    echo "   $label (noNewPrivileges $nnp): $ok ok, $fail failed${why:+ (exit codes:$why)}"
}
runc_replay() {
    # the workload's own calls: static busybox `true`, traced on the host
    "$STRACE" -f -o "$W/workload.log" "$R/bin/true"
    WL=$(awk '{print $2}' "$W/workload.log" | sed -n 's/^\([a-z0-9_]*\)(.*/\1/p' | sort -u | tr '\n' ' ')
    {
        echo "== runc-replay: /bin/true under default-deny profiles (ERRNO 38), $N runs each, $((N - HALF)) loaded"
        echo "   workload calls: $WL"
        replay shipped false $WL $RUNC_SHIPPED
        replay shipped-nnp true $WL $RUNC_SHIPPED
        replay observed false $WL $RUNC_OBSERVED
        replay observed-nnp true $WL $RUNC_OBSERVED
        replay no-futex false $WL $(printf '%s\n' $RUNC_OBSERVED | grep -vx futex)
        replay no-rt_sigreturn false $WL $(printf '%s\n' $RUNC_OBSERVED | grep -vx rt_sigreturn)
    } | tee -a "$W/summary"
}

# ---------------------------------------------------------------- main
HALF=$(( N / 2 ))
for c in $CASES; do
    case $c in
    podman-*) podman_setup || continue ;;
    docker-*) command -v dockerd >/dev/null && [ -x $DOCKER ] || { echo "no docker, skip $c" >&2; continue; }
              docker_setup || continue ;;
    esac
    case $c in podman-crun*) [ -n "$CRUN" ] || { echo "no crun, skip $c" >&2; continue; } ;; esac
    if [ $c = runc-replay ]; then runc_replay; continue; fi
    if [ $c = docker-errno ]; then
        {
            echo "== docker-errno: does docker $($DOCKER --version | cut -d, -f1 | cut -d' ' -f3) honour defaultErrnoRet / errnoRet?"
            for p in errno38-allowmkdir errno38 errno-default rule-errno38; do
                o=$(docker_run run --rm --network none --security-opt "seccomp=$W/$p.json" \
                    bb:local /bin/mkdir /tmp/x 2>&1; echo "exit=$?")
                echo "   $p: $(echo "$o" | tr '\n' ' ')"
            done
        } | tee -a "$W/summary"
        continue
    fi
    mkdir -p "$W/res/$c"
    echo "-- $c: $N runs" >&2
    for i in $(seq "$N"); do
        if [ "$i" -gt "$HALF" ]; then busy_on; tag=loaded; else busy_off; tag=idle; fi
        rm -rf "$W/cur"; mkdir -p "$W/cur"
        if ! one_run "$c" "$i" >"$W/res/$c/out.$i" 2>&1; then
            echo "$i" >>"$W/res/$c/failed"; echo "   run $i failed: $(tail -2 "$W/res/$c/out.$i")" >&2
        fi
        wait_tracers
        seq=$(analyse_cur)
        if [ -n "$seq" ]; then
            printf '%s\n' "$seq" >"$W/res/$c/$(printf %03d "$i")-$tag.seq"
        else
            echo "$i" >>"$W/res/$c/noload"
        fi
        [ -n "$OUT" ] && [ "$i" = 1 ] && mkdir -p "$OUT/logs-$c" && cp "$W"/cur/*.log "$OUT/logs-$c/" 2>/dev/null
    done
    busy_off
done

echo
echo "================ SUMMARY (N=$N, runs $((HALF + 1))..$N with $(nproc) busy loops) ================"
for c in $CASES; do [ -d "$W/res/$c" ] && summarise "$c" >/dev/null; done
cat "$W/summary" 2>/dev/null
if [ -n "$OUT" ]; then
    mkdir -p "$OUT" && cp -r "$W/res" "$OUT/" && cp "$W/summary" "$OUT/summary.txt" 2>/dev/null
    cp "$W"/*.json "$OUT/" 2>/dev/null
fi
