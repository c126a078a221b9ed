#!/usr/bin/env bash
# A private one-node Slurm cluster on localhost for Lethe's tests: munged, slurmctld and slurmd from Debian's
# munge and slurm-wlm packages, with their key, configuration, state, logs and sockets in one folder.
#
#   cluster.sh install            installs slurm-wlm and munge with apt-get when missing; exit status 3 and
#                                 the reason on standard error when they cannot be installed
#   cluster.sh start DIR [PID]    writes DIR/slurm.conf (this machine's real CPUs and memory, free ports),
#                                 starts the daemons, waits until the node is idle (exit status 3 when not
#                                 root: slurmd must be). With PID, a watchdog stops the cluster as soon as that
#                                 process (the test) is gone, even if it crashed
#   cluster.sh stop DIR           cancels every job, stops the daemons and waits until they are gone
#
# Clients reach the cluster through SLURM_CONF=DIR/slurm.conf.
set -euo pipefail

die() { echo "cluster.sh: $*" >&2; exit 1; }
commands=(munged slurmctld slurmd sbatch squeue scontrol scancel sinfo)

missing_commands() {
    local name missing=()
    for name in "${commands[@]}"; do command -v "$name" >/dev/null || missing+=("$name"); done
    echo "${missing[@]:-}"
}

install() {
    [ -z "$(missing_commands)" ] && return 0
    [ "$(id -u)" = 0 ] || { echo "slurm-wlm and munge are not installed and installing them needs root (missing: $(missing_commands))" >&2; exit 3; }
    command -v apt-get >/dev/null || { echo "slurm-wlm and munge are not installed and there is no apt-get" >&2; exit 3; }
    # Keep the packages' own services from starting (a system munged or slurmd would outlive the tests).
    local policy=/usr/sbin/policy-rc.d own_policy=0
    if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; own_policy=1; fi
    local status=0 log
    log=$(mktemp)
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq slurm-wlm munge >"$log" 2>&1 \
        || { apt-get update -qq >>"$log" 2>&1 && apt-get install -y -qq slurm-wlm munge >>"$log" 2>&1; } || status=$?
    [ "$own_policy" = 1 ] && rm -f "$policy"
    if [ "$status" != 0 ] || [ -n "$(missing_commands)" ]; then
        echo "apt-get install slurm-wlm munge failed (status $status): $(tail -n 3 "$log" | tr '\n' ' ')" >&2
        rm -f "$log"
        exit 3
    fi
    rm -f "$log"
}

# Runs a command without the file descriptors above 2 that this shell inherited, so that the daemons and the
# watchdog keep none of the caller's pipes open (Foundation's Process, for one, waits until every holder of a
# socket it gives its child has closed it). Call it in a subshell: it closes the calling shell's descriptors.
without_inherited_fds() {
    local fd
    for fd in /proc/$BASHPID/fd/*; do
        fd=${fd##*/}
        [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null
    done
    "$@"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_ports() {
    local attempt base
    for attempt in $(seq 50); do
        base=$((20000 + RANDOM % 40000))
        if ! port_in_use "$base" && ! port_in_use $((base + 1)); then echo "$base"; return; fi
    done
    die "no two free ports found"
}

write_config() {
    local dir=$1 port node
    port=$(pick_ports)
    # slurmd -C reports this machine's real topology and memory: "NodeName=vm CPUs=2 ... RealMemory=24105".
    node=$(slurmd -C | head -n 1)
    [[ "$node" == NodeName=* ]] || die "slurmd -C printed no node line"
    cat >"$dir/slurm.conf" <<CONF
# A one-node test cluster written by $0.
ClusterName=lethetest
SlurmctldHost=$(hostname -s)(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# cred_expire is also how long a requeued job waits before it may start again (default 120 s).
AuthInfo=socket=$dir/munge.socket,cred_expire=5
StateSaveLocation=$dir/ctld
SlurmdSpoolDir=$dir/slurmd
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
# Schedule every second (defaults: 60 s and 30 s) so that tests do not wait.
SchedulerParameters=sched_interval=1,bf_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=600
KillWait=2
MailProg=/bin/true
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
}

start() {
    local dir=$1 parent=${2:-}
    # The test cluster's slurmd launches jobs, which needs root.
    [ "$(id -u)" = 0 ] || { echo "slurmd must run as root to launch jobs, and this is user $(id -un)" >&2; exit 3; }
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd -P)
    chmod 755 "$dir"  # munged wants its socket folder searchable by all and writable by its owner only
    mkdir -p "$dir/ctld" "$dir/slurmd"
    export SLURM_CONF=$dir/slurm.conf
    write_config "$dir"

    head -c 1024 /dev/urandom >"$dir/munge.key"
    chmod 400 "$dir/munge.key"
    (without_inherited_fds exec munged --key-file="$dir/munge.key" --socket="$dir/munge.socket" --pid-file="$dir/munged.pid" \
        --log-file="$dir/munged.log" --seed-file="$dir/munged.seed") </dev/null >/dev/null 2>"$dir/munged.err" \
        || die "munged did not start: $(cat "$dir/munged.err" "$dir/munged.log" 2>/dev/null | tail -n 3 | tr '\n' ' ')"
    (without_inherited_fds exec slurmctld) </dev/null >"$dir/slurmctld.err" 2>&1 || { stop "$dir"; die "slurmctld did not start: $(tail -n 3 "$dir/slurmctld.err")"; }
    (without_inherited_fds exec slurmd) </dev/null >"$dir/slurmd.err" 2>&1 || { stop "$dir"; die "slurmd did not start: $(tail -n 3 "$dir/slurmd.err")"; }

    if [ -n "$parent" ]; then
        # The watchdog: stops the cluster and removes its folder once the test process is gone (whatever ended
        # it), or after an hour at most.
        (without_inherited_fds exec setsid bash -c \
            'for i in $(seq 3600); do kill -0 "$1" 2>/dev/null && [ -e "$2/slurm.conf" ] || break; sleep 1; done; "$3" stop "$2"; kill -0 "$1" 2>/dev/null || rm -rf "$2"' \
            watchdog "$parent" "$dir" "$(cd "$(dirname "$0")" && pwd -P)/$(basename "$0")") </dev/null >/dev/null 2>&1 &
        echo $! >"$dir/watchdog.pid"
    fi

    for _ in $(seq 300); do
        [ "$(sinfo -h -o %t 2>/dev/null)" = idle ] && { echo "SLURM_CONF=$SLURM_CONF"; return 0; }
        sleep 0.1
    done
    local state
    state=$(sinfo -h -o '%t %E' 2>&1 || true)
    stop "$dir"
    die "the node did not become idle in 30 s (sinfo: $state); slurmctld.log: $(tail -n 3 "$dir/slurmctld.log" 2>/dev/null | tr '\n' ' ') slurmd.log: $(tail -n 3 "$dir/slurmd.log" 2>/dev/null | tr '\n' ' ')"
}

# Sends TERM to the processes in the PIDFILEs, then KILL to those still there after 10 s; returns once all are gone.
stop_daemons() {
    local file pids=() pid
    for file in "$@"; do
        [ -s "$file" ] && pids+=("$(cat "$file")")
        rm -f "$file"
    done
    [ ${#pids[@]} -gt 0 ] || return 0
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 100); do
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && { sleep 0.1; continue 2; }; done
        return 0
    done
    kill -KILL "${pids[@]}" 2>/dev/null || true
}

stop() {
    local dir=$1 pid
    [ -d "$dir" ] || return 0
    dir=$(cd "$dir" && pwd -P)
    export SLURM_CONF=$dir/slurm.conf
    if [ -s "$dir/slurmctld.pid" ] && [ -e "$SLURM_CONF" ]; then
        scancel --user="$(id -un)" 2>/dev/null || true
        for _ in $(seq 100); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.1; done
    fi
    stop_daemons "$dir/slurmd.pid" "$dir/slurmctld.pid"
    # Job steps and job processes of this cluster that outlived slurmd (they carry its SLURM_CONF).
    for pid in $(grep -lsxF "SLURM_CONF=$SLURM_CONF" --null-data /proc/[0-9]*/environ | cut -d/ -f3); do
        [ "$pid" = $$ ] || [ "$pid" = "$PPID" ] && continue
        { grep -qsz '^SLURM_JOB_ID=' "/proc/$pid/environ" || [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline")" == slurmstepd* ]]; } 2>/dev/null || continue
        kill -KILL "$pid" 2>/dev/null || true
    done
    stop_daemons "$dir/munged.pid"
    if [ -s "$dir/watchdog.pid" ]; then
        pid=$(cat "$dir/watchdog.pid")
        rm -f "$dir/watchdog.pid"
        [ "$pid" != "$PPID" ] && kill -TERM "$pid" 2>/dev/null || true
    fi
}

case "${1:-}" in
    install) install ;;
    start) [ $# -ge 2 ] || die "usage: cluster.sh start DIR [PID]"; install; start "$2" "${3:-}" ;;
    stop) [ $# -eq 2 ] || die "usage: cluster.sh stop DIR"; stop "$2" ;;
    *) die "usage: cluster.sh install | start DIR [PID] | stop DIR" ;;
esac
