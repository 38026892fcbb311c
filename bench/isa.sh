# Sourced by the bench scripts. isa_args CORE: the --isa argument for graphc when OpenBLAS runs
# with core type CORE, so a run meant as a CPU without AVX-512 (OPENBLAS_CORETYPE=Haswell) has
# graphc's own vector kernels limited the same way; ISA, when set, overrides it for every core.
isa_args() {
    local isa=${ISA:-}
    if [ -z "$isa" ]; then
        case "${1:-}" in
            Haswell|Zen) isa=avx2 ;;
            Sandybridge|Nehalem|Core2|Penryn|Dunnington|Atom|Barcelona|Bulldozer|Piledriver|Steamroller|Excavator|Bobcat|Prescott|Opteron) isa=sse2 ;;
        esac
    fi
    [ -n "$isa" ] && echo "--isa $isa"
    return 0
}
