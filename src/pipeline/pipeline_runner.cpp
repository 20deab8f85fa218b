#include "pipeline/pipeline_runner.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <thread>

#include "alert/alert_builder.h"
#include "contextualize/contextualizer.h"
#include "core/error.h"
#include "pipeline/pipeline_camera.h"
#include "pipeline/pipeline_queue.h"
#include "sink/alert_sink.h"
#include "sink/sink_delivery.h"
#include "store/alert_store.h"

namespace vigil::pipeline {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

double ms_between(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration<double, std::milli>(to - from).count();
}

std::string rfc3339(double unix_s) {
    const auto whole = static_cast<std::time_t>(unix_s);
    const int millis = static_cast<int>((unix_s - static_cast<double>(whole)) * 1000.0);
    std::tm utc{};
    gmtime_r(&whole, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
    return fmt::format("{}.{:03d}Z", text, std::clamp(millis, 0, 999));
}

// Only the opening edge of an episode (or an instant) is worth an alert; the
// closing edge and zone exits are kept in the event log.
bool alertable(const analyze::Event& event) {
    return event.phase != analyze::EventPhase::end && event.type != "zone_exit";
}

// One event on its way from a camera to the store.
struct AlertJob {
    CameraEvent source;
    bool alertable = false;
    std::optional<contextualize::ContextReport> report;
    std::string rules_reason;        // set when the report must come from the rules
    Clock::time_point queued_at;     // entered the VLM queue
    double queue_wait_ms = 0;
};

class Runner {
public:
    Runner(const PipelineConfig& config, std::shared_ptr<vlm::VlmEngine> engine, const RunOptions& options)
        : config_(config),
          engine_(std::move(engine)),
          options_(options),
          vlm_queue_(static_cast<size_t>(config.vlm.max_queue)),
          alert_queue_(4096) {}

    RunSummary run();

private:
    void open_outputs();
    void on_event(CameraEvent event);
    void vlm_worker();
    void alert_worker();
    void handle(AlertJob& job, contextualize::Contextualizer& rules);
    json write_evidence(const std::string& alert_id, const contextualize::ContextReport& report,
                        const CameraEvent& source);
    void show_progress(bool final_line);
    std::string progress_line();
    enum class StopReason { none, requested, time_limit, sources_ended };
    StopReason stop_reason(Clock::time_point started) const;

    const PipelineConfig& config_;
    std::shared_ptr<vlm::VlmEngine> engine_;
    RunOptions options_;
    contextualize::ContextualizerOptions context_options_;

    std::unique_ptr<store::AlertStore> store_;
    std::vector<std::shared_ptr<sink::AlertSink>> sinks_;
    std::vector<std::string> sink_names_;
    std::unique_ptr<sink::DeliveryWorker> delivery_;
    std::vector<std::unique_ptr<CameraPipeline>> cameras_;
    std::vector<contextualize::CameraContext> contexts_;
    std::unique_ptr<alert::AlertBuilder> builder_;  // used by the alert thread only

    BoundedQueue<AlertJob> vlm_queue_;
    BoundedQueue<AlertJob> alert_queue_;
    std::atomic<bool> rules_only_{false};  // shutting down: queued events skip the VLM

    std::mutex stats_mutex_;
    RunSummary summary_;
    std::vector<int64_t> camera_alerts_;
    std::map<std::string, json> evidence_by_alert_;  // alert id -> its images, kept across updates

    bool tty_ = false;
    Clock::time_point last_line_at_;
    size_t last_line_width_ = 0;
};

void Runner::open_outputs() {
    context_options_.prompts_dir = config_.prompts_dir;
    context_options_.max_tiles_per_request = config_.vlm.max_tiles;
    context_options_.vlm_deadline = std::chrono::milliseconds(static_cast<int64_t>(config_.vlm.deadline_s * 1000));
    try {
        store_ = store::AlertStore::open(config_.store.db, config_.store.evidence_dir);
    } catch (const Error& e) {
        throw Error(fmt::format("{}: key \"store\": {}", config_.file.string(), e.what()));
    }
    if (config_.store.retention_days > 0) {
        const int removed = store_->apply_retention(std::chrono::hours(24 * config_.store.retention_days));
        if (removed > 0) spdlog::info("retention: removed {} old evidence folders", removed);
    }
    for (size_t i = 0; i < config_.sinks.size(); ++i) {
        try {
            sinks_.push_back(sink::make_sink(config_.sinks[i]));
        } catch (const Error& e) {
            throw Error(fmt::format("{}: key \"sinks[{}]\": {}", config_.file.string(), i, e.what()));
        }
        const std::string name = sinks_.back()->name();
        if (std::find(sink_names_.begin(), sink_names_.end(), name) != sink_names_.end()) {
            throw Error(fmt::format("{}: key \"sinks[{}]\": two sinks are both called \"{}\"; give each a "
                                    "distinct name", config_.file.string(), i, name));
        }
        sink_names_.push_back(name);
    }
    delivery_ = std::make_unique<sink::DeliveryWorker>(*store_, sinks_);
}

void Runner::on_event(CameraEvent event) {
    AlertJob job;
    job.alertable = alertable(event.event);
    job.source = std::move(event);
    {
        std::lock_guard lock(stats_mutex_);
        ++summary_.events;
    }
    if (job.alertable) {
        if (!engine_) {
            job.rules_reason = "no VLM is configured";
        } else if (rules_only_) {
            job.rules_reason = "shutting down: VLM skipped";
        } else {
            job.queued_at = Clock::now();
            if (vlm_queue_.try_push(job)) {
                std::lock_guard lock(stats_mutex_);
                ++summary_.vlm_requests;
                return;
            }
            job.rules_reason = fmt::format("VLM queue full ({} events waiting)", vlm_queue_.capacity());
            std::lock_guard lock(stats_mutex_);
            ++summary_.vlm_shed;
        }
    }
    alert_queue_.push_wait(std::move(job));
}

void Runner::vlm_worker() {
    contextualize::Contextualizer contextualizer(context_options_, engine_.get());
    while (auto job = vlm_queue_.pop()) {
        const CameraEvent& source = job->source;
        const auto& context = contexts_[source.camera];
        job->queue_wait_ms = ms_between(job->queued_at, Clock::now());
        if (rules_only_) {
            job->rules_reason = "shutting down: VLM skipped";
        } else {
            job->report = contextualizer.contextualize(source.event, context, source.frames);
            if (job->report->source == "vlm") {
                // A model can emit bytes that are not UTF-8 (a multi-byte
                // character cut between tokens); such a report cannot be
                // stored or sent, so the rules speak instead.
                try {
                    (void)json({job->report->report, job->report->reasoning, job->report->verdict}).dump();
                } catch (const json::exception& e) {
                    job->report = contextualizer.from_rules(source.event, context, source.frames,
                                                            fmt::format("VLM failed: unusable answer ({})", e.what()));
                }
            }
            std::lock_guard lock(stats_mutex_);
            if (job->report->source == "vlm") ++summary_.vlm_answers;
            else if (job->report->fallback_reason.rfind("VLM timed out", 0) == 0) ++summary_.vlm_timeouts;
            else ++summary_.vlm_errors;
        }
        alert_queue_.push_wait(std::move(*job));
    }
}

json Runner::write_evidence(const std::string& alert_id, const contextualize::ContextReport& report,
                            const CameraEvent& source) {
    json images = json::array();
    for (size_t i = 0; i < report.evidence_images.size(); ++i) {
        const auto& [role, bgr] = report.evidence_images[i];
        json image = {{"role", role}, {"path", nullptr}};
        if (i < report.evidence_times_s.size()) {
            image["time"] = rfc3339(source.wall_time_s + (report.evidence_times_s[i] - source.event.time_s));
        }
        std::vector<uchar> bytes;
        std::optional<std::filesystem::path> path;
        if (!bgr.empty() && cv::imencode(".jpg", bgr, bytes, {cv::IMWRITE_JPEG_QUALITY, 85})) {
            path = store_->write_evidence(alert_id, fmt::format("{}-{}.jpg", i, role),
                                          std::string(bytes.begin(), bytes.end()));
        }
        if (path) {
            image["path"] = path->string();
        } else {
            image["missing"] = true;
            std::lock_guard lock(stats_mutex_);
            ++summary_.evidence_missing;
        }
        images.push_back(std::move(image));
    }
    return images;
}

void Runner::handle(AlertJob& job, contextualize::Contextualizer& rules) {
    const CameraEvent& source = job.source;
    const auto& camera = *cameras_[source.camera];
    const std::string& camera_name = camera.config().name;
    store_->record_event(camera_name, json(source.event));
    if (!job.alertable) return;

    // A periodic scene check asks the VLM what no rule can see; without its
    // answer there is nothing to report (the event itself is recorded). A
    // scene *change* still alerts from the rules: the camera may have been
    // moved or covered.
    if ((!job.report || job.report->source != "vlm") && source.event.type == "scene_change" &&
        source.event.metrics.value("reason", "") == "periodic") {
        std::lock_guard lock(stats_mutex_);
        ++summary_.scene_checks_without_vlm;
        return;
    }
    if (!job.report) job.report = rules.from_rules(source.event, contexts_[source.camera], source.frames, job.rules_reason);
    const contextualize::ContextReport& report = *job.report;
    json models = {{"detector", camera.detector_name()}, {"tracker", camera.tracker_name()}};
    if (!report.vlm_model.empty()) models["vlm"] = report.vlm_model;
    else if (engine_) models["vlm"] = engine_->name();

    std::optional<alert::AlertDecision> decision =
        builder_->on_event(camera_name, contexts_[source.camera], source.event, report, source.wall_time_s, models);
    if (!decision) {
        std::lock_guard lock(stats_mutex_);
        summary_.alerts_suppressed = builder_->suppressed();
        return;
    }
    json& alert = decision->alert;
    const std::string id = alert.at("id").get<std::string>();
    auto known = evidence_by_alert_.find(id);
    if (known == evidence_by_alert_.end()) known = evidence_by_alert_.emplace(id, write_evidence(id, report, source)).first;
    alert["evidence"]["images"] = known->second;
    json& timings = alert["timings"];
    timings["vlm_ms"] = report.vlm_ms;
    timings["queue_wait_ms"] = job.queue_wait_ms;
    timings["event_to_alert_ms"] = ms_between(source.detected_at, Clock::now());

    const auto violations = alert::validate_alert(alert);
    if (!violations.empty()) {
        spdlog::error("camera \"{}\": alert {} does not match the alert schema: {}", camera_name, id,
                      violations.front());
        std::lock_guard lock(stats_mutex_);
        ++summary_.invalid_alerts;
    }
    const bool send = decision->status == "sent";
    store_->save_alert(alert, decision->status, send ? sink_names_ : std::vector<std::string>{});
    {
        std::lock_guard lock(stats_mutex_);
        if (report.source == "rules") ++summary_.rules_reports;
        if (decision->is_update) {
            ++summary_.alerts_updated;
            if (decision->first_sent) {  // a dismissed alert an update made sent: its first delivery
                ++summary_.alerts_sent;
                --summary_.alerts_dismissed;
            }
        } else if (send) {
            ++summary_.alerts_sent;
        } else {
            ++summary_.alerts_dismissed;
        }
        if (!decision->is_update) ++camera_alerts_[source.camera];
        summary_.alerts_suppressed = builder_->suppressed();
    }
    if (send) delivery_->notify();
}

void Runner::alert_worker() {
    contextualize::Contextualizer rules(context_options_, nullptr);
    while (auto job = alert_queue_.pop()) {
        try {
            handle(*job, rules);
        } catch (const std::exception& e) {
            spdlog::error("camera \"{}\": event {} ({}) could not become an alert: {}",
                          cameras_[job->source.camera]->config().name, job->source.event.rule,
                          job->source.event.type, e.what());
        }
    }
}

std::string Runner::progress_line() {
    std::string line;
    for (const auto& camera : cameras_) {
        const CameraStats stats = camera->stats();
        if (!line.empty()) line += " | ";
        line += fmt::format("{}: {}", camera->config().name, stats.state);
        if (stats.frames_analysed > 0) {
            line += fmt::format(" {:.1f} fps, {} tracks, {} events", stats.fps, stats.tracks, stats.events);
        }
    }
    std::lock_guard lock(stats_mutex_);
    line += fmt::format(" | alerts {}", summary_.alerts_sent + summary_.alerts_dismissed);
    if (engine_) line += fmt::format(" | VLM queue {}/{}, shed {}", vlm_queue_.size(), vlm_queue_.capacity(),
                                     summary_.vlm_shed);
    return line;
}

void Runner::show_progress(bool final_line) {
    if (!options_.progress) return;
    const auto now = Clock::now();
    if (!tty_ && !final_line && now - last_line_at_ < std::chrono::seconds(5)) return;
    last_line_at_ = now;
    std::string line = progress_line();
    if (tty_) {
        const size_t width = line.size();
        if (width < last_line_width_) line += std::string(last_line_width_ - width, ' ');
        last_line_width_ = width;
        std::fprintf(stderr, "\r%s%s", line.c_str(), final_line ? "\n" : "");
    } else {
        std::fprintf(stderr, "%s\n", line.c_str());
    }
    std::fflush(stderr);
}

Runner::StopReason Runner::stop_reason(Clock::time_point started) const {
    if (options_.stop && options_.stop->load()) return StopReason::requested;
    if (options_.max_seconds > 0 && std::chrono::duration<double>(Clock::now() - started).count() >= options_.max_seconds)
        return StopReason::time_limit;
    bool all_done = true, files_done = true, any_file = false;
    for (const auto& camera : cameras_) {
        all_done = all_done && camera->done();
        if (camera->is_file()) {
            any_file = true;
            files_done = files_done && camera->done();
        }
    }
    if (all_done || (options_.until_eof && any_file && files_done)) return StopReason::sources_ended;
    return StopReason::none;
}

RunSummary Runner::run() {
    for (const auto& camera_config : config_.cameras) {
        if (!camera_config.enabled) continue;
        contexts_.push_back({camera_config.name, camera_config.location, camera_config.site_context,
                             camera_config.examples});
        const size_t index = cameras_.size();
        cameras_.push_back(std::make_unique<CameraPipeline>(camera_config, index, config_.scene_check,
                                                            [this](CameraEvent event) { on_event(std::move(event)); }));
    }
    if (cameras_.empty()) throw Error(fmt::format("{}: every camera is disabled; nothing to run", config_.file.string()));
    // Models load first: a missing detector should not leave an empty store behind.
    open_outputs();
    builder_ = std::make_unique<alert::AlertBuilder>(config_.alert);
    // Prompts and schemas are checked here, before any camera starts.
    contextualize::Contextualizer check(context_options_, nullptr);
    camera_alerts_.assign(cameras_.size(), 0);
    summary_.vlm = engine_ ? engine_->name() : "";

    tty_ = ::isatty(STDERR_FILENO) == 1;
    const auto started = Clock::now();
    last_line_at_ = started;

    std::vector<std::thread> vlm_workers;
    if (engine_) {
        for (int i = 0; i < config_.vlm.workers; ++i) vlm_workers.emplace_back([this] { vlm_worker(); });
    }
    std::thread alert_thread([this] { alert_worker(); });
    delivery_->start();
    for (auto& camera : cameras_) camera->start();

    // The stop flag may be set from a signal handler, which cannot notify a
    // condition variable, so the supervisor looks at it ten times a second.
    StopReason reason = StopReason::none;
    auto last_tick = started;
    while (true) {
        reason = stop_reason(started);
        if (reason != StopReason::none) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (Clock::now() - last_tick >= std::chrono::seconds(1)) {
            last_tick = Clock::now();
            show_progress(false);
        }
    }

    // Stopped early (signal, time limit): queued events still become alerts,
    // with rule-based context, so nothing waits on a slow VLM.
    if (reason != StopReason::sources_ended) rules_only_ = true;
    for (auto& camera : cameras_) camera->stop();
    for (auto& camera : cameras_) camera->join();
    vlm_queue_.close();
    for (auto& worker : vlm_workers) worker.join();
    alert_queue_.close();
    alert_thread.join();
    delivery_->drain(std::chrono::milliseconds(static_cast<int64_t>(options_.drain_timeout_s * 1000)));
    delivery_->stop();
    show_progress(true);

    bool all_failed = true;
    for (const auto& camera : cameras_) all_failed = all_failed && camera->failed_without_frames();
    if (all_failed) {
        std::string reasons;
        for (const auto& camera : cameras_) {
            reasons += fmt::format("\n  camera \"{}\": {}", camera->config().name, camera->stats().last_error);
        }
        throw Error("no camera delivered a frame:" + reasons);
    }

    RunSummary summary;
    {
        std::lock_guard lock(stats_mutex_);
        summary = summary_;
    }
    summary.wall_s = std::chrono::duration<double>(Clock::now() - started).count();
    summary.deliveries_pending = delivery_->pending();
    for (const auto& [name, counters] : delivery_->counters()) {
        summary.deliveries_done += counters.delivered;
        summary.delivery_failures += counters.failed_attempts;
    }
    for (size_t i = 0; i < cameras_.size(); ++i) {
        const CameraStats stats = cameras_[i]->stats();
        CameraSummary camera;
        camera.name = cameras_[i]->config().name;
        camera.state = stats.state;
        camera.last_error = stats.last_error;
        camera.frames_analysed = stats.frames_analysed;
        camera.frames_dropped = stats.frames_dropped;
        camera.events = stats.events;
        camera.alerts = camera_alerts_[i];
        camera.detection_fps = stats.detection_fps();
        summary.cameras.push_back(std::move(camera));
    }
    return summary;
}

}  // namespace

json to_json(const RunSummary& summary) {
    json cameras = json::array();
    for (const auto& camera : summary.cameras) {
        cameras.push_back({{"name", camera.name},
                           {"state", camera.state},
                           {"last_error", camera.last_error},
                           {"frames_analysed", camera.frames_analysed},
                           {"frames_dropped", camera.frames_dropped},
                           {"events", camera.events},
                           {"alerts", camera.alerts},
                           {"detection_fps", camera.detection_fps}});
    }
    return {{"cameras", cameras},
            {"events", summary.events},
            {"alerts_sent", summary.alerts_sent},
            {"alerts_dismissed", summary.alerts_dismissed},
            {"alerts_updated", summary.alerts_updated},
            {"alerts_suppressed", summary.alerts_suppressed},
            {"vlm", summary.vlm},
            {"vlm_requests", summary.vlm_requests},
            {"vlm_answers", summary.vlm_answers},
            {"vlm_shed", summary.vlm_shed},
            {"vlm_timeouts", summary.vlm_timeouts},
            {"vlm_errors", summary.vlm_errors},
            {"rules_reports", summary.rules_reports},
            {"scene_checks_without_vlm", summary.scene_checks_without_vlm},
            {"evidence_missing", summary.evidence_missing},
            {"invalid_alerts", summary.invalid_alerts},
            {"deliveries_done", summary.deliveries_done},
            {"delivery_failures", summary.delivery_failures},
            {"deliveries_pending", summary.deliveries_pending},
            {"wall_s", summary.wall_s}};
}

RunSummary run_pipeline(const PipelineConfig& config, std::shared_ptr<vlm::VlmEngine> engine,
                        const RunOptions& options) {
    Runner runner(config, std::move(engine), options);
    return runner.run();
}

}  // namespace vigil::pipeline
