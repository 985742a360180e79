#include "analysis/block_capacity.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace equalis::analysis {

namespace {

// Until a capacity test anchors it, the string level is the nominal capacity, uncertain by the
// fade a string may have before anyone measures it (0 … 30 %: 1 σ ≈ 15 %).
constexpr double kUnanchoredLevelSigma = 0.15;
// Squared correlation of D and ΔI above which ΔI is left out of a fit.
constexpr double kMaxCurrentCorrelation2 = 0.95 * 0.95;
// A window spanning less depth than this is fitted as a straight line (no curvature term).
constexpr double kMinCurvedWindow = 0.05;
// The range of C_string / C_b searched: blocks from 5 × to 0.2 × the string's mean.
constexpr double kMinScale = 0.2;
constexpr double kMaxScale = 5.0;

// Solves the symmetric system a·x = b (N ≤ 4) by Gaussian elimination with partial pivoting;
// none when it is singular (a pivot below 1e-12 times the largest diagonal element).
template <std::size_t N>
std::optional<std::array<double, N>> solve(std::array<std::array<double, N>, N> a,
                                           std::array<double, N> b) {
  double scale = 0.0;
  for (std::size_t i = 0; i < N; ++i) {
    scale = std::max(scale, std::fabs(a[i][i]));
  }
  for (std::size_t p = 0; p < N; ++p) {
    std::size_t piv = p;
    for (std::size_t r = p + 1; r < N; ++r) {
      if (std::fabs(a[r][p]) > std::fabs(a[piv][p])) {
        piv = r;
      }
    }
    if (!(std::fabs(a[piv][p]) > 1e-12 * scale)) {
      return std::nullopt;
    }
    std::swap(a[p], a[piv]);
    std::swap(b[p], b[piv]);
    for (std::size_t r = 0; r < N; ++r) {
      if (r == p) {
        continue;
      }
      const double f = a[r][p] / a[p][p];
      for (std::size_t c = p; c < N; ++c) {
        a[r][c] -= f * a[p][c];
      }
      b[r] -= f * b[p];
    }
  }
  std::array<double, N> x{};
  for (std::size_t i = 0; i < N; ++i) {
    x[i] = b[i] / a[i][i];
  }
  return x;
}

// β1, β2 of a least-squares fit of y = c0 + ρ·ΔI + β1·D + β2·D² (fitCurve).
struct CurveFit {
  double b1 = 0, b2 = 0;          // β1, β2
  double var_b1 = 0, var_b2 = 0;  // their variances from the residuals
  double cov_b12 = 0;
};

}  // namespace

void StringCapacityEstimator::Sums::add(double d, double di_a, double y) {
  const std::array<double, 4> r{1.0, di_a, d, d * d};
  for (std::size_t i = 0; i < 4; ++i) {
    for (std::size_t j = 0; j < 4; ++j) {
      xx[i][j] += r[i] * r[j];
    }
    xy[i] += r[i] * y;
  }
  yy += y * y;
}

namespace {

template <std::size_t N>
std::optional<CurveFit> fitWith(const StringCapacityEstimator::Sums& s,
                                const std::array<std::size_t, N>& cols) {
  std::array<std::array<double, N>, N> a{};
  std::array<double, N> b{};
  for (std::size_t i = 0; i < N; ++i) {
    for (std::size_t j = 0; j < N; ++j) {
      a[i][j] = s.xx[cols[i]][cols[j]];
    }
    b[i] = s.xy[cols[i]];
  }
  const auto x = solve<N>(a, b);
  if (!x) {
    return std::nullopt;
  }
  double sse = s.yy;
  for (std::size_t i = 0; i < N; ++i) {
    sse -= (*x)[i] * b[i];
  }
  const double n = s.xx[0][0];
  const double sigma2 = std::max(0.0, sse) / std::max(1.0, n - static_cast<double>(N));
  CurveFit f;
  for (std::size_t i = 0; i < N; ++i) {
    if (cols[i] != 2 && cols[i] != 3) {
      continue;
    }
    std::array<double, N> e{};
    e[i] = 1.0;
    const auto inv = solve<N>(a, e);
    if (!inv) {
      return std::nullopt;
    }
    for (std::size_t j = 0; j < N; ++j) {
      if (cols[i] == 2 && cols[j] == 2) {
        f.var_b1 = sigma2 * (*inv)[j];
      } else if (cols[i] == 3 && cols[j] == 3) {
        f.var_b2 = sigma2 * (*inv)[j];
      } else if (cols[i] == 2 && cols[j] == 3) {
        f.cov_b12 = sigma2 * (*inv)[j];
      }
    }
    (cols[i] == 2 ? f.b1 : f.b2) = (*x)[i];
  }
  return f;
}

// Fit of y = c0 [+ ρ·ΔI] + c·w with the single curve regressor w = p·D + q·D², computed from the
// moments. Returns c and its standard deviation.
struct ScaleFit {
  double c = 0;
  double sd = 0;
};

// The last coefficient of the normal equations a·x = rhs and its standard deviation.
template <std::size_t N>
std::optional<ScaleFit> lastCoefficient(const std::array<std::array<double, N>, N>& a,
                                        const std::array<double, N>& rhs, double yy, double n) {
  std::array<double, N> unit{};
  unit[N - 1] = 1.0;
  const auto x = solve<N>(a, rhs);
  const auto inv = solve<N>(a, unit);
  if (!x || !inv) {
    return std::nullopt;
  }
  double sse = yy;
  for (std::size_t i = 0; i < N; ++i) {
    sse -= (*x)[i] * rhs[i];
  }
  const double sigma2 = std::max(0.0, sse) / std::max(1.0, n - static_cast<double>(N));
  return ScaleFit{(*x)[N - 1], std::sqrt(sigma2 * std::max(0.0, (*inv)[N - 1]))};
}

std::optional<ScaleFit> fitAlong(const StringCapacityEstimator::Sums& s, bool with_current,
                                 double p, double q) {
  const auto& m = s.xx;
  const double w0 = p * m[0][2] + q * m[0][3];
  const double w1 = p * m[1][2] + q * m[1][3];
  const double ww = p * p * m[2][2] + 2.0 * p * q * m[2][3] + q * q * m[3][3];
  const double wy = p * s.xy[2] + q * s.xy[3];
  if (with_current) {
    return lastCoefficient<3>({{{m[0][0], m[0][1], w0}, {m[0][1], m[1][1], w1}, {w0, w1, ww}}},
                              {s.xy[0], s.xy[1], wy}, s.yy, m[0][0]);
  }
  return lastCoefficient<2>({{{m[0][0], w0}, {w0, ww}}}, {s.xy[0], wy}, s.yy, m[0][0]);
}

// Whether ΔI can be a regressor of these sums: it moved on its own, not in step with D (a
// constant-power load, where it would be collinear) and not at all.
bool currentMoves(const StringCapacityEstimator::Sums& s) {
  const double n = s.xx[0][0];
  const double mean_d = s.xx[0][2] / n;
  const double mean_di = s.xx[0][1] / n;
  const double var_d = s.xx[2][2] / n - mean_d * mean_d;
  const double var_di = s.xx[1][1] / n - mean_di * mean_di;
  const double cov = s.xx[1][2] / n - mean_d * mean_di;
  return var_di > 1e-6 * std::max(1.0, s.xx[1][1] / n) &&
         cov * cov < kMaxCurrentCorrelation2 * var_d * var_di;
}

// Least-squares fit of y = c0 + ρ·ΔI + β1·D + β2·D² (D: depth of discharge as a fraction of the
// nominal capacity) from the sums, with ΔI left out unless currentMoves(), and D² left out when
// the window is too short to show curvature.
std::optional<CurveFit> fitCurve(const StringCapacityEstimator::Sums& s, bool curved) {
  const double n = s.xx[0][0];
  const double mean_d = n > 0.0 ? s.xx[0][2] / n : 0.0;
  if (n < 5.0 || !(s.xx[2][2] / n - mean_d * mean_d > 0.0)) {
    return std::nullopt;
  }
  if (currentMoves(s)) {
    return curved ? fitWith<4>(s, {0, 1, 2, 3}) : fitWith<3>(s, {0, 1, 2});
  }
  return curved ? fitWith<3>(s, {0, 2, 3}) : fitWith<2>(s, {0, 2});
}

// The scale λ that maps the mean curve G(D) = g1·D + g2·D² onto the block: the block's deviation
// from V̄ is G(λD) − V̄(D) = (λ − 1)·(g1·D + g2·(λ + 1)·D²) + (G − V̄), a single regressor for a
// given λ; fixed-point iteration on λ (the curvature term is small, it converges in a few
// steps). `vbar_1`, `vbar_2`: V̄'s own coefficients, whose difference from G is subtracted.
std::optional<ScaleFit> matchScale(const StringCapacityEstimator::Sums& s, bool with_current,
                                   double g1, double g2, double vbar_1, double vbar_2) {
  // y = V_b − V̄; the block follows G(λD) + const, so y + (V̄ − G) = (λ − 1)·w_λ + const, and
  // V̄ − G = (vbar_1 − g1)·D + (vbar_2 − g2)·D² is folded into the moments of y.
  StringCapacityEstimator::Sums t = s;
  const double e1 = vbar_1 - g1;
  const double e2 = vbar_2 - g2;
  for (std::size_t i = 0; i < 4; ++i) {
    t.xy[i] += e1 * s.xx[i][2] + e2 * s.xx[i][3];
  }
  t.yy += 2.0 * (e1 * s.xy[2] + e2 * s.xy[3]) + e1 * e1 * s.xx[2][2] + 2.0 * e1 * e2 * s.xx[2][3] +
          e2 * e2 * s.xx[3][3];
  double lambda = 1.0;
  std::optional<ScaleFit> f;
  for (int it = 0; it < 8; ++it) {
    f = fitAlong(t, with_current, g1, g2 * (lambda + 1.0));
    if (!f) {
      return std::nullopt;
    }
    const double next = 1.0 + f->c;
    if (!(next > kMinScale && next < kMaxScale)) {
      return std::nullopt;
    }
    const bool done = std::fabs(next - lambda) < 1e-6;
    lambda = next;
    if (done) {
      break;
    }
  }
  return ScaleFit{lambda, f->sd};
}

}  // namespace

StringCapacityEstimator::StringCapacityEstimator(std::size_t blocks, double nominal_ah)
    : n_blocks_(blocks),
      nominal_ah_(nominal_ah),
      sums_(blocks),
      w_sum_(blocks, 0.0),
      we_sum_(blocks, 0.0),
      events_(blocks, 0),
      last_event_ms_(blocks, 0),
      blocks_(blocks) {
  level_ = {nominal_ah, kUnanchoredLevelSigma * nominal_ah, false};
  refreshBlocks();
}

std::optional<CapacityEvent> StringCapacityEstimator::update(TimeMs t_ms, double current_a,
                                                             bool discharging,
                                                             std::span<const double> block_v) {
  if (!discharging) {
    if (active_) {
      active_ = false;
      auto e = finish(t_ms);
      if (e.used) {
        fuse(e);
      }
      return e;
    }
    return std::nullopt;
  }
  if (!active_) {
    active_ = true;
    start_ms_ = t_ms;
    drawn_.start(t_ms, current_a);
    window_q0_ah_ = -1.0;
    window_q1_ah_ = 0.0;
    window_samples_ = 0;
    std::fill(sums_.begin(), sums_.end(), Sums{});
    mean_sums_ = Sums{};
  } else {
    drawn_.add(t_ms, current_a);
  }
  const double q_ah = drawn_.ah();
  if (!std::isfinite(current_a) || block_v.size() != n_blocks_) {
    return std::nullopt;
  }
  if (q_ah < kWindowStartFraction * nominal_ah_ || q_ah > kWindowEndFraction * nominal_ah_ ||
      t_ms - start_ms_ < kWindowStartMs) {
    return std::nullopt;
  }
  // The mean block of this sweep; a sweep missing more than a tenth of the blocks is skipped
  // (the mean would move with which blocks answered).
  double sum_v = 0.0;
  std::size_t valid = 0;
  for (const double v : block_v) {
    if (std::isfinite(v)) {
      sum_v += v;
      ++valid;
    }
  }
  if (valid == 0 || static_cast<double>(valid) < 0.9 * static_cast<double>(n_blocks_)) {
    return std::nullopt;
  }
  const double mean_v = sum_v / static_cast<double>(valid);
  if (window_q0_ah_ < 0.0) {
    window_q0_ah_ = q_ah;
    i_ref_a_ = current_a;
  }
  window_q1_ah_ = q_ah;
  ++window_samples_;
  const double depth = q_ah / nominal_ah_;
  const double di = current_a - i_ref_a_;
  mean_sums_.add(depth, di, mean_v);
  for (std::size_t b = 0; b < n_blocks_; ++b) {
    if (std::isfinite(block_v[b])) {
      sums_[b].add(depth, di, block_v[b] - mean_v);
    }
  }
  return std::nullopt;
}

CapacityEvent StringCapacityEstimator::finish(TimeMs t_ms) {
  CapacityEvent e;
  e.start_ms = start_ms_;
  e.end_ms = t_ms;
  e.ah_out = drawn_.ah();
  e.samples = window_samples_;
  e.window_ah = window_q0_ah_ < 0.0 ? 0.0 : window_q1_ah_ - window_q0_ah_;
  e.blocks.resize(n_blocks_);
  e.used = window_samples_ >= kMinSamples && e.window_ah >= kMinWindowFraction * nominal_ah_;
  if (!e.used) {
    return e;
  }
  // The mean block's curve V̄ = c + m1·D + m2·D²: it must fall clearly at the window's middle,
  // else the blocks' curves say nothing.
  const double d0 = window_q0_ah_ / nominal_ah_;
  const double d1 = window_q1_ah_ / nominal_ah_;
  const double dm = 0.5 * (d0 + d1);
  const bool curved = d1 - d0 >= kMinCurvedWindow;
  const auto mean_fit = fitCurve(mean_sums_, curved);
  if (!mean_fit) {
    e.used = false;
    return e;
  }
  const double m1 = mean_fit->b1;
  const double m2 = mean_fit->b2;
  const double mean_slope = m1 + 2.0 * m2 * dm;  // V per unit of depth at the middle
  const double mean_slope_sd = std::sqrt(std::max(
      0.0, mean_fit->var_b1 + 4.0 * dm * dm * mean_fit->var_b2 + 4.0 * dm * mean_fit->cov_b12));
  if (!(mean_slope < 0.0) || -mean_slope < 3.0 * mean_slope_sd) {
    e.used = false;
    return e;
  }
  std::vector<double> lambda(n_blocks_, 0.0);  // 0: no estimate
  std::vector<double> lambda_sd(n_blocks_, 0.0);
  // V̄ is the mean of the blocks' curves G(λ_b·D), not G(D) itself: its coefficients are
  // g1·mean(λ) and g2·mean(λ²). Two passes: match against V̄, then against G with the first
  // pass's moments divided out; finally λ is normalized to mean 1 (λ_b = C_string / C_b).
  double g1 = m1;
  double g2 = m2;
  for (int pass = 0; pass < 2; ++pass) {
    double sum_l = 0.0;
    double sum_l2 = 0.0;
    int n = 0;
    for (std::size_t b = 0; b < n_blocks_; ++b) {
      lambda[b] = 0.0;
      const Sums& s = sums_[b];
      if (s.xx[0][0] < 0.5 * window_samples_) {
        continue;
      }
      const auto f = matchScale(s, currentMoves(s), g1, g2, m1, m2);
      if (!f) {
        continue;
      }
      lambda[b] = f->c;
      lambda_sd[b] = f->sd;
      sum_l += f->c;
      sum_l2 += f->c * f->c;
      ++n;
    }
    if (n == 0) {
      e.used = false;
      return e;
    }
    if (pass == 0) {
      g1 = m1 / (sum_l / n);
      g2 = m2 / (sum_l2 / n);
    } else {
      for (auto& l : lambda) {
        l *= n / sum_l;
      }
    }
  }
  for (std::size_t b = 0; b < n_blocks_; ++b) {
    if (lambda[b] == 0.0) {
      continue;
    }
    auto& r = e.blocks[b];
    r.valid = true;
    r.inv_dev = lambda[b] - 1.0;  // C_string / C_b − 1
    // Its uncertainty: the regression's, the mean slope's and the per-event floor.
    const double se_x = std::hypot(lambda_sd[b], lambda[b] * mean_slope_sd / std::fabs(mean_slope));
    r.inv_dev_sigma = std::hypot(se_x, kEventFloorRelative);
    r.relative = 1.0 / lambda[b];
  }
  return e;
}

void StringCapacityEstimator::fuse(const CapacityEvent& e) {
  if (last_fuse_ms_ != 0 && e.end_ms > last_fuse_ms_) {
    const double decay = std::exp2(-static_cast<double>(e.end_ms - last_fuse_ms_) /
                                   static_cast<double>(kForgetHalfLifeMs));
    for (std::size_t b = 0; b < n_blocks_; ++b) {
      w_sum_[b] *= decay;
      we_sum_[b] *= decay;
    }
  }
  last_fuse_ms_ = std::max(last_fuse_ms_, e.end_ms);
  ++string_events_;
  for (std::size_t b = 0; b < n_blocks_; ++b) {
    const auto& r = e.blocks[b];
    if (!r.valid || !(r.inv_dev_sigma > 0.0)) {
      continue;
    }
    const double w = 1.0 / (r.inv_dev_sigma * r.inv_dev_sigma);
    w_sum_[b] += w;
    we_sum_[b] += w * r.inv_dev;
    ++events_[b];
    last_event_ms_[b] = e.end_ms;
  }
  refreshBlocks();
}

void StringCapacityEstimator::anchor(double capacity_ah, double sigma_ah, TimeMs t_ms) {
  level_ = {capacity_ah, sigma_ah, true};
  anchored_ms_ = t_ms;
  refreshBlocks();
}

void StringCapacityEstimator::refreshBlocks() {
  const double c = level_.capacity_ah;
  for (std::size_t b = 0; b < n_blocks_; ++b) {
    BlockCapacity& out = blocks_[b];
    out.events = events_[b];
    out.last_event_ms = last_event_ms_[b];
    double rel = 1.0;
    double rel_sigma = 0.0;
    if (w_sum_[b] > 0.0) {
      const double x = we_sum_[b] / w_sum_[b];
      const double x_sigma = 1.0 / std::sqrt(w_sum_[b]);
      rel = 1.0 / std::max(0.1, 1.0 + x);
      rel_sigma = rel * rel * x_sigma;  // |d rel / d x|·σ
    }
    out.relative = rel;
    out.relative_sigma = rel_sigma;
    out.capacity_ah = rel * c;
    out.capacity_sigma_ah = std::hypot(rel_sigma * c, rel * level_.sigma_ah);
    out.capacity_pct = nominal_ah_ > 0.0 ? 100.0 * out.capacity_ah / nominal_ah_ : 0.0;
  }
}

namespace {

constexpr std::string_view kFormat = "equalis-block-capacity";
constexpr int kFormatVersion = 1;
constexpr int kMaxEvents = 1'000'000;

Error stateError(const std::string& what) {
  return makeError(ErrorCode::kInvalidArgument, "block capacity state: " + what);
}

}  // namespace

std::string StringCapacityEstimator::serialize() const {
  nlohmann::json j;
  j["format"] = kFormat;
  j["version"] = kFormatVersion;
  j["nominal_ah"] = nominal_ah_;
  j["events"] = string_events_;
  j["last_event_ms"] = last_fuse_ms_;
  auto& blocks = j["blocks"] = nlohmann::json::array();
  for (std::size_t b = 0; b < n_blocks_; ++b) {
    blocks.push_back({{"w", w_sum_[b]},
                      {"wx", we_sum_[b]},
                      {"events", events_[b]},
                      {"last_event_ms", last_event_ms_[b]}});
  }
  if (level_.anchored) {
    j["level"] = {{"capacity_ah", level_.capacity_ah},
                  {"sigma_ah", level_.sigma_ah},
                  {"time_ms", anchored_ms_}};
  }
  if (test_) {
    j["test"] = {{"capacity_ah", test_->capacity_ah},
                 {"sigma_ah", test_->sigma_ah},
                 {"time_ms", test_->time_ms}};
  }
  return j.dump() + "\n";
}

Result<StringCapacityEstimator> StringCapacityEstimator::deserialize(std::string_view text,
                                                                     std::size_t blocks,
                                                                     double nominal_ah) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return stateError("not JSON");
  }
  const auto field = [&](const nlohmann::json& o, const char* key) -> const nlohmann::json* {
    const auto it = o.find(key);
    return it == o.end() ? nullptr : &*it;
  };
  const auto* format = field(j, "format");
  if (format == nullptr || !format->is_string() || format->get<std::string>() != kFormat) {
    return stateError("not a block-capacity record (format)");
  }
  const auto* version = field(j, "version");
  if (version == nullptr || !version->is_number_integer() ||
      version->get<std::int64_t>() != kFormatVersion) {
    return stateError("unsupported version");
  }
  const auto* nominal = field(j, "nominal_ah");
  if (nominal == nullptr || !nominal->is_number() ||
      std::fabs(nominal->get<double>() - nominal_ah) > 1e-9 * std::max(1.0, nominal_ah)) {
    return stateError("written for another nominal capacity");
  }
  const auto count = [&](const nlohmann::json& o, const char* key,
                         std::int64_t max) -> std::optional<std::int64_t> {
    const auto* v = field(o, key);
    if (v == nullptr || !v->is_number_integer()) {
      return std::nullopt;
    }
    const auto x = v->get<std::int64_t>();
    return x >= 0 && x <= max ? std::optional(x) : std::nullopt;
  };
  const auto events = count(j, "events", kMaxEvents);
  const auto last = count(j, "last_event_ms", std::numeric_limits<std::int64_t>::max());
  if (!events || !last) {
    return stateError("'events' and 'last_event_ms' must be non-negative integers");
  }
  const auto* list = field(j, "blocks");
  if (list == nullptr || !list->is_array()) {
    return stateError("no 'blocks' list");
  }
  if (list->size() != blocks) {
    return stateError("written for " + std::to_string(list->size()) + " blocks, the string has " +
                      std::to_string(blocks));
  }
  StringCapacityEstimator est(blocks, nominal_ah);
  // "level" and "test": {capacity_ah (0 … twice nominal), sigma_ah, time_ms}, both optional.
  const auto record = [&](const char* key) -> Result<std::optional<TestRecord>> {
    const auto* o = field(j, key);
    if (o == nullptr) {
      return std::optional<TestRecord>{};
    }
    const auto* c = o->is_object() ? field(*o, "capacity_ah") : nullptr;
    const auto* sd = o->is_object() ? field(*o, "sigma_ah") : nullptr;
    const auto when = o->is_object()
                          ? count(*o, "time_ms", std::numeric_limits<std::int64_t>::max())
                          : std::nullopt;
    if (c == nullptr || sd == nullptr || !c->is_number() || !sd->is_number() || !when ||
        !(c->get<double>() > 0.0 && c->get<double>() <= 2.0 * nominal_ah) ||
        !(sd->get<double>() >= 0.0 && sd->get<double>() <= nominal_ah)) {
      return stateError("'" + std::string(key) +
                        "' must hold capacity_ah (0 … twice nominal), sigma_ah and time_ms");
    }
    return std::optional<TestRecord>(TestRecord{c->get<double>(), sd->get<double>(), *when});
  };
  const auto level = record("level");
  if (!level) {
    return level.error();
  }
  if (*level) {
    est.level_ = {(*level)->capacity_ah, (*level)->sigma_ah, true};
    est.anchored_ms_ = (*level)->time_ms;
  }
  auto test = record("test");
  if (!test) {
    return test.error();
  }
  est.test_ = *test;
  est.string_events_ = static_cast<int>(*events);
  est.last_fuse_ms_ = *last;
  for (std::size_t b = 0; b < blocks; ++b) {
    const auto& o = (*list)[b];
    const std::string where = "block " + std::to_string(b + 1) + ": ";
    if (!o.is_object()) {
      return stateError(where + "not an object");
    }
    const auto* w = field(o, "w");
    const auto* wx = field(o, "wx");
    if (w == nullptr || wx == nullptr || !w->is_number() || !wx->is_number()) {
      return stateError(where + "'w' and 'wx' must be numbers");
    }
    const double wv = w->get<double>();
    const double wxv = wx->get<double>();
    // w = Σ 1/σ² with σ ≥ the per-event floor, so w ≤ events / floor².
    if (!std::isfinite(wv) || !std::isfinite(wxv) || wv < 0.0 ||
        wv > kMaxEvents / (kEventFloorRelative * kEventFloorRelative)) {
      return stateError(where + "weight out of range");
    }
    const auto ev = count(o, "events", kMaxEvents);
    const auto lm = count(o, "last_event_ms", std::numeric_limits<std::int64_t>::max());
    if (!ev || !lm) {
      return stateError(where + "'events' and 'last_event_ms' must be non-negative integers");
    }
    if (wv > 0.0 && !(wxv / wv > kMinScale - 1.0 && wxv / wv < kMaxScale - 1.0)) {
      return stateError(where + "estimate out of range");
    }
    if ((wv > 0.0) != (*ev > 0)) {
      return stateError(where + "weight and event count disagree");
    }
    est.w_sum_[b] = wv;
    est.we_sum_[b] = wxv;
    est.events_[b] = static_cast<int>(*ev);
    est.last_event_ms_[b] = *lm;
  }
  est.refreshBlocks();
  return est;
}

Result<StringCapacityEstimator> StringCapacityEstimator::deserialize(std::string_view text) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return stateError("not JSON");
  }
  const auto nominal = j.find("nominal_ah");
  const auto blocks = j.find("blocks");
  if (nominal == j.end() || !nominal->is_number() || !(nominal->get<double>() > 0.0) ||
      blocks == j.end() || !blocks->is_array() || blocks->empty()) {
    return stateError("no 'nominal_ah' or 'blocks'");
  }
  return deserialize(text, blocks->size(), nominal->get<double>());
}

void eventRelatives(const CapacityEvent& e, std::vector<double>& relative,
                    std::vector<double>& sigma) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  relative.assign(e.blocks.size(), nan);
  sigma.assign(e.blocks.size(), nan);
  if (!e.used) {
    return;
  }
  for (std::size_t b = 0; b < e.blocks.size(); ++b) {
    const auto& x = e.blocks[b];
    if (x.valid && x.relative > 0.0) {
      relative[b] = x.relative;
      // r = 1 / (1 + x): dr = r² dx.
      sigma[b] = x.relative * x.relative * x.inv_dev_sigma;
    }
  }
}

}  // namespace equalis::analysis
