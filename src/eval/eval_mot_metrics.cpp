#include "eval/eval_mot_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_map>

#include "core/linear_assignment.h"
#include "eval/eval_assignment.h"

namespace vigil::eval {

namespace {

constexpr double kEps = std::numeric_limits<double>::epsilon();

double safe_ratio(double numerator, double denominator) { return numerator / std::max(1.0, denominator); }

double mean(const HotaResult::PerAlpha& values) {
    return std::accumulate(values.begin(), values.end(), 0.0) / kHotaAlphaCount;
}

void finish_hota(HotaResult& r) {
    for (int a = 0; a < kHotaAlphaCount; ++a) {
        r.det_re[a] = safe_ratio(r.tp[a], r.tp[a] + r.fn[a]);
        r.det_pr[a] = safe_ratio(r.tp[a], r.tp[a] + r.fp[a]);
        r.det_a[a] = safe_ratio(r.tp[a], r.tp[a] + r.fn[a] + r.fp[a]);
        r.hota[a] = std::sqrt(r.det_a[a] * r.ass_a[a]);
    }
}

}  // namespace

double hota_alpha(int a) { return 0.05 + a * 0.05; }

double HotaResult::hota_mean() const { return mean(hota); }
double HotaResult::det_a_mean() const { return mean(det_a); }
double HotaResult::ass_a_mean() const { return mean(ass_a); }
double HotaResult::loc_a_mean() const { return mean(loc_a); }
double HotaResult::det_re_mean() const { return mean(det_re); }
double HotaResult::det_pr_mean() const { return mean(det_pr); }
double HotaResult::ass_re_mean() const { return mean(ass_re); }
double HotaResult::ass_pr_mean() const { return mean(ass_pr); }

double ClearResult::mota() const { return safe_ratio(double(tp - fp - idsw), double(tp + fn)); }
double ClearResult::moda() const { return safe_ratio(double(tp - fp), double(tp + fn)); }
double ClearResult::motp() const { return safe_ratio(iou_sum, double(tp)); }
double ClearResult::recall() const { return safe_ratio(double(tp), double(tp + fn)); }
double ClearResult::precision() const { return safe_ratio(double(tp), double(tp + fp)); }

double IdentityResult::idf1() const { return safe_ratio(double(idtp), idtp + 0.5 * idfp + 0.5 * idfn); }
double IdentityResult::idp() const { return safe_ratio(double(idtp), double(idtp + idfp)); }
double IdentityResult::idr() const { return safe_ratio(double(idtp), double(idtp + idfn)); }

HotaResult compute_hota(const MotEvalData& data) {
    HotaResult r;
    if (data.num_tracker_dets == 0 || data.num_gt_dets == 0) {
        r.fn.fill(static_cast<double>(data.num_tracker_dets == 0 ? data.num_gt_dets : 0));
        r.fp.fill(static_cast<double>(data.num_tracker_dets == 0 ? 0 : data.num_tracker_dets));
        finish_hota(r);
        return r;
    }
    const int n_gt_ids = data.num_gt_ids, n_tr_ids = data.num_tracker_ids;
    std::vector<double> potential(static_cast<size_t>(n_gt_ids) * n_tr_ids, 0.0);
    std::vector<double> gt_id_count(n_gt_ids, 0.0), tr_id_count(n_tr_ids, 0.0);

    // Pass 1: how strongly each gt id and tracker id overlap over the whole
    // sequence, each frame's similarity normalised like a soft IoU.
    std::vector<double> row_sum, col_sum;
    for (int t = 0; t < data.num_frames; ++t) {
        const auto& gt = data.gt_ids[t];
        const auto& tr = data.tracker_ids[t];
        const auto& sim = data.similarity[t];
        const size_t n = gt.size(), m = tr.size();
        row_sum.assign(n, 0.0);
        col_sum.assign(m, 0.0);
        for (size_t i = 0; i < n; ++i)
            for (size_t j = 0; j < m; ++j) {
                row_sum[i] += sim[i * m + j];
                col_sum[j] += sim[i * m + j];
            }
        for (size_t i = 0; i < n; ++i)
            for (size_t j = 0; j < m; ++j) {
                const double s = sim[i * m + j];
                const double denom = row_sum[i] + col_sum[j] - s;
                if (denom > 0) potential[static_cast<size_t>(gt[i]) * n_tr_ids + tr[j]] += s / denom;
            }
        for (int g : gt) gt_id_count[g] += 1;
        for (int k : tr) tr_id_count[k] += 1;
    }
    std::vector<double> alignment(potential.size());
    for (int g = 0; g < n_gt_ids; ++g)
        for (int k = 0; k < n_tr_ids; ++k) {
            const size_t idx = static_cast<size_t>(g) * n_tr_ids + k;
            alignment[idx] = potential[idx] / (gt_id_count[g] + tr_id_count[k] - potential[idx]);
        }

    // Pass 2: per frame, match to maximise alignment x similarity, then count
    // the matches good enough for each alpha. Matches per id pair are sparse.
    std::unordered_map<long long, HotaResult::PerAlpha> pair_matches;
    std::vector<double> score;
    for (int t = 0; t < data.num_frames; ++t) {
        const auto& gt = data.gt_ids[t];
        const auto& tr = data.tracker_ids[t];
        const auto& sim = data.similarity[t];
        const size_t n = gt.size(), m = tr.size();
        if (n == 0 || m == 0) {
            for (int a = 0; a < kHotaAlphaCount; ++a) {
                r.fp[a] += static_cast<double>(m);
                r.fn[a] += static_cast<double>(n);
            }
            continue;
        }
        score.resize(n * m);
        for (size_t i = 0; i < n; ++i)
            for (size_t j = 0; j < m; ++j)
                score[i * m + j] = alignment[static_cast<size_t>(gt[i]) * n_tr_ids + tr[j]] * sim[i * m + j];
        const std::vector<int> match = maximise_assignment(score, static_cast<int>(n), static_cast<int>(m));
        HotaResult::PerAlpha matched{};
        for (size_t i = 0; i < n; ++i) {
            const int j = match[i];
            if (j < 0) continue;
            const double s = sim[i * m + j];
            HotaResult::PerAlpha* counts = nullptr;
            for (int a = 0; a < kHotaAlphaCount; ++a) {
                if (s < hota_alpha(a) - kEps) break;  // alphas ascend
                if (!counts) counts = &pair_matches[static_cast<long long>(gt[i]) * n_tr_ids + tr[j]];
                (*counts)[a] += 1;
                matched[a] += 1;
                r.loc_a[a] += s;
            }
        }
        for (int a = 0; a < kHotaAlphaCount; ++a) {
            r.tp[a] += matched[a];
            r.fn[a] += static_cast<double>(n) - matched[a];
            r.fp[a] += static_cast<double>(m) - matched[a];
        }
    }

    for (const auto& [key, counts] : pair_matches) {
        const int g = static_cast<int>(key / n_tr_ids), k = static_cast<int>(key % n_tr_ids);
        for (int a = 0; a < kHotaAlphaCount; ++a) {
            const double c = counts[a];
            if (c == 0) continue;
            r.ass_a[a] += c * c / std::max(1.0, gt_id_count[g] + tr_id_count[k] - c);
            r.ass_re[a] += c * c / std::max(1.0, gt_id_count[g]);
            r.ass_pr[a] += c * c / std::max(1.0, tr_id_count[k]);
        }
    }
    for (int a = 0; a < kHotaAlphaCount; ++a) {
        r.ass_a[a] = safe_ratio(r.ass_a[a], r.tp[a]);
        r.ass_re[a] = safe_ratio(r.ass_re[a], r.tp[a]);
        r.ass_pr[a] = safe_ratio(r.ass_pr[a], r.tp[a]);
        r.loc_a[a] = std::max(1e-10, r.loc_a[a]) / std::max(1e-10, r.tp[a]);
    }
    finish_hota(r);
    return r;
}

namespace {

ClearResult clear_trackeval(const MotEvalData& data, double threshold) {
    ClearResult r;
    r.frames = data.num_frames;
    const int n_ids = data.num_gt_ids;
    std::vector<int> gt_id_count(n_ids, 0), gt_matched_count(n_ids, 0), gt_frag_count(n_ids, 0);
    std::vector<int> prev_tracker_id(n_ids, -1);            // last match ever: scores IDSW
    std::vector<int> prev_timestep_tracker_id(n_ids, -1);   // match in the previous frame: steers matching
    std::vector<double> score;
    for (int t = 0; t < data.num_frames; ++t) {
        const auto& gt = data.gt_ids[t];
        const auto& tr = data.tracker_ids[t];
        const auto& sim = data.similarity[t];
        const size_t n = gt.size(), m = tr.size();
        if (n == 0) {
            r.fp += static_cast<long>(m);
            // TrackEval leaves the previous-timestep state untouched here.
            continue;
        }
        if (m == 0) {
            r.fn += static_cast<long>(n);
            for (int g : gt) gt_id_count[g] += 1;
            continue;
        }
        score.resize(n * m);
        for (size_t i = 0; i < n; ++i)
            for (size_t j = 0; j < m; ++j) {
                const double s = sim[i * m + j];
                score[i * m + j] =
                    s < threshold - kEps ? 0.0 : s + (prev_timestep_tracker_id[gt[i]] == tr[j] ? 1000.0 : 0.0);
            }
        const std::vector<int> match = maximise_assignment(score, static_cast<int>(n), static_cast<int>(m));
        std::vector<char> tracked_now(n_ids, 0);
        long matches = 0;
        for (size_t i = 0; i < n; ++i) {
            const int j = match[i];
            if (j < 0 || score[i * m + j] <= kEps) continue;
            const int g = gt[i], k = tr[j];
            if (prev_tracker_id[g] >= 0 && prev_tracker_id[g] != k) ++r.idsw;
            prev_tracker_id[g] = k;
            tracked_now[g] = 1;
            gt_matched_count[g] += 1;
            r.iou_sum += sim[i * m + j];
            ++matches;
        }
        for (int g : gt) gt_id_count[g] += 1;
        for (int g = 0; g < n_ids; ++g) {
            if (tracked_now[g] && prev_timestep_tracker_id[g] < 0) gt_frag_count[g] += 1;
            prev_timestep_tracker_id[g] = -1;
        }
        for (size_t i = 0; i < n; ++i) {
            const int j = match[i];
            if (j >= 0 && score[i * m + j] > kEps) prev_timestep_tracker_id[gt[i]] = tr[j];
        }
        r.tp += matches;
        r.fn += static_cast<long>(n) - matches;
        r.fp += static_cast<long>(m) - matches;
    }
    for (int g = 0; g < n_ids; ++g) {
        if (gt_id_count[g] > 0) {
            const double ratio = static_cast<double>(gt_matched_count[g]) / gt_id_count[g];
            if (ratio > 0.8) ++r.mt;
            else if (ratio >= 0.2) ++r.pt;
        }
        if (gt_frag_count[g] > 0) r.frag += gt_frag_count[g] - 1;
    }
    r.ml = n_ids - r.mt - r.pt;
    return r;
}

ClearResult clear_py_motmetrics(const MotEvalData& data, double threshold) {
    ClearResult r;
    r.frames = data.num_frames;
    const int n_ids = data.num_gt_ids;
    std::vector<int> last_match(n_ids, -1);
    std::vector<int> present(n_ids, 0), matched_frames(n_ids, 0);
    std::vector<char> missed_since_match(n_ids, 0);
    // py-motmetrics pairs when the distance 1 - IoU is at most the threshold.
    auto valid = [&](double iou) { return 1.0 - iou <= threshold; };
    for (int t = 0; t < data.num_frames; ++t) {
        const auto& gt = data.gt_ids[t];
        const auto& tr = data.tracker_ids[t];
        const auto& sim = data.similarity[t];
        const size_t n = gt.size(), m = tr.size();
        std::vector<int> gt_match(n, -1), tr_used(m, 0);
        if (n > 0 && m > 0) {
            // 1. Carry forward each gt's last pairing, however old.
            for (size_t i = 0; i < n; ++i) {
                const int prev = last_match[gt[i]];
                if (prev < 0) continue;
                for (size_t j = 0; j < m; ++j) {
                    if (tr_used[j] || tr[j] != prev) continue;
                    if (valid(sim[i * m + j])) {
                        gt_match[i] = static_cast<int>(j);
                        tr_used[j] = 1;
                    }
                    break;
                }
            }
            // 2. Hungarian over the rest: most valid pairs, then least 1 - IoU.
            std::vector<size_t> rows, cols;
            for (size_t i = 0; i < n; ++i)
                if (gt_match[i] < 0) rows.push_back(i);
            for (size_t j = 0; j < m; ++j)
                if (!tr_used[j]) cols.push_back(j);
            if (!rows.empty() && !cols.empty()) {
                const size_t rn = rows.size(), cn = cols.size();
                std::vector<double> cost(rn * cn);
                double max_abs = 0;
                bool any_valid = false;
                for (size_t a = 0; a < rn; ++a)
                    for (size_t b = 0; b < cn; ++b) {
                        const double s = sim[rows[a] * m + cols[b]];
                        if (valid(s)) {
                            cost[a * cn + b] = 1.0 - s;
                            max_abs = std::max(max_abs, std::abs(1.0 - s));
                            any_valid = true;
                        } else {
                            cost[a * cn + b] = std::numeric_limits<double>::quiet_NaN();
                        }
                    }
                if (any_valid) {
                    const double invalid_cost = 2.0 * static_cast<double>(std::min(rn, cn)) * (max_abs + 1) + 1;
                    for (double& c : cost)
                        if (std::isnan(c)) c = invalid_cost;
                    const std::vector<int> match =
                        solve_linear_assignment(cost, static_cast<int>(rn), static_cast<int>(cn));
                    for (size_t a = 0; a < rn; ++a) {
                        const int b = match[a];
                        if (b < 0 || cost[a * cn + b] == invalid_cost) continue;
                        const size_t i = rows[a], j = cols[b];
                        const int g = gt[i];
                        if (last_match[g] >= 0 && last_match[g] != tr[j]) ++r.idsw;
                        gt_match[i] = static_cast<int>(j);
                        tr_used[j] = 1;
                    }
                }
            }
        }
        long matches = 0;
        for (size_t i = 0; i < n; ++i) {
            const int g = gt[i];
            present[g] += 1;
            if (gt_match[i] < 0) {
                if (last_match[g] >= 0) missed_since_match[g] = 1;
                continue;
            }
            const int j = gt_match[i];
            if (missed_since_match[g]) ++r.frag;
            missed_since_match[g] = 0;
            last_match[g] = tr[j];
            matched_frames[g] += 1;
            r.iou_sum += sim[i * m + j];
            ++matches;
        }
        r.tp += matches;
        r.fn += static_cast<long>(n) - matches;
        r.fp += static_cast<long>(m) - matches;
    }
    for (int g = 0; g < n_ids; ++g) {
        if (present[g] == 0) continue;
        const double ratio = static_cast<double>(matched_frames[g]) / present[g];
        if (ratio >= 0.8) ++r.mt;
        else if (ratio >= 0.2) ++r.pt;
        else ++r.ml;
    }
    return r;
}

}  // namespace

ClearResult compute_clear(const MotEvalData& data, ClearConvention convention, double iou_threshold) {
    if (data.num_tracker_dets == 0 || data.num_gt_dets == 0) {
        ClearResult r;
        r.frames = data.num_frames;
        r.fn = data.num_tracker_dets == 0 ? data.num_gt_dets : 0;
        r.fp = data.num_tracker_dets == 0 ? 0 : data.num_tracker_dets;
        r.ml = data.num_gt_ids;
        return r;
    }
    return convention == ClearConvention::trackeval ? clear_trackeval(data, iou_threshold)
                                                    : clear_py_motmetrics(data, iou_threshold);
}

IdentityResult compute_identity(const MotEvalData& data, double iou_threshold) {
    IdentityResult r;
    if (data.num_tracker_dets == 0 || data.num_gt_dets == 0) {
        r.idfn = data.num_tracker_dets == 0 ? data.num_gt_dets : 0;
        r.idfp = data.num_tracker_dets == 0 ? 0 : data.num_tracker_dets;
        return r;
    }
    const int n_gt = data.num_gt_ids, n_tr = data.num_tracker_ids;
    std::vector<double> overlap_frames(static_cast<size_t>(n_gt) * n_tr, 0.0);
    for (int t = 0; t < data.num_frames; ++t) {
        const auto& gt = data.gt_ids[t];
        const auto& tr = data.tracker_ids[t];
        const auto& sim = data.similarity[t];
        const size_t m = tr.size();
        for (size_t i = 0; i < gt.size(); ++i)
            for (size_t j = 0; j < m; ++j)
                if (sim[i * m + j] >= iou_threshold - kEps)
                    overlap_frames[static_cast<size_t>(gt[i]) * n_tr + tr[j]] += 1;
    }
    // TrackEval's (gt + tracker) square cost matrix of IDFN + IDFP reduces to
    // this: pairing gt g with tracker k saves overlap(g, k) of each, so the
    // optimum is a maximum-weight matching on the overlap counts.
    const std::vector<int> match = maximise_assignment(overlap_frames, n_gt, n_tr);
    double idtp = 0;
    for (int g = 0; g < n_gt; ++g)
        if (match[g] >= 0) idtp += overlap_frames[static_cast<size_t>(g) * n_tr + match[g]];
    r.idtp = static_cast<long>(std::llround(idtp));
    r.idfn = data.num_gt_dets - r.idtp;
    r.idfp = data.num_tracker_dets - r.idtp;
    return r;
}

MotMetrics compute_mot_metrics(const MotEvalData& data, ClearConvention convention) {
    MotMetrics metrics;
    metrics.name = data.name;
    metrics.hota = compute_hota(data);
    metrics.clear = compute_clear(data, convention);
    metrics.identity = compute_identity(data);
    metrics.gt_dets = data.num_gt_dets;
    metrics.tracker_dets = data.num_tracker_dets;
    metrics.gt_ids = data.num_gt_ids;
    metrics.tracker_ids = data.num_tracker_ids;
    return metrics;
}

MotMetrics combine_mot_metrics(const std::vector<MotMetrics>& sequences, const std::string& name) {
    MotMetrics out;
    out.name = name;
    HotaResult& h = out.hota;
    HotaResult::PerAlpha loc_weighted{};
    for (const MotMetrics& s : sequences) {
        for (int a = 0; a < kHotaAlphaCount; ++a) {
            h.tp[a] += s.hota.tp[a];
            h.fn[a] += s.hota.fn[a];
            h.fp[a] += s.hota.fp[a];
            h.ass_a[a] += s.hota.ass_a[a] * s.hota.tp[a];
            h.ass_re[a] += s.hota.ass_re[a] * s.hota.tp[a];
            h.ass_pr[a] += s.hota.ass_pr[a] * s.hota.tp[a];
            loc_weighted[a] += s.hota.loc_a[a] * s.hota.tp[a];
        }
        const ClearResult& c = s.clear;
        out.clear.tp += c.tp;
        out.clear.fn += c.fn;
        out.clear.fp += c.fp;
        out.clear.idsw += c.idsw;
        out.clear.mt += c.mt;
        out.clear.pt += c.pt;
        out.clear.ml += c.ml;
        out.clear.frag += c.frag;
        out.clear.frames += c.frames;
        out.clear.iou_sum += c.iou_sum;
        out.identity.idtp += s.identity.idtp;
        out.identity.idfn += s.identity.idfn;
        out.identity.idfp += s.identity.idfp;
        out.gt_dets += s.gt_dets;
        out.tracker_dets += s.tracker_dets;
        out.gt_ids += s.gt_ids;
        out.tracker_ids += s.tracker_ids;
    }
    for (int a = 0; a < kHotaAlphaCount; ++a) {
        h.ass_a[a] = safe_ratio(h.ass_a[a], h.tp[a]);
        h.ass_re[a] = safe_ratio(h.ass_re[a], h.tp[a]);
        h.ass_pr[a] = safe_ratio(h.ass_pr[a], h.tp[a]);
        h.loc_a[a] = std::max(1e-10, loc_weighted[a]) / std::max(1e-10, h.tp[a]);
    }
    finish_hota(h);
    return out;
}

}  // namespace vigil::eval
