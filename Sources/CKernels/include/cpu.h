// Which instruction-set path a kernel takes, decided at run time from the CPU: the machines that
// build and run Cascade differ (some have AVX-512 with VNNI, some only AVX2), so no path may be
// chosen by a compile flag alone. Every kernel family keeps a portable C path below its SIMD ones.
#ifndef CASCADE_CPU_H
#define CASCADE_CPU_H

/// Kernel levels, each a superset of the one before.
enum {
    /// Plain C, any x86-64 (or any CPU at all).
    CASCADE_ISA_PORTABLE = 0,
    /// AVX2, FMA and F16C (Haswell, Zen and later).
    CASCADE_ISA_AVX2 = 1,
    /// AVX-512 F, BW, DQ and VL (Skylake-SP and later).
    CASCADE_ISA_AVX512 = 2,
    /// AVX-512 with VNNI (`vpdpbusd`: Cascade Lake, Ice Lake, Zen 4 and later).
    CASCADE_ISA_AVX512_VNNI = 3,
};

/// The highest level this CPU runs.
int cascade_isa_supported(void);

/// The level kernels use: the CPU's, lowered (never raised) by the environment variable
/// `CASCADE_ISA` = `portable`, `avx2`, `avx512` or `avx512_vnni`, read once. Lets a user or a
/// benchmark compare paths on one machine.
int cascade_isa_selected(void);

/// "portable", "avx2", "avx512" or "avx512_vnni".
const char *cascade_isa_name(int level);

/// 1 when this CPU has AVX-512 BF16 (`vdpbf16ps`); reported, not yet used by a kernel.
int cascade_cpu_has_avx512_bf16(void);

/// 1 when this CPU has AVX2 and FMA, which `cascade_sgemm_nt_skinny` needs (GELU and softmax
/// check by themselves and fall back to their portable versions); else 0.
int cascade_avx2_available(void);

#endif
