// Row gathers and scatters of the fused wavefront's additive input (W_x x_ij = W_x s_i + W_x t_j),
// for CPU tensors: one pass, parallel, without the temporaries of index_select + add_ and of
// index_add_.  Built with gate_kernels.cpp into one extension (reencoder/grid/gate_kernels.py).
//
// A "row" is one row of a [C, W] matrix: one cell's W contiguous values (its projection for every
// batch element).
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <vector>

namespace {

void check_rows(const at::Tensor& t, const char* what) {
  TORCH_CHECK(t.device().is_cpu() && t.dim() == 2 && t.is_contiguous(), "row kernels: ", what,
              " must be a contiguous CPU matrix");
}

// out[c] = sum_a parts[a][idx[a][c]]: the additive input's share of a transform, per cell.
void gather_rows_sum(at::Tensor out, at::TensorList parts, at::TensorList idx) {
  check_rows(out, "out");
  TORCH_CHECK(!parts.empty() && parts.size() == idx.size(), "row kernels: one index per part");
  const int64_t C = out.size(0), W = out.size(1);
  std::vector<const int64_t*> ix;
  for (size_t a = 0; a < parts.size(); ++a) {
    check_rows(parts[a], "parts");
    TORCH_CHECK(parts[a].size(1) == W && parts[a].scalar_type() == out.scalar_type(), "row kernels: part shape/dtype");
    TORCH_CHECK(idx[a].is_contiguous() && idx[a].scalar_type() == at::kLong && idx[a].numel() == C,
                "row kernels: index must be a contiguous int64 vector with one entry per row of out");
    const int64_t* p = idx[a].data_ptr<int64_t>();
    for (int64_t c = 0; c < C; ++c)
      TORCH_CHECK(p[c] >= 0 && p[c] < parts[a].size(0), "row kernels: index out of range");
    ix.push_back(p);
  }
  AT_DISPATCH_FLOATING_TYPES(out.scalar_type(), "gather_rows_sum", [&] {
    std::vector<const scalar_t*> data;
    for (const auto& p : parts) data.push_back(p.data_ptr<scalar_t>());
    scalar_t* o = out.data_ptr<scalar_t>();
    at::parallel_for(0, C, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        scalar_t* __restrict__ dst = o + c * W;
        const scalar_t* __restrict__ src = data[0] + ix[0][c] * W;
        for (int64_t i = 0; i < W; ++i) dst[i] = src[i];
        for (size_t a = 1; a < data.size(); ++a) {
          const scalar_t* __restrict__ s = data[a] + ix[a][c] * W;
          for (int64_t i = 0; i < W; ++i) dst[i] += s[i];
        }
      }
    });
  });
}

// acc[idx[c]] += src[c]: the backward of gather_rows_sum for one part.  Parallel over columns,
// so repeated indices are summed without races.
void scatter_rows_add(at::Tensor acc, const at::Tensor& idx, const at::Tensor& src) {
  check_rows(acc, "acc");
  check_rows(src, "src");
  const int64_t C = src.size(0), W = src.size(1);
  TORCH_CHECK(acc.size(1) == W && acc.scalar_type() == src.scalar_type(), "row kernels: acc/src shape or dtype");
  TORCH_CHECK(idx.is_contiguous() && idx.scalar_type() == at::kLong && idx.numel() == C,
              "row kernels: index must be a contiguous int64 vector with one entry per row of src");
  const int64_t* ix = idx.data_ptr<int64_t>();
  for (int64_t c = 0; c < C; ++c) TORCH_CHECK(ix[c] >= 0 && ix[c] < acc.size(0), "row kernels: index out of range");
  AT_DISPATCH_FLOATING_TYPES(src.scalar_type(), "scatter_rows_add", [&] {
    scalar_t* a = acc.data_ptr<scalar_t>();
    const scalar_t* s = src.data_ptr<scalar_t>();
    at::parallel_for(0, W, 2048, [&](int64_t w0, int64_t w1) {
      for (int64_t c = 0; c < C; ++c) {
        scalar_t* __restrict__ dst = a + ix[c] * W;
        const scalar_t* __restrict__ from = s + c * W;
        for (int64_t i = w0; i < w1; ++i) dst[i] += from[i];
      }
    });
  });
}

}  // namespace

TORCH_LIBRARY(reencoder_rows, m) {
  m.def("gather_rows_sum(Tensor(a!) out, Tensor[] parts, Tensor[] idx) -> ()");
  m.def("scatter_rows_add(Tensor(a!) acc, Tensor idx, Tensor src) -> ()");
}

TORCH_LIBRARY_IMPL(reencoder_rows, CPU, m) {
  m.impl("gather_rows_sum", &gather_rows_sum);
  m.impl("scatter_rows_add", &scatter_rows_add);
}
