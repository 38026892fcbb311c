# Sourced by bench/cnn.sh and bench/caption_bench.sh (after OUT is made): `round_trip_ns`
# prints the CPU 0 <-> CPU 1 cache-line round trip in ns (bench/core_round_trip.c, built into
# OUT), or nothing on a machine with one CPU or no C compiler. On a virtual machine it tells
# where the host placed the two vCPUs: about 48-90 ns on one core complex, about 320-630 ns
# across two (AMD EPYC, 2026-12-07), where a 2-thread training step of graphc ran up to 2.7x
# and PyTorch's up to 1.6x slower. With other work on the cores it reads high (1,130 ns beside a
# build): its two threads then wait for cores too, so read it on an otherwise idle machine.
round_trip_ns() { :; }
if [ "$(nproc)" -ge 2 ] && command -v cc > /dev/null \
    && cc -O2 -pthread -o "$OUT/core_round_trip" "$(dirname "${BASH_SOURCE[0]}")/core_round_trip.c" 2> /dev/null; then
    round_trip_ns() { "$OUT/core_round_trip" | python3 -c 'import json, sys; print(json.load(sys.stdin)["round_trip_ns"])'; }
fi
# `l3_gbs` prints the lower of the two vCPUs' L3 rates in GB/s (bench/core_speed.c: each re-reads
# 4 MB, both at once), or nothing where that cannot be built. It reads about half its usual value
# when other guests load the shared L3 (AMD EPYC VM: 90-98 GB/s, 48-62 when loaded), a second
# cause of slow processes that the round trip does not show.
l3_gbs() { :; }
if [ "$(nproc)" -ge 2 ] && command -v cc > /dev/null \
    && cc -O2 -pthread -o "$OUT/core_speed" "$(dirname "${BASH_SOURCE[0]}")/core_speed.c" 2> /dev/null; then
    l3_gbs() { "$OUT/core_speed" | python3 -c 'import json, sys; print(min(json.load(sys.stdin)["l3_gbs"]))'; }
fi
