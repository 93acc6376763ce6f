#!/usr/bin/env bash
# Starts a single-node Slurm cluster on this machine (slurmctld and slurmd on localhost, every CPU, munge
# authentication), installing Debian's slurm-wlm and munge first when they are missing. Needs root (apt, the
# daemons). Idempotent: a cluster this script started and that still answers is left as it is.
# Verified on Debian 12 (slurm-wlm 22.05.8), the project's machine kind: ../shared/STACK.md.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo > /dev/null && sudo -n true 2> /dev/null; then
        exec sudo -n "$0" "$@"
    fi
    echo "error: $0 starts system daemons (munged, slurmctld, slurmd) and may install packages: run it as root (or with passwordless sudo)." >&2
    exit 1
fi
if ! command -v slurmctld > /dev/null || ! command -v munged > /dev/null; then
    echo "Installing slurm-wlm and munge (apt)..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q > /dev/null
    apt-get install -y -q slurm-wlm munge > /dev/null
fi

if sinfo -h -o %T 2> /dev/null | grep -qE '^(idle|mixed|allocated)'; then
    echo "Slurm already runs here: $(sinfo -h -o '%N %c CPUs %T')"
    exit 0
fi

node=$(hostname -s)
# slurmd finds its node by this name and the daemons talk over it: make sure it resolves.
getent hosts "$node" > /dev/null || echo "127.0.0.1 $node" >> /etc/hosts
cpus=$(nproc)
memory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 85 / 100 ))   # MB, leaving some to the system

if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/log/munge /var/lib/munge && chown munge:munge /run/munge /var/log/munge /var/lib/munge
pgrep -x munged > /dev/null || runuser -u munge -- munged --force

mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
cat > /etc/slurm/slurm.conf <<CONF
# Written by scripts/slurm/local-cluster.sh: one node, this machine.
ClusterName=local
SlurmctldHost=${node}
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SchedulerType=sched/backfill
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
MaxArraySize=100001
MaxJobCount=200000
NodeName=${node} CPUs=${cpus} RealMemory=${memory} State=UNKNOWN
PartitionName=main Nodes=${node} Default=YES MaxTime=INFINITE State=UP
CONF

pkill -x slurmd 2> /dev/null || true
pkill -x slurmctld 2> /dev/null || true
sleep 1
slurmctld -c      # -c: a clean state (no jobs left from an earlier cluster)
slurmd
for _ in $(seq 1 60); do
    if sinfo -h -o %T 2> /dev/null | grep -qE '^(idle|mixed|allocated)'; then
        echo "Slurm runs here: $(sinfo -h -o '%N %c CPUs %m MB %T')"
        exit 0
    fi
    sleep 1
done
echo "error: the node did not become idle within 60 s; see /var/log/slurm/slurmctld.log and slurmd.log:" >&2
sinfo >&2 || true
tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
exit 1
