#!/usr/bin/env bash
# The README's Slurm job array on a real one-node Slurm (issue 17): installs Debian's slurm-wlm and
# munge, starts munged, slurmctld and slurmd with .ci/slurm/slurm.conf.in (no systemd, no cgroups),
# then over a sample tree and a sample release: publish --list-jobs, sbatch --wait --array over
# slurm/publish-array.sbatch, a final plain publish, and a single-process publish; their data/ and
# README.md must be identical byte for byte. The daemons it started are stopped at the end, also
# on failure (then its logs and copies are kept in /tmp/genimage-cl-slurm.*).
# GENIMAGE_CL_PYTHON: the Python with genimage-cl installed (default ./.venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
export GENIMAGE_CL_PYTHON=${GENIMAGE_CL_PYTHON:-$repo/.venv/bin/python}
py=$GENIMAGE_CL_PYTHON
start=$SECONDS
work=$(mktemp -d /tmp/genimage-cl-slurm.XXXXXX)
etc=$work/etc
mkdir -p "$etc" "$work/logs" "$work/slurmctld" "$work/slurmd"

say() { echo "slurm.sh: $*"; }
die() { echo "slurm.sh: error: $*" >&2; exit 1; }

started=()  # "name pid" of each daemon this script started (children of this shell)
alive() { local state; state=$(ps -o stat= -p "$1") && [[ $state != Z* ]]; }
stop_daemons() {
    local rc=$? i name pid waited
    trap - EXIT
    for ((i = ${#started[@]} - 1; i >= 0; i--)); do  # slurmd, slurmctld, then munged
        read -r name pid <<<"${started[i]}"
        kill "$pid" 2>/dev/null || continue
        for ((waited = 0; waited < 100; waited++)); do
            alive "$pid" || break
            sleep 0.1
        done
        if alive "$pid"; then
            echo "slurm.sh: $name (pid $pid) still running 10 s after SIGTERM: killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
            rc=1
        fi
        wait "$pid" 2>/dev/null || true
    done
    ((${#started[@]} == 0)) || say "stopped ${started[*]%% *}"
    if ((rc != 0)); then
        for log in "$work"/*.log; do
            [ -s "$log" ] && { echo "--- last lines of $log" >&2; tail -n 20 "$log" >&2; }
        done
        echo "slurm.sh: failed; logs and copies kept in $work" >&2
    else
        rm -rf "$work"
    fi
    exit "$rc"
}
trap stop_daemons EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- install
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
    || ! command -v munged >/dev/null; then
    say "installing slurm-wlm and munge"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends slurm-wlm munge; } >"$work/apt.log" 2>&1 \
        || { tail -n 30 "$work/apt.log" >&2; die "apt-get install slurm-wlm munge failed"; }
fi

# --- munge: reuse a running munged, else start one (key created if missing)
wait_for() {  # wait_for SECONDS WHAT COMMAND...: until COMMAND succeeds
    local limit=$1 what=$2 deadline=$((SECONDS + $1))
    shift 2
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || die "$what not ready after $limit s"
        sleep 0.5
    done
}
munge_works() { munge -n | unmunge; }
if munge_works >/dev/null 2>&1; then
    say "munged already running: using it"
else
    if [ ! -s /etc/munge/munge.key ]; then
        install -d -o munge -g munge -m 0700 /etc/munge
        mungekey --create --keyfile=/etc/munge/munge.key
        chown munge:munge /etc/munge/munge.key
        chmod 0400 /etc/munge/munge.key
    fi
    install -d -o munge -g munge -m 0755 /run/munge
    setpriv --reuid=munge --regid=munge --init-groups munged --foreground --log-file="$work/munged.log" >>"$work/munged.log" 2>&1 &
    started+=("munged $!")
    wait_for 20 munged munge_works
fi

# --- slurm.conf for this host, then slurmctld and slurmd in the foreground, in the background
host=$(hostname -s)
sed -e "s|@HOST@|$host|g" -e "s|@CPUS@|$(nproc)|g" -e "s|@STATE@|$work|g" .ci/slurm/slurm.conf.in >"$etc/slurm.conf"
export SLURM_CONF=$etc/slurm.conf
slurmctld -D -f "$SLURM_CONF" >>"$work/slurmctld.log" 2>&1 &
started+=("slurmctld $!")
wait_for 30 slurmctld scontrol ping
slurmd -D -f "$SLURM_CONF" >>"$work/slurmd.log" 2>&1 &
started+=("slurmd $!")
node_state() { sinfo -h -N -n "$host" -o %t 2>&1; }
deadline=$((SECONDS + 60))
until [ "$(node_state)" = idle ]; do
    ((SECONDS < deadline)) || die "node $host not idle after 60 s (sinfo: $(node_state); see slurmd.log)"
    sleep 0.5
done
say "one-node cluster up: $(sinfo -h -N -o '%N %t %c CPUs, partition %P')"

# --- the job array over a sample tree and a sample release, against a single-process publish
say "writing the sample tree and release"
"$py" -m conversion sample-release --workdir "$work/sample" >"$work/sample.log" 2>&1 \
    || { tail -n 20 "$work/sample.log" >&2; die "sample-release failed"; }

publish() {  # publish NAME ARGS...: a publish run, its output in logs/NAME.log
    local name=$1
    shift
    "$py" -m conversion publish --no-progress "$@" >"$work/logs/$name.log" 2>&1 \
        || { tail -n 20 "$work/logs/$name.log" >&2; die "publish $* failed"; }
}

compare() {  # compare NAME DATA_DIR
    local name=$1 data=$2 n job out=$work/$1
    n=$("$py" -m conversion publish --data-dir "$data" --list-jobs | wc -l) || die "$name: publish --list-jobs failed"
    ((n > 0)) || die "$name: publish --list-jobs listed no job"
    say "$name: $n jobs; sbatch --wait --array=0-$((n - 1)) slurm/publish-array.sbatch"
    local began=$SECONDS
    if ! job=$(sbatch --parsable --wait --array=0-$((n - 1)) --output="$work/logs/$name-%A_%a.out" \
        slurm/publish-array.sbatch "$data" "$out/slurm"); then
        grep -l '^error' "$work/logs/$name"-*.out 2>/dev/null | head -n 3 | xargs -r tail -n 5 >&2
        die "$name: the job array failed (task logs in $work/logs)"
    fi
    job=${job%%;*}
    (($(ls "$work/logs/$name-${job}"_*.out | wc -l) == n)) || die "$name: job $job ran fewer than $n tasks"
    say "$name: job array $job done in $((SECONDS - began)) s; final publish, then a single-process one"
    publish "$name-final" --data-dir "$data" --out "$out/slurm"
    if grep -q ': building' "$work/logs/$name-final.log"; then
        die "$name: the final publish built parts the array should have built: $(grep ': building' "$work/logs/$name-final.log")"
    fi
    publish "$name-single" --data-dir "$data" --out "$out/single"
    diff -r "$out/single/data" "$out/slurm/data" || die "$name: data/ differs between the job array's copy and a single publish"
    cmp "$out/single/README.md" "$out/slurm/README.md" || die "$name: README.md differs between the job array's copy and a single publish"
    say "$name: slurm vs single: $(($(cd "$out/single" && find data -type f | wc -l) + 1)) files identical (data/ and README.md)"
    local others
    if others=$(diff -rq "$out/single" "$out/slurm" 2>&1); then
        say "$name: the whole copies are identical too ($(cd "$out/single" && find . -type f | wc -l) files, .publish/ included)"
    else
        say "$name: outside data/ and README.md the copies differ:"$'\n'"$others"
    fi
}

compare tree "$work/sample/GenImage"
compare release "$work/sample/release"
say "done in $((SECONDS - start)) s"
