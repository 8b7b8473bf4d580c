// The CPU check every kernel family shares (see cpu.h).
#include "cpu.h"

#include <stdlib.h>
#include <string.h>

int cascade_avx2_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

int cascade_isa_supported(void) {
    __builtin_cpu_init();
    if (!cascade_avx2_available() || !__builtin_cpu_supports("f16c")) return CASCADE_ISA_PORTABLE;
    if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
          __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")))
        return CASCADE_ISA_AVX2;
    return __builtin_cpu_supports("avx512vnni") ? CASCADE_ISA_AVX512_VNNI : CASCADE_ISA_AVX512;
}

int cascade_cpu_has_avx512_bf16(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16");
}

const char *cascade_isa_name(int level) {
    switch (level) {
    case CASCADE_ISA_AVX2: return "avx2";
    case CASCADE_ISA_AVX512: return "avx512";
    case CASCADE_ISA_AVX512_VNNI: return "avx512_vnni";
    default: return "portable";
    }
}

static int selected = -1;

// Set before any Swift code runs, so readers never race a lazy first use.
__attribute__((constructor)) static void select_isa(void) {
    int level = cascade_isa_supported();
    const char *wanted = getenv("CASCADE_ISA");
    if (wanted) {
        for (int candidate = CASCADE_ISA_PORTABLE; candidate <= CASCADE_ISA_AVX512_VNNI; candidate++) {
            if (strcmp(wanted, cascade_isa_name(candidate)) == 0 && candidate < level) level = candidate;
        }
    }
    selected = level;
}

int cascade_isa_selected(void) { return selected < 0 ? cascade_isa_supported() : selected; }
