#!/usr/bin/env bash
# Two hosts on one machine: makes two network namespaces joined by a veth pair and runs a
# 2-rank data-parallel training job with one rank in each, over Open MPI's TCP transport, so
# the ranks cannot share memory and every gradient crosses the (virtual) wire. mpirun runs in
# the first namespace; it starts the second rank through an agent script that enters the
# second namespace (Open MPI's plm_rsh_agent) instead of ssh. Traffic is restricted to the
# veth subnet, and the namespaces (with the veth pair) are removed when the script ends,
# also on failure or Ctrl-C. Needs root, iproute2 and Open MPI.
#
#   sudo scripts/mpi-two-hosts.sh            # the Q2 CNN, 50 steps, checked against one process
#   GRAPHC=.build/debug/graphc sudo -E scripts/mpi-two-hosts.sh
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" -eq 0 ] || { echo "error: $0 makes network namespaces: run it as root"; exit 1; }
command -v ip >/dev/null || { echo "error: ip (iproute2) is not installed"; exit 1; }
command -v mpirun >/dev/null || { echo "error: mpirun is not installed (scripts/install-deps.sh installs openmpi-bin)"; exit 1; }
GRAPHC=${GRAPHC:-.build/release/graphc}
if [ ! -x "$GRAPHC" ]; then swift build -c release --product graphc; fi
GRAPHC=$(realpath "$GRAPHC")

tag=$$
nsA=graphc-a-$tag nsB=graphc-b-$tag
vethA=gca$tag vethB=gcb$tag
subnet=10.231.77
work=$(mktemp -d /tmp/graphc-two-hosts.XXXXXX)

cleanup() {
  status=$?
  ip netns del "$nsA" 2>/dev/null || true
  ip netns del "$nsB" 2>/dev/null || true   # deleting a namespace deletes its end of the veth pair
  ip link del "$vethA" 2>/dev/null || true
  rm -rf "$work"
  if [ $status -eq 0 ]; then echo "two hosts: passed; namespaces $nsA and $nsB removed"
  else echo "two hosts: FAILED (exit $status); namespaces $nsA and $nsB removed"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$nsA"
ip netns add "$nsB"
ip link add "$vethA" type veth peer name "$vethB"
ip link set "$vethA" netns "$nsA"
ip link set "$vethB" netns "$nsB"
ip -n "$nsA" addr add "$subnet.1/24" dev "$vethA"
ip -n "$nsB" addr add "$subnet.2/24" dev "$vethB"
for ns in "$nsA" "$nsB"; do ip -n "$ns" link set lo up; done
ip -n "$nsA" link set "$vethA" up
ip -n "$nsB" link set "$vethB" up
echo "two hosts: $nsA ($subnet.1, $vethA) <-> $nsB ($subnet.2, $vethB)"

# Open MPI calls the agent as `agent HOST COMMAND...` to start its daemon on HOST.
cat > "$work/agent.sh" <<AGENT
#!/bin/sh
host=\$1; shift
case "\$host" in
  $subnet.2) exec ip netns exec $nsB sh -c "\$*" ;;
  *) echo "agent: unknown host \$host" >&2; exit 1 ;;
esac
AGENT
chmod +x "$work/agent.sh"
printf '%s.1 slots=1\n%s.2 slots=1\n' "$subnet" "$subnet" > "$work/hosts"

args=(graphs/cnn.swiftgraph --train --limit 400 --epochs 1 --dropout 0 --threads 1)
"$GRAPHC" "${args[@]}" --out "$work/one" --step-losses "$work/one.txt" > "$work/one.log"

mca=(--mca plm_rsh_agent "$work/agent.sh" --mca btl tcp,self --mca btl_tcp_if_include "$subnet.0/24"
     --mca oob_tcp_if_include "$subnet.0/24" --mca pml ob1)
ip netns exec "$nsA" timeout --kill-after=10 600 mpirun --allow-run-as-root --hostfile "$work/hosts" -np 2 --map-by node "${mca[@]}" \
  -x PATH ${OPENBLAS_CORETYPE:+-x OPENBLAS_CORETYPE} \
  sh -c 'echo "rank $OMPI_COMM_WORLD_RANK in $(ip -o -4 addr show | grep -o "'"$subnet"'\.[0-9]*" | head -1)" >&2; exec "$0" "$@"' \
  "$GRAPHC" "${args[@]}" --out "$work/two" --step-losses "$work/two.txt" | tee "$work/two.log"

# The 2-rank job must have trained the same 50 steps as one process, to float rounding.
paste "$work/one.txt" "$work/two.txt" | awk -v n="$(wc -l < "$work/one.txt")" '
  { d = $3 - $6; if (d < 0) d = -d; r = d / ($3 < 0 ? -$3 : $3); if (r > worst) worst = r; rows++ }
  END { printf "two hosts: %d steps, largest relative difference from one process %.2g\n", rows, worst
        exit !(rows == n && rows >= 50 && worst <= 1e-5) }'
