// C = A W^T (+ bias) with bf16 operands and fp32 accumulation *and* fp32 results, for CPUs with
// AVX512-BF16 (vdpbf16ps).  torch's bf16 GEMMs on CPU round their results to bf16: a logit near
// 20 then moves in steps of 1/8, which costs a translation model's output layer dev loss
// (recipes/RESULTS.md, "Performance").  Here only the operands are rounded; the products are
// summed and returned in fp32.  Built with gate_kernels.cpp into one extension
// (reencoder/grid/gate_kernels.py).
//
// W [N, K] is packed once per weight version (pack_bf16): blocks of NR = 64 output columns, each
// [K/2][64][2] bf16 (pairs of consecutive k per column, the operand layout of vdpbf16ps); N is
// padded with zero columns to a multiple of 64.  A [M, K] is bf16, row-major; K must be even.
// The micro-kernel holds MR x 64 results in 4 MR zmm accumulators; each k-pair broadcasts one
// (a_k, a_k+1) pair per row and multiplies it into the block's 4 vectors of 16 column pairs.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cstdint>
#include <cstring>

#if defined(__AVX512BF16__) && defined(__AVX512F__)
#include <immintrin.h>
#define REENCODER_HAS_BF16_DOT 1
#else
#define REENCODER_HAS_BF16_DOT 0
#endif

namespace {

constexpr int64_t NR = 64;  // output columns per packed block (4 zmm of 16 fp32)
constexpr int MR = 6;       // rows per micro-kernel call: 24 accumulators + 4 B vectors + 1 A

// w [N, K] (float32 or bfloat16) -> [ceil(N / 64), K / 2, 64, 2] bf16 (as int16 storage): rounded by
// torch (round to nearest even), then each block's [64 rows][K / 2 pairs] transposed to
// [K / 2 pairs][64 rows], a pair moved as one 32-bit word.
at::Tensor pack_bf16(const at::Tensor& w) {
  TORCH_CHECK(w.device().is_cpu() && w.dim() == 2, "bf16 gemm: the weight must be a CPU matrix");
  TORCH_CHECK(w.size(1) % 2 == 0, "bf16 gemm: K must be even");
  const at::Tensor src = w.to(at::kBFloat16).contiguous();
  const int64_t N = src.size(0), K2 = src.size(1) / 2, blocks = (N + NR - 1) / NR;
  at::Tensor out = at::empty({blocks, K2, NR, 2}, w.options().dtype(at::kShort));
  const uint32_t* s = reinterpret_cast<const uint32_t*>(src.data_ptr<at::BFloat16>());
  uint32_t* o = reinterpret_cast<uint32_t*>(out.data_ptr<int16_t>());
  at::parallel_for(0, blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      uint32_t* ob = o + b * K2 * NR;
      const int64_t rows = std::min(NR, N - b * NR);
      if (rows < NR) std::memset(ob, 0, sizeof(uint32_t) * K2 * NR);
      for (int64_t c = 0; c < rows; ++c) {
        const uint32_t* sr = s + (b * NR + c) * K2;
        for (int64_t k = 0; k < K2; ++k) ob[k * NR + c] = sr[k];
      }
    }
  });
  return out;
}

#if REENCODER_HAS_BF16_DOT
template <int R>
void micro(const uint16_t* A, int64_t lda, const uint16_t* B, int64_t K2, float* C, int64_t ldc, int64_t cols,
           const float* bias, bool accumulate) {
  __m512 acc[R][4];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < 4; ++v) acc[r][v] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K2; ++k) {
    const uint16_t* bk = B + k * NR * 2;
    __m512bh b[4];
    for (int v = 0; v < 4; ++v) b[v] = (__m512bh)_mm512_loadu_si512(bk + v * 32);
    for (int r = 0; r < R; ++r) {
      int32_t pair;
      std::memcpy(&pair, A + r * lda + 2 * k, 4);
      const __m512bh a = (__m512bh)_mm512_set1_epi32(pair);
      for (int v = 0; v < 4; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], a, b[v]);
    }
  }
  for (int v = 0; v < 4; ++v) {
    const int64_t left = cols - v * 16;
    if (left <= 0) break;
    const __mmask16 mask = left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1);
    const __m512 bv = bias ? _mm512_maskz_loadu_ps(mask, bias + v * 16) : _mm512_setzero_ps();
    for (int r = 0; r < R; ++r) {
      float* c = C + r * ldc + v * 16;
      const __m512 base = accumulate ? _mm512_add_ps(_mm512_maskz_loadu_ps(mask, c), bv) : bv;
      _mm512_mask_storeu_ps(c, mask, _mm512_add_ps(acc[r][v], base));
    }
  }
}

void rows(int64_t m, const uint16_t* A, int64_t lda, const uint16_t* B, int64_t K2, float* C, int64_t ldc,
          int64_t cols, const float* bias, bool acc) {
  switch (m) {
    case 1: return micro<1>(A, lda, B, K2, C, ldc, cols, bias, acc);
    case 2: return micro<2>(A, lda, B, K2, C, ldc, cols, bias, acc);
    case 3: return micro<3>(A, lda, B, K2, C, ldc, cols, bias, acc);
    case 4: return micro<4>(A, lda, B, K2, C, ldc, cols, bias, acc);
    case 5: return micro<5>(A, lda, B, K2, C, ldc, cols, bias, acc);
    default: return micro<MR>(A, lda, B, K2, C, ldc, cols, bias, acc);
  }
}
#else
// Without bf16 dot products in hardware the Python side never calls the kernel (hardware_dot()):
// it rounds the operands and sums them in an fp32 GEMM instead.
void rows(int64_t, const uint16_t*, int64_t, const uint16_t*, int64_t, float*, int64_t, int64_t, const float*, bool) {
  TORCH_CHECK(false, "bf16 gemm: this build has no AVX512-BF16 (see hardware_dot())");
}
#endif

// c [M, N] (contiguous fp32) = a [M, K] W^T (+ bias), or += with accumulate; a float32 (rounded
// here) or bfloat16, W given packed by pack_bf16 for N columns.
void gemm_into(at::Tensor& c, const at::Tensor& a, const at::Tensor& packed, const c10::optional<at::Tensor>& bias,
               bool accumulate) {
  TORCH_CHECK(a.device().is_cpu() && a.dim() == 2, "bf16 gemm: the input must be a CPU matrix");
  const int64_t M = a.size(0), K = a.size(1), N = c.size(1), blocks = (N + NR - 1) / NR;
  TORCH_CHECK(c.scalar_type() == at::kFloat && c.is_contiguous() && c.dim() == 2 && c.size(0) == M,
              "bf16 gemm: the output must be a contiguous float32 [M, N] matrix");
  TORCH_CHECK(packed.scalar_type() == at::kShort && packed.is_contiguous() && packed.dim() == 4 &&
                  packed.size(0) == blocks && packed.size(1) * 2 == K && packed.size(2) == NR,
              "bf16 gemm: the packed weight (pack_bf16) does not match the input's width or N");
  const at::Tensor a16 = a.to(at::kBFloat16).contiguous();
  const float* bptr = nullptr;
  at::Tensor b32;
  if (bias.has_value() && bias->defined()) {
    b32 = bias->to(at::kFloat).contiguous();
    TORCH_CHECK(b32.numel() == N, "bf16 gemm: bias must have N entries");
    bptr = b32.data_ptr<float>();
  }
  const uint16_t* A = reinterpret_cast<const uint16_t*>(a16.data_ptr<at::BFloat16>());
  const uint16_t* P = reinterpret_cast<const uint16_t*>(packed.data_ptr<int16_t>());
  float* C = c.data_ptr<float>();
  at::parallel_for(0, blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t cols = std::min(NR, N - b * NR);
      for (int64_t i = 0; i < M; i += MR)
        rows(std::min<int64_t>(MR, M - i), A + i * K, K, P + b * K * NR, K / 2, C + i * N + b * NR, N, cols,
             bptr ? bptr + b * NR : nullptr, accumulate);
    }
  });
}

at::Tensor mm_bf16(const at::Tensor& a, const at::Tensor& packed, int64_t N, const c10::optional<at::Tensor>& bias) {
  at::Tensor c = at::empty({a.size(0), N}, a.options().dtype(at::kFloat));
  gemm_into(c, a, packed, bias, false);
  return c;
}

// out = bias + a W^T, or out += a W^T without bias (the row step's GEMMs: bf16_gemm.linear_bf16_into).
void mm_bf16_into_(at::Tensor out, const at::Tensor& a, const at::Tensor& packed, const c10::optional<at::Tensor>& bias) {
  gemm_into(out, a, packed, bias, !(bias.has_value() && bias->defined()));
}

bool hardware_dot() { return REENCODER_HAS_BF16_DOT; }

}  // namespace

TORCH_LIBRARY(reencoder_gemm, m) {
  m.def("pack_bf16(Tensor w) -> Tensor");
  m.def("mm_bf16(Tensor a, Tensor packed, int N, Tensor? bias) -> Tensor");
  m.def("mm_bf16_into_(Tensor(a!) out, Tensor a, Tensor packed, Tensor? bias) -> ()");
  m.def("hardware_dot() -> bool", hardware_dot);
}

TORCH_LIBRARY_IMPL(reencoder_gemm, CPU, m) {
  m.impl("pack_bf16", pack_bf16);
  m.impl("mm_bf16", mm_bf16);
  m.impl("mm_bf16_into_", mm_bf16_into_);
}
