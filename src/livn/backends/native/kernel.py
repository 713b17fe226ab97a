"""The fused CPU kernel: one compiled C function advances a whole network for a chunk of steps.

The step of each cell group is rendered from the model's own functions by the scalar code
renderer of :mod:`livn.backends.brian2.codegen` (the model layer is written against an array
namespace; rendered through ``codegen.XP`` it gives one scalar statement per quantity, so no
equation or parameter is copied here). This module translates those statements to C, wraps
them in loops — the steps of a chunk, the cells of each group (a SIMD loop: the C compiler
vectorises the exponentials and logarithms through the C library's vector math), the spikes
of a step — and compiles the result with the system's C compiler into a shared library that
is loaded with :mod:`ctypes`. One call advances every cell, synapse, noise process and
recorder by ``k`` steps: no per-step dispatch, no intermediate arrays.

Per step (the order of :meth:`livn.backends.jax.engine.Engine._step`):

1. arrivals: each synaptic slot reads its row of the ring of future inputs (cleared after);
2. per cell: the dual-exponential channels take the arrivals (NMDA blocked at the target's
   voltage of the start of the step), the point-conductance noise takes an exact OU update
   from the step's standard normals, the injected current is the stimulus row of the step,
   then the model's cell update and spike test;
3. recording: at the end of each recording block, soma voltage and membrane current;
4. delivery: every spike adds its outgoing entries into the ring at ``step + delay``, AMPA
   entries scaled by the presynaptic cell's Tsodyks–Markram release.

State is ``float`` (as the JAX engine's) or ``double`` (``precision=64``); times (``t``, the
last spike, crossing times) are always double. Compiled with ``-O3 -march=native -ffast-math``
(fast math is what lets the compiler use vector ``exp``/``log``; the scheme's own error is
orders of magnitude larger than the reassociation it allows) and linked without it, so loading
the library leaves the process's floating-point mode alone; the kernel flushes denormals to
zero while it runs (they would slow decaying conductances ~100×) and restores the mode.

The library is built once per source and machine into ``$LIVN_CACHE_DIR/native/<hash>.so``
(under a file lock, renamed into place atomically), so every later process — each sampling
or sweep worker — loads it in milliseconds.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from livn.errors import ConfigError

__all__ = ["CFLAGS", "KernelSource", "build", "kernel_source", "sample_normals"]

#: Rows of a group's parameter table ``P<g>`` (noise coefficients per cell).
NOISE_ROWS = ("a_e", "b_e", "g_e0", "a_i", "b_i", "g_i0")
CFLAGS = ["-O3", "-march=native", "-ffast-math", "-fopenmp-simd", "-fPIC"]
_DOUBLE_VARS = {"tspike", "tcross", "q_since"}
_FUNCS = {"int": "(real)", "abs": "FABS", "exp": "EXP", "log": "LOG", "sqrt": "SQRT",
          "clip": "CLIP"}  # fmt: skip


#: The background noise's standard normals, counter-based: one hash of (key, step) per step,
#: then per cell two more and a Box–Muller pair (excitatory, inhibitory). It vectorises with
#: the cell loop, keeps no state, and gives the same numbers however a run is split.
NORMALS_C = """
static inline uint32_t livn_mix(uint32_t x) {  /* lowbias32 (C. Wellons) */
  x ^= x >> 16; x *= 0x7feb352dU; x ^= x >> 15; x *= 0x846ca68bU; x ^= x >> 16;
  return x;
}
static inline uint32_t livn_step_hash(uint32_t key, uint64_t step) {
  return livn_mix(key ^ livn_mix((uint32_t)step ^ livn_mix((uint32_t)(step >> 32) + 0x9e3779b9U)));
}
static inline void livn_normals(uint32_t h_step, uint32_t cell, real *z0, real *z1) {
  const uint32_t a = livn_mix(h_step ^ (cell * 0x9e3779b1U + 0x632be5abU));
  const uint32_t b = livn_mix(a ^ 0x85ebca6bU);
  const float u1 = (float)((a >> 8) + 1u) * (1.0f / 16777216.0f);  /* (0, 1] */
  const float u2 = (float)(b >> 8) * (1.0f / 16777216.0f);         /* [0, 1) */
  const float r = sqrtf(-2.0f * logf(u1));
  const float th = 6.283185307179586f * u2 - 3.141592653589793f;  /* [-pi, pi) */
  /* two sines, not cos and sin: the compiler would fuse those into one complex sincos,
     which does not vectorise */
  *z0 = (real)(r * sinf(th + 1.5707963267948966f));
  *z1 = (real)(r * sinf(th));
}
int64_t livn_sample_normals(uint32_t key, int64_t step0, int64_t k, int64_t n, float *out) {
  /* [k, n, 2]: the normals of steps step0 .. step0 + k - 1 as the kernel draws them */
  for (int64_t s = 0; s < k; s++) {
    const uint32_t h = livn_step_hash(key, (uint64_t)(step0 + s));
    for (int64_t i = 0; i < n; i++) {
      real z0, z1;
      livn_normals(h, (uint32_t)i, &z0, &z1);
      out[(s * n + i) * 2] = (float)z0;
      out[(s * n + i) * 2 + 1] = (float)z1;
    }
  }
  return k * n;
}
"""


class KernelSource:
    """The generated C source of a network's kernel and the layout of its tables.

    Attributes:
        source: C source (defines ``livn_run``).
        state_vars: Per group, the names of the rows of its state table (``tspike`` is kept
            in a separate double array).
        dtype: NumPy dtype of the state (float32 or float64).
    """

    def __init__(self, source: str, state_vars: list[list[str]], dtype: Any) -> None:
        self.source = source
        self.state_vars = state_vars
        self.dtype = np.dtype(dtype)

    @property
    def digest(self) -> str:
        key = "\n".join([self.source, " ".join(CFLAGS), platform.machine(), _cpu_model()])
        return hashlib.sha256(key.encode()).hexdigest()[:20]


def _cpu_model() -> str:
    """The CPU model (``-march=native`` code is only valid on the CPU it was built for)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith(("model name", "flags")):
                    return line
    except OSError:
        pass
    return platform.processor()


def _to_c(code: str, single: bool) -> str:
    """A rendered (Python-syntax) expression in C."""
    code = re.sub(r"\b(int|abs|exp|log|sqrt|clip)\(", lambda m: _FUNCS[m.group(1)] + "(", code)
    code = re.sub(r"\binf\b", "LIVN_INF", code)
    if single:  # float literals: keep the arithmetic in float
        code = re.sub(r"(?<![\w.\]])(\d+\.\d*(?:e[+-]?\d+)?|\d+e[+-]?\d+)(?![\w.])", r"\1f", code)
    return code


def _group_statements(gi: int, group: Any, physics: Any, dt: float):
    """``(state vars, statements, soma voltage var, membrane current expr)`` of a group.

    The inputs are written for this kernel (ring slots, per-cell noise rows, injection
    table); the cell update and spike test are the renderer's.
    """
    from livn.backends.brian2 import codegen as cg

    cell, channels = group.cell, group.channels
    gc = cg.GroupCode()
    cg._SINK.append(gc)
    try:
        def arrival(ci: int) -> Any:  # the channel's slot of this step's ring row, then cleared
            slot = f"ring_r[{group.slot_offset} + {ci} * n + i]"
            gc.step.append(f"q_arr{ci} = {slot} * W{gi}[{ci}]")
            gc.step.append(f"{slot} = 0")
            return cg.Expr(f"q_arr{ci}")

        g_in, ge_in = cg.synaptic_inputs(gc, cell, channels, physics, dt, arrival)
        rows = {name: row for row, name in enumerate(NOISE_ROWS)}
        coeff = lambda name: cg.Expr(f"P{gi}[{rows[name]} * n + i]")  # noqa: E731
        # z0, z1: the cell's normals of the step (drawn in the loop, NORMALS_C)
        g_in, ge_in = cg.noise_inputs(gc, cell, g_in, ge_in, coeff, cg.Expr("z0"),
                                      cg.Expr("z1"), cg.Expr("noise_on"))  # fmt: skip
        i_inj = [gc.let(f"iinj{j}_", cg.Expr(f"INJ_t[{j} * n + i]")) for j in range(cell.n_comp)]
        cg.cell_step(gc, cell, dt, g_in, ge_in, i_inj)
    finally:
        cg._SINK.pop()
    state, im = [], None
    for line in gc.decls:
        if " = " in line:  # the membrane current subexpression "im_soma = EXPR : 1"
            name, rest = line.split(" = ", 1)
            if name.strip() == gc.soma_im:
                im = rest.rsplit(" : ", 1)[0]
            continue
        name = line.split(":", 1)[0].strip()
        if name not in state and name not in ("spk", "tcross", "tspike"):
            state.append(name)
    return state, gc.step, gc.soma_v, im


def kernel_source(network: Any, model: Any, precision: int = 32) -> KernelSource:
    """The C kernel of ``network`` (see the module docstring)."""
    from livn.models.base import synapse_physics

    if precision not in (32, 64):
        raise ConfigError(f"precision must be 32 or 64 (bits), not {precision!r}.")
    single = precision == 32
    physics = synapse_physics(model)
    dt = float(model.dt)
    u, tau_rec = float(physics.std_u), float(physics.std_tau_rec)
    real = "float" if single else "double"
    sfx = "f" if single else ""
    out = [
        "/* Generated by livn.backends.native.kernel; do not edit. */",
        "#include <math.h>",
        "#include <stdint.h>",
        "#if defined(__SSE__)",
        "#include <xmmintrin.h>",
        "#endif",
        f"typedef {real} real;",
        f"#define EXP exp{sfx}",
        f"#define LOG log{sfx}",
        f"#define SQRT sqrt{sfx}",
        f"#define FABS fabs{sfx}",
        f"#define LIVN_INF ((real)3.0e38{sfx})",
        "static inline real CLIP(real x, real lo, real hi) {",
        "  return x < lo ? lo : (x > hi ? hi : x);",
        "}",
        "static const double ms = 1.0;",
        NORMALS_C,
        "",
    ]
    groups = network.groups
    state_vars, bodies = [], []
    for gi, g in enumerate(groups):
        state, stmts, v_name, im = _group_statements(gi, g, physics, dt)
        state_vars.append(state)
        bodies.append((g, state, stmts, v_name, im))

    # one function per group: advance every cell by one step (the SIMD loop), then the spike
    # and recording loops
    for gi, (_g, state, stmts, v_name, im) in enumerate(bodies):
        assigned = []
        for st in stmts:
            name = st.split(" = ", 1)[0].strip()
            if name not in assigned and name not in state and name != "tspike" and "[" not in name:
                assigned.append(name)
        out += [
            f"static void group{gi}(int64_t n, real *restrict S, double *restrict TS,",
            f"    const real *restrict P{gi}, const real *restrict W{gi}, real *restrict ring_r,",
            "    uint32_t h_step, int noisy, const real *restrict INJ_t, real noise_on,",
            "    double t,",
            "    real *restrict SPK, double *restrict TC) {",
            "  const double dt = " + repr(dt) + ";",
            "  (void)dt;",
            "#pragma omp simd",
            "  for (int64_t i = 0; i < n; i++) {",
        ]
        out += [f"    real {name} = S[{row} * n + i];" for row, name in enumerate(state)]
        out.append("    double tspike = TS[i];")
        out.append("    real z0 = 0, z1 = 0;")
        out.append(f"    if (noisy) livn_normals(h_step, (uint32_t)({_g.offset} + i), &z0, &z1);")
        for name in assigned:
            out.append(f"    {'double' if name in _DOUBLE_VARS else 'real'} {name};")
        for st in stmts:
            name, expr = st.split(" = ", 1)
            out.append(f"    {name.strip()} = {_to_c(expr, single)};")
        out += [f"    S[{row} * n + i] = {name};" for row, name in enumerate(state)]
        out += ["    TS[i] = tspike;", "    SPK[i] = spk;", "    TC[i] = tcross;", "  }", "}", ""]
        # membrane current at the soma of every cell (recording steps only)
        out += [
            f"static void record{gi}(int64_t n, const real *restrict S, float *restrict V,",
            "    float *restrict IM, int rec_v, int rec_im) {",
            "  for (int64_t i = 0; i < n; i++) {",
        ]
        out += [f"    real {name} = S[{row} * n + i];" for row, name in enumerate(state)]
        out += [f"    if (rec_v) V[i] = (float){v_name};",
                f"    if (rec_im) IM[i] = (float)({_to_c(im or '0.0', single)});",
                "  }", "}", ""]  # fmt: skip

    any_std = bool(np.any(network.entry_std))
    args = "void **p, const int64_t *I, const double *F"
    out += [
        f"int64_t livn_run({args}) {{",
        "#if defined(__SSE__)  /* denormals flushed inside the kernel only (restored on exit) */",
        "  const unsigned int csr = _mm_getcsr();",
        "  _mm_setcsr(csr | 0x8040);",
        "#endif",
        f"  const double dt = {dt!r};",
        "  int64_t a = 0;",
    ]
    for gi in range(len(groups)):
        out += [f"  real *S{gi} = (real *)p[a++]; double *TS{gi} = (double *)p[a++];",
                f"  const real *P{gi} = (const real *)p[a++]; const real *W{gi} = (const real *)p[a++];",
                f"  const real *INJ{gi} = (const real *)p[a++];"]  # fmt: skip
    out += [
        "  real *ring = (real *)p[a++];",
        "  const int64_t *out_ptr = (const int64_t *)p[a++];",
        "  const int64_t *out_slot = (const int64_t *)p[a++];",
        "  const int64_t *out_delay = (const int64_t *)p[a++];",
        "  const uint8_t *out_std = (const uint8_t *)p[a++];",
        "  double *R = (double *)p[a++]; double *tpre = (double *)p[a++];",
        "  float *V = (float *)p[a++]; float *IM = (float *)p[a++];",
        "  int64_t *spk_ids = (int64_t *)p[a++]; double *spk_t = (double *)p[a++];",
        "  int64_t *fired = (int64_t *)p[a++];",
        "  real *SPK = (real *)p[a++]; double *TC = (double *)p[a++];",
        "  const int64_t step0 = I[0], k = I[1], noisy = I[2], n_sub = I[3], rec_v = I[4],",
        "      rec_im = I[5], inj_step0 = I[6], D = I[7], RW = I[8], N = I[9];",
        "  const double inj_dt = F[0], t_run0 = F[1];",
        "  const uint32_t key = (uint32_t)I[10];",
        "  const real noise_on = (real)F[2];",
    ]
    for gi, g in enumerate(groups):
        out.append(f"  const int64_t n{gi} = {g.n}, rows{gi} = I[{11 + gi}];")
    out += [
        "  int64_t ns = 0;",
        "  for (int64_t s = 0; s < k; s++) {",
        "    const int64_t step = step0 + s;",
        "    const double t = step * dt;",
        "    const int64_t r = step % D;",
        "    real *ring_r = ring + r * RW;",
        "    const uint32_t h_step = livn_step_hash(key, (uint64_t)step);",
        "    int64_t ti = (int64_t)floor((inj_step0 + s) * dt / inj_dt + 1e-4);",
        "    const int rec = (s + 1) % n_sub == 0;",
        "    const int64_t blk = (s + 1) / n_sub - 1;",
        "    int64_t nf = 0;",
    ]
    for gi, (g, _state, _stmts, _v, _im) in enumerate(bodies):
        out += [
            f"    {{ const int64_t tr = ti < rows{gi} ? ti : rows{gi} - 1;",
            f"      group{gi}(n{gi}, S{gi}, TS{gi}, P{gi}, W{gi}, ring_r, h_step, (int)noisy,",
            f"             INJ{gi} + tr * n{gi} * {g.cell.n_comp}, noise_on, t, SPK, TC);",
            f"      for (int64_t i = 0; i < n{gi}; i++) if (SPK[i] > 0.5) {{",
            f"        fired[nf++] = {g.offset} + i;",
            f"        spk_ids[ns] = {g.offset} + i; spk_t[ns] = TC[i] - t_run0; ns++;",
            "      }",
            f"      if (rec) record{gi}(n{gi}, S{gi}, V + blk * N + {g.offset},",
            f"                         IM + blk * N + {g.offset}, (int)rec_v, (int)rec_im); }}",
        ]
    out += [
        "    for (int64_t q = 0; q < nf; q++) {",
        "      const int64_t c = fired[q];",
        "      real rel = 1;",
    ]
    if any_std:  # AMPA depression per presynaptic cell, at its spike (as the JAX engine)
        out += [
            f"      const double reff = 1.0 - (1.0 - R[c]) * exp(-(t + dt - tpre[c]) / {tau_rec!r});",
            f"      rel = (real)(reff * {u!r});",
            f"      R[c] = reff * (1.0 - {u!r});",
            "      tpre[c] = t + dt;",
        ]
    out += [
        "      for (int64_t e = out_ptr[c]; e < out_ptr[c + 1]; e++) {",
        "        int64_t row = r + out_delay[e];",
        "        if (row >= D) row -= D;",
        "        ring[row * RW + out_slot[e]] += out_std[e] ? rel : (real)1;",
        "      }",
        "    }",
        "  }",
        "#if defined(__SSE__)",
        "  _mm_setcsr(csr);",
        "#endif",
        "  return ns;",
        "}",
        "",
    ]
    return KernelSource("\n".join(out), state_vars, np.float32 if single else np.float64)


def _compiler() -> str:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise ConfigError(
            "the native backend compiles its kernel with a C compiler, and none was found "
            "(set CC or install gcc/clang), or use backend='jax'."
        )
    return cc


def build(src: KernelSource) -> Any:
    """The loaded ``livn_run`` of ``src``.

    Compiled once per source and machine into ``$LIVN_CACHE_DIR/native`` — in a staging
    directory under a file lock, then renamed into place — and loaded from there by every
    later process. A failed compile raises the compiler's output and installs nothing; an
    unwritable cache directory builds into a private temporary one.
    """
    from livn.system.predefined import _lock, cache_dir

    root = cache_dir() / "native"
    lib_path = root / f"livn_native_{src.digest}.so"
    if not lib_path.exists():
        try:
            root.mkdir(parents=True, exist_ok=True)
            lock = _lock(root / f".{src.digest}.lock")
        except OSError:
            root = Path(tempfile.mkdtemp(prefix="livn-native-"))
            lib_path = root / lib_path.name
            lock = _lock(root / ".lock")
        with lock:
            if not lib_path.exists():  # else another process built it while we waited
                _compile(src, root, lib_path)
    lib = ctypes.CDLL(str(lib_path))
    fn = lib.livn_run
    fn.restype = ctypes.c_int64
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    fn.library = lib  # keeps the library loaded as long as the function is referenced
    return fn


def _compile(src: KernelSource, root: Path, lib_path: Path) -> None:
    cc = _compiler()
    with tempfile.TemporaryDirectory(prefix=".staging-", dir=root) as tmp:
        c_file = Path(tmp) / f"{lib_path.stem}.c"
        c_file.write_text(src.source)
        so = Path(tmp) / lib_path.name
        obj = Path(tmp) / "kernel.o"
        # compile with fast math, link without it: gcc would otherwise link crtfastmath.o,
        # which switches the whole process to flush-to-zero when the library is loaded
        flags = CFLAGS
        for attempt in (0, 1):  # a compiler without -march=native gets portable code
            try:
                proc = subprocess.run([cc, *flags, "-c", str(c_file), "-o", str(obj)],
                                      capture_output=True, text=True)  # fmt: skip
                if proc.returncode == 0:
                    proc = subprocess.run([cc, "-shared", str(obj), "-o", str(so), "-lm"],
                                          capture_output=True, text=True)  # fmt: skip
            except OSError as exc:
                raise ConfigError(f"compiling the native kernel with {cc} failed: {exc}. Set "
                                  "CC to a working C compiler, or use backend='jax'.") from exc  # fmt: skip
            if proc.returncode == 0 or attempt:
                break
            flags = [f for f in CFLAGS if not f.startswith("-march")]
        if proc.returncode != 0 or not so.exists():
            out = (proc.stdout + proc.stderr).strip().splitlines()
            raise ConfigError(
                f"compiling the native kernel with {cc} failed (exit {proc.returncode}); "
                f"nothing was installed in {root}. Set CC to a working C compiler, or use "
                "backend='jax'. Compiler output (last lines):\n" + "\n".join(out[-25:])
            )
        os.replace(c_file, root / c_file.name)  # the source beside its library, for reading
        os.replace(so, lib_path)


def sample_normals(run: Any, key: int, step0: int, k: int, n: int) -> np.ndarray:
    """``[k, n, 2]`` float32: the noise normals the kernel of ``run`` (from :func:`build`)
    draws for cells ``0..n-1`` at steps ``step0 ..`` with ``key`` (for tests)."""
    fn = run.library.livn_sample_normals
    fn.restype = ctypes.c_int64
    fn.argtypes = [ctypes.c_uint32, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
                   ctypes.c_void_p]  # fmt: skip
    out = np.empty((k, n, 2), np.float32)
    fn(key, step0, k, n, out.ctypes.data)
    return out
