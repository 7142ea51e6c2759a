// The LSTM gate math of the fused wavefront and the row step (paper eq. 3), forward and backward,
// in C++ for CPU tensors.
//
// With torch ops (reencoder/grid/gate_math.py, kernels="torch") eq. 3 runs as ~8 separate ops forward
// and ~20 backward, each a pass over [R, F, n] or [R, 4gn] memory with its own temporaries; here
// each row is one pass, parallel over rows, the inner loop over the n units vectorised (glibc's
// vector exp, declared below).
//
// Layouts (as gate_math.py): G = [R, 4gn] gate-major, [(u, f, o) of every set | c of every set],
// g = F gate sets, or g = 1 set for F dimensions with shared dims (paper §3.4); the state tensors
// are [R, F, n] with any row and dimension strides and unit stride along n.  The incoming memory
// m_in (and its gradient dm_in) may instead be lines of a [lines, n] buffer picked by an index
// (side k of row r is buffer line m_idx[r N + k0 + k]): the fused wavefront's memory slots read
// and written where they lie, without a gather and a scatter.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cmath>
#include <type_traits>

// glibc's vector exp (libmvec): declared as SIMD functions here, as glibc's own headers do only
// under -ffast-math, so that the loops below vectorise with IEEE semantics kept (exp overflows
// to inf, NaN propagates; -ffast-math would let the compiler rewrite 2 / (1 + inf) - 1 into NaN).
extern "C" float expf(float) __attribute__((simd("notinbranch")));
extern "C" double exp(double) __attribute__((simd("notinbranch")));

namespace {

inline float exp_(float x) { return expf(x); }
inline double exp_(double x) { return exp(x); }

template <typename T>
inline T sigmoid(T x) { return T(1) / (T(1) + exp_(-x)); }

// tanh x = 2 sigma(2x) - 1: one exp, which vectorises well (glibc's vector tanhf is slower)
template <typename T>
inline T tanh_(T x) { return T(2) / (T(1) + exp_(T(-2) * x)) - T(1); }

struct Rows {  // a [R, F, n] tensor (unit stride along n) as a data pointer and two strides
  template <typename T>
  static T* at(const at::Tensor& t, int64_t r, int64_t k) {
    return t.data_ptr<T>() + r * t.stride(0) + k * t.stride(1);
  }
};

template <typename T>
struct Gates {  // gate set j of one row of a gate-major [R, 4gn] tensor (activations or gradients)
  T *u, *f, *o, *c;
  Gates(T* row, int64_t j, int64_t g, int64_t n)
      : u(row + 3 * j * n), f(u + n), o(u + 2 * n), c(row + 3 * g * n + j * n) {}
};

template <typename T>
struct MemRows {  // m_in or dm_in: a [R, F, n] tensor, or buffer lines picked by an index
  T* data;
  int64_t s0, s1;
  const int64_t* idx;
  int64_t N, k0, n;
  T* at(int64_t r, int64_t k) const { return idx ? data + idx[r * N + k0 + k] * n : data + r * s0 + k * s1; }
};

// m_in / dm_in as MemRows: without m_idx a [R, F, n] tensor; with it a contiguous [lines, n]
// buffer whose index entries for these R rows and F sides are checked to lie inside it.
template <typename T>
MemRows<T> mem_rows(const at::Tensor& t, const c10::optional<at::Tensor>& m_idx, int64_t N, int64_t k0,
                    int64_t R, int64_t F, int64_t n) {
  if (!m_idx.has_value()) {
    TORCH_CHECK(t.dim() == 3 && t.size(0) == R && t.size(1) == F && t.size(2) == n && t.stride(2) == 1,
                "gate kernels: memory must be [R, F, n] with unit stride along n");
    return {t.data_ptr<std::remove_const_t<T>>(), t.stride(0), t.stride(1), nullptr, 0, 0, n};
  }
  const at::Tensor& ix = *m_idx;
  TORCH_CHECK(t.dim() == 2 && t.size(1) == n && t.is_contiguous(), "gate kernels: a memory buffer must be [lines, n], contiguous");
  TORCH_CHECK(ix.scalar_type() == at::kLong && ix.is_contiguous() && ix.numel() == R * N && k0 >= 0 && k0 + F <= N,
              "gate kernels: the memory index must be a contiguous int64 [R * N] with k0 + F <= N");
  const int64_t* p = ix.data_ptr<int64_t>();
  for (int64_t r = 0; r < R; ++r)
    for (int64_t k = k0; k < k0 + F; ++k)
      TORCH_CHECK(p[r * N + k] >= 0 && p[r * N + k] < t.size(0), "gate kernels: memory index out of range");
  return {t.data_ptr<std::remove_const_t<T>>(), 0, 0, p, N, k0, n};
}

void check(const at::Tensor& G, std::initializer_list<at::Tensor> states, int64_t n) {
  TORCH_CHECK(G.device().is_cpu() && G.dim() == 2 && G.stride(1) == 1, "gate kernels: G must be a CPU [R, 4gn] row-major tensor");
  for (const auto& t : states) {
    TORCH_CHECK(t.device().is_cpu() && t.dim() == 3 && t.size(0) == G.size(0) && t.size(2) == n && t.stride(2) == 1,
                "gate kernels: state tensors must be CPU [R, F, n] with unit stride along n");
    TORCH_CHECK(t.scalar_type() == G.scalar_type(), "gate kernels: one dtype for every tensor");
  }
}

// m' = f m + u c and h' for one dimension of one row; every pointer __restrict__ and the cell a
// template argument, so that the loop vectorises with the vector exp (GCC keeps a loop over
// possibly aliasing pointers scalar, with the scalar expf: most of the kernel's time).
template <typename T, bool GATE_THEN_TANH>
inline void forward_unit(int64_t n, const T* __restrict__ u, const T* __restrict__ f, const T* __restrict__ o,
                         const T* __restrict__ c, const T* __restrict__ mi, T* __restrict__ mo, T* __restrict__ ho,
                         T* __restrict__ t) {
  for (int64_t i = 0; i < n; ++i) {
    const T m = f[i] * mi[i] + u[i] * c[i];
    mo[i] = m;
    if (GATE_THEN_TANH) {  // h' = tanh(o m')
      t[i] = tanh_(o[i] * m);
      ho[i] = t[i];
    } else {  // h' = o tanh(m')
      t[i] = tanh_(m);
      ho[i] = o[i] * t[i];
    }
  }
}

template <typename T, bool GATE_THEN_TANH>
void forward_rows(at::Tensor& G, const MemRows<const T>& mem, at::Tensor& h_out, at::Tensor& m_out, at::Tensor& Tt,
                  int64_t g) {
  const int64_t R = h_out.size(0), F = h_out.size(1), n = h_out.size(2);
  at::parallel_for(0, R, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      T* __restrict__ row = G.data_ptr<T>() + r * G.stride(0);
      for (int64_t i = 0; i < 3 * g * n; ++i) row[i] = sigmoid(row[i]);
      for (int64_t i = 3 * g * n; i < 4 * g * n; ++i) row[i] = tanh_(row[i]);
      for (int64_t k = 0; k < F; ++k) {
        const Gates<const T> a(row, g == 1 ? 0 : k, g, n);
        forward_unit<T, GATE_THEN_TANH>(n, a.u, a.f, a.o, a.c, mem.at(r, k), Rows::at<T>(m_out, r, k), Rows::at<T>(h_out, r, k),
                               Rows::at<T>(Tt, r, k));
      }
    }
  });
}

// Eq. 3 in place: G becomes the activations (u, f, o = sigma, c = tanh); m' = f m + u c;
// standard cell: T = tanh(m'), h' = o T; gate-then-tanh cell: T = h' = tanh(o m').
void lstm_forward(at::Tensor G, const at::Tensor& m_in, const c10::optional<at::Tensor>& m_idx, int64_t N, int64_t k0,
                  at::Tensor h_out, at::Tensor m_out, at::Tensor T, bool gate_then_tanh) {
  const int64_t R = h_out.size(0), F = h_out.size(1), n = h_out.size(2);
  const int64_t g = G.size(1) / (4 * n);
  check(G, {h_out, m_out, T}, n);
  TORCH_CHECK(m_in.device().is_cpu() && m_in.scalar_type() == G.scalar_type(), "gate kernels: one dtype for every tensor");
  TORCH_CHECK(g == F || g == 1, "gate kernels: F gate sets or one shared set");
  AT_DISPATCH_FLOATING_TYPES(G.scalar_type(), "lstm_forward", [&] {
    const MemRows<const scalar_t> mem = mem_rows<const scalar_t>(m_in, m_idx, N, k0, R, F, n);
    if (gate_then_tanh) forward_rows<scalar_t, true>(G, mem, h_out, m_out, T, g);
    else forward_rows<scalar_t, false>(G, mem, h_out, m_out, T, g);
  });
}

// The derivatives of eq. 3 for one dimension k of one row (sigma' = sigma (1 - sigma),
// tanh' = 1 - tanh^2).  Every pointer is __restrict__ and the cell and shared-dims choices are template
// arguments, so that the loop vectorises (with 14 possibly aliasing pointers GCC gives up).
template <typename T, bool GATE_THEN_TANH, bool SUM>
inline void backward_unit(int64_t n, const T* __restrict__ u, const T* __restrict__ f, const T* __restrict__ o,
                          const T* __restrict__ c, const T* __restrict__ t, const T* __restrict__ mi,
                          const T* __restrict__ mn, const T* __restrict__ dhk, const T* __restrict__ dmk,
                          T* __restrict__ du, T* __restrict__ df, T* __restrict__ dout, T* __restrict__ dc,
                          T* __restrict__ dmi) {
  for (int64_t i = 0; i < n; ++i) {
    T dmt, dov;
    if (GATE_THEN_TANH) {  // h' = tanh(o m')
      const T dpre = dhk[i] * (T(1) - t[i] * t[i]);
      dmt = dmk[i] + dpre * o[i];
      dov = dpre * mn[i];
    } else {  // h' = o tanh(m')
      dmt = dmk[i] + dhk[i] * o[i] * (T(1) - t[i] * t[i]);
      dov = dhk[i] * t[i];
    }
    const T gu = dmt * c[i] * u[i] * (T(1) - u[i]);
    const T gf = dmt * mi[i] * f[i] * (T(1) - f[i]);
    const T go = dov * o[i] * (T(1) - o[i]);
    const T gc = dmt * u[i] * (T(1) - c[i] * c[i]);
    if (SUM) {
      du[i] += gu; df[i] += gf; dout[i] += go; dc[i] += gc;
    } else {
      du[i] = gu; df[i] = gf; dout[i] = go; dc[i] = gc;
    }
    dmi[i] = dmt * f[i];
  }
}

template <typename T, bool GATE_THEN_TANH, bool SUM>
void backward_rows(const at::Tensor& G, const at::Tensor& Tt, const MemRows<const T>& m_in, const at::Tensor& m_new,
                   const at::Tensor& dh, const at::Tensor& dm, at::Tensor& dG, const MemRows<T>& dm_in, int64_t g) {
  const int64_t R = dm.size(0), F = dm.size(1), n = dm.size(2);
  at::parallel_for(0, R, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* row = G.data_ptr<T>() + r * G.stride(0);
      T* drow = dG.data_ptr<T>() + r * dG.stride(0);
      if (SUM)
        for (int64_t i = 0; i < 4 * n; ++i) drow[i] = 0;
      for (int64_t k = 0; k < F; ++k) {
        const int64_t j = g == 1 ? 0 : k;
        const Gates<const T> a(row, j, g, n);
        const Gates<T> d(drow, j, g, n);
        backward_unit<T, GATE_THEN_TANH, SUM>(n, a.u, a.f, a.o, a.c, Rows::at<T>(Tt, r, k), m_in.at(r, k),
                                     Rows::at<T>(m_new, r, k), Rows::at<T>(dh, r, k), Rows::at<T>(dm, r, k),
                                     d.u, d.f, d.o, d.c, dm_in.at(r, k));
      }
    }
  });
}

// The derivatives of eq. 3: from dh', dm' and what lstm_forward kept (activations G, T, the new
// memory m_new), the pre-activations' gradient dG (summed over shared dims) and
// dm_in = dm_total f (m_in and dm_in both tensors or both lines of buffers picked by m_idx).
void lstm_backward(const at::Tensor& G, const at::Tensor& T, const at::Tensor& m_in, const at::Tensor& m_new,
                   const at::Tensor& dh, const at::Tensor& dm, const c10::optional<at::Tensor>& m_idx, int64_t N,
                   int64_t k0, bool gate_then_tanh, at::Tensor dG, at::Tensor dm_in) {
  const int64_t R = dm.size(0), F = dm.size(1), n = dm.size(2);
  const int64_t g = G.size(1) / (4 * n);
  check(G, {T, m_new, dh, dm}, n);
  check(dG, {}, n);
  for (const auto& t : {m_in, dm_in})
    TORCH_CHECK(t.device().is_cpu() && t.scalar_type() == G.scalar_type(), "gate kernels: one dtype for every tensor");
  TORCH_CHECK(g == F || g == 1, "gate kernels: F gate sets or one shared set");
  const bool sum = g == 1 && F > 1;  // shared dims: their gradients summed into one set
  AT_DISPATCH_FLOATING_TYPES(G.scalar_type(), "lstm_backward", [&] {
    const MemRows<const scalar_t> mi = mem_rows<const scalar_t>(m_in, m_idx, N, k0, R, F, n);
    const MemRows<scalar_t> dmi = mem_rows<scalar_t>(dm_in, m_idx, N, k0, R, F, n);
    if (gate_then_tanh && sum) backward_rows<scalar_t, true, true>(G, T, mi, m_new, dh, dm, dG, dmi, g);
    else if (gate_then_tanh) backward_rows<scalar_t, true, false>(G, T, mi, m_new, dh, dm, dG, dmi, g);
    else if (sum) backward_rows<scalar_t, false, true>(G, T, mi, m_new, dh, dm, dG, dmi, g);
    else backward_rows<scalar_t, false, false>(G, T, mi, m_new, dh, dm, dG, dmi, g);
  });
}

}  // namespace

TORCH_LIBRARY(reencoder_gates, m) {
  m.def("lstm_forward(Tensor(a!) G, Tensor m_in, Tensor? m_idx, int N, int k0, Tensor(b!) h_out, Tensor(c!) m_out, "
        "Tensor(d!) T, bool gate_then_tanh) -> ()");
  m.def("lstm_backward(Tensor G, Tensor T, Tensor m_in, Tensor m_new, Tensor dh, Tensor dm, Tensor? m_idx, int N, int k0, "
        "bool gate_then_tanh, Tensor(a!) dG, Tensor(b!) dm_in) -> ()");
}

TORCH_LIBRARY_IMPL(reencoder_gates, CPU, m) {
  m.impl("lstm_forward", &lstm_forward);
  m.impl("lstm_backward", &lstm_backward);
}
