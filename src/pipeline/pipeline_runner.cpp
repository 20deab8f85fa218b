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

// Only the opening edge of an episode (or an instant) is worth an alert; the
// closing edge and zone exits are kept in the event log.
bool alertable(const analyze::Event& event) {
    return event.phase != analyze::EventPhase::end && event.type != "zone_exit";
}

// One report on its way from a camera or the VLM to the store. An event the
// VLM reviews sends several, in order: the rules' report first when its
// camera or rule says `send: on_event`, the VLM's verdict the moment it is
// decoded, then the final report (the VLM's, or the rules' when it failed).
struct AlertJob {
    std::shared_ptr<const CameraEvent> source;
    uint64_t token = 0;              // the event's identity across its reports
    bool alertable = false;
    bool partial = false;            // another report for this event follows
    std::optional<contextualize::ContextReport> report;
    std::string rules_reason;        // set when the report must come from the rules
    Clock::time_point queued_at;     // entered the VLM queue
    double queue_wait_ms = -1;
};

class Runner {
public:
    Runner(const PipelineConfig& config, std::shared_ptr<vlm::VlmEngine> engine, const RunOptions& options)
        : config_(config),
          engine_(std::move(engine)),
          options_(options),
          verdict_cap_(config.vlm.max_queue + std::max(1, std::min(config.vlm.parallel, config.vlm.workers))),
          vlm_queue_(static_cast<size_t>(verdict_cap_ + config.vlm.workers)),
          alert_queue_(4096) {}

    RunSummary run();

private:
    void open_outputs();
    void on_event(CameraEvent event);
    void vlm_worker();
    void alert_worker();
    void handle(AlertJob& job, contextualize::Contextualizer& rules);
    json write_evidence(const json& images, const std::string& alert_id, const contextualize::ContextReport& report);
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

    // Events handed to the VLM whose verdict is not out yet: the ones a new
    // event would wait behind. Past the cap new events get the rules' report
    // at once. Events whose verdict is out only wait for their report.
    const int verdict_cap_;
    std::atomic<int> undecided_{0};
    BoundedQueue<AlertJob> vlm_queue_;
    BoundedQueue<AlertJob> alert_queue_;
    std::atomic<bool> rules_only_{false};  // shutting down: queued events skip the VLM

    std::atomic<uint64_t> next_token_{1};
    // Used by the alert thread only: events with a report still to come, and
    // the alert their earlier report made ("" when it made none).
    std::map<uint64_t, std::string> open_events_;

    std::mutex stats_mutex_;
    RunSummary summary_;
    std::vector<int64_t> camera_alerts_;

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
    job.token = next_token_++;
    const CameraConfig& camera = cameras_[event.camera]->config();
    const bool rules_first = camera.send_mode_for(event.event.rule) == alert::SendMode::on_event;
    job.source = std::make_shared<const CameraEvent>(std::move(event));
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
            const bool periodic_check = job.source->event.type == "scene_change" &&
                                        job.source->event.metrics.value("reason", "") == "periodic";
            if (rules_first && !periodic_check) {  // a periodic check has nothing to say without the VLM
                // The rules' alert goes out now; the VLM's reports update it.
                AlertJob now = job;
                now.partial = true;
                now.rules_reason = "sent before the VLM's verdict (send: on_event)";
                alert_queue_.push_wait(std::move(now));
            }
            job.queued_at = Clock::now();
            if (++undecided_ <= verdict_cap_ && vlm_queue_.try_push(job)) {
                std::lock_guard lock(stats_mutex_);
                ++summary_.vlm_requests;
                return;
            }
            --undecided_;
            job.rules_reason = fmt::format("VLM busy ({} events waiting for a verdict)", verdict_cap_);
            std::lock_guard lock(stats_mutex_);
            ++summary_.vlm_shed;
        }
    }
    alert_queue_.push_wait(std::move(job));
}

void Runner::vlm_worker() {
    contextualize::Contextualizer contextualizer(context_options_, engine_.get());
    while (auto job = vlm_queue_.pop()) {
        const CameraEvent& source = *job->source;
        const auto& context = contexts_[source.camera];
        job->queue_wait_ms = ms_between(job->queued_at, Clock::now());
        bool decided = false;
        if (rules_only_) {
            job->rules_reason = "shutting down: VLM skipped";
        } else {
            // Verdict first: the decision becomes (or updates) the alert
            // while the rest of the report is decoded.
            auto on_verdict = [&](contextualize::ContextReport early) {
                decided = true;
                --undecided_;
                AlertJob verdict;
                verdict.source = job->source;
                verdict.token = job->token;
                verdict.alertable = true;
                verdict.partial = true;
                verdict.queue_wait_ms = job->queue_wait_ms;
                verdict.report = std::move(early);
                alert_queue_.push_wait(std::move(verdict));
            };
            job->report = contextualizer.contextualize(source.event, context, source.frames, on_verdict);
            std::lock_guard lock(stats_mutex_);
            switch (job->report->vlm_outcome) {
                case contextualize::VlmOutcome::answered: ++summary_.vlm_answers; break;
                case contextualize::VlmOutcome::timed_out: ++summary_.vlm_timeouts; break;
                default: ++summary_.vlm_errors; break;
            }
        }
        if (!decided) --undecided_;
        alert_queue_.push_wait(std::move(*job));
    }
}

// Writes the report's images for a new alert and returns the alert's image
// entries with their paths (or marked missing).
json Runner::write_evidence(const json& images, const std::string& alert_id,
                            const contextualize::ContextReport& report) {
    json out = images;
    for (size_t i = 0; i < out.size() && i < report.evidence_images.size(); ++i) {
        const auto& [role, bgr] = report.evidence_images[i];
        std::vector<uchar> bytes;
        std::optional<std::filesystem::path> path;
        if (!bgr.empty() && cv::imencode(".jpg", bgr, bytes, {cv::IMWRITE_JPEG_QUALITY, 85})) {
            path = store_->write_evidence(alert_id, fmt::format("{}-{}.jpg", i, role),
                                          std::string(bytes.begin(), bytes.end()));
        }
        if (path) {
            out[i]["path"] = path->string();
        } else {
            out[i]["path"] = nullptr;
            out[i]["missing"] = true;
            std::lock_guard lock(stats_mutex_);
            ++summary_.evidence_missing;
        }
    }
    return out;
}

void Runner::handle(AlertJob& job, contextualize::Contextualizer& rules) {
    const CameraEvent& source = *job.source;
    const auto& camera = *cameras_[source.camera];
    const std::string& camera_name = camera.config().name;
    auto open = open_events_.find(job.token);
    const bool first_report = open == open_events_.end();
    if (first_report) store_->record_event(camera_name, json(source.event));
    if (!job.alertable) return;
    // The event's last report closes it here, whatever happens below.
    struct CloseEvent {
        std::map<uint64_t, std::string>& open;
        uint64_t token;
        bool close;
        ~CloseEvent() {
            if (close) open.erase(token);
        }
    } close_event{open_events_, job.token, !job.partial};

    // A periodic scene check asks the VLM what no rule can see; without its
    // answer there is nothing to report (the event itself is recorded). A
    // scene *change* still alerts from the rules: the camera may have been
    // moved or covered.
    if ((!job.report || job.report->source != "vlm") && first_report && !job.partial &&
        source.event.type == "scene_change" && source.event.metrics.value("reason", "") == "periodic") {
        std::lock_guard lock(stats_mutex_);
        ++summary_.scene_checks_without_vlm;
        return;
    }
    if (!job.report) {
        job.report = rules.from_rules(source.event, contexts_[source.camera], source.frames, job.rules_reason);
        job.report->complete = !job.partial;  // send: on_event: the VLM's report is still to come
    }
    const contextualize::ContextReport& report = *job.report;
    json models = {{"detector", camera.detector_name()}, {"tracker", camera.tracker_name()}};
    if (!report.vlm_model.empty()) models["vlm"] = report.vlm_model;
    else if (engine_) models["vlm"] = engine_->name();

    alert::ReportInfo info;
    info.event_token = job.token;
    info.partial = job.partial;
    info.since_detection_ms = ms_between(source.detected_at, Clock::now());
    info.queue_wait_ms = job.queue_wait_ms;
    std::optional<alert::AlertDecision> decision;
    const bool completes = !first_report && !open->second.empty();
    if (completes) {
        decision = builder_->on_report(open->second, source.event, report, models, info);
    } else {
        decision = builder_->on_event(camera_name, contexts_[source.camera], source.event, report,
                                      source.wall_time_s, models, info);
    }
    if (job.partial) open_events_[job.token] = decision ? decision->alert.at("id").get<std::string>() : "";
    if (!decision) {
        std::lock_guard lock(stats_mutex_);
        summary_.alerts_suppressed = builder_->suppressed();
        return;
    }
    json& alert = decision->alert;
    const std::string id = alert.at("id").get<std::string>();
    if (!decision->is_update) {
        alert["evidence"]["images"] = write_evidence(alert["evidence"]["images"], id, report);
        builder_->set_evidence_images(id, alert["evidence"]["images"]);
    }

    const auto violations = alert::validate_alert(alert);
    if (!violations.empty()) {
        spdlog::error("camera \"{}\": alert {} does not match the alert schema: {}", camera_name, id,
                      violations.front());
        std::lock_guard lock(stats_mutex_);
        ++summary_.invalid_alerts;
    }
    store_->save_alert(alert, decision->status, decision->deliver ? sink_names_ : std::vector<std::string>{});
    {
        std::lock_guard lock(stats_mutex_);
        if (!job.partial && report.source == "rules") ++summary_.rules_reports;
        if (completes) ++summary_.reports_completed;
        else if (decision->is_update) ++summary_.alerts_updated;
        // The counters follow each alert's current status.
        if (decision->previous_status != decision->status) {
            if (decision->previous_status == "sent") --summary_.alerts_sent;
            if (decision->previous_status == "dismissed") --summary_.alerts_dismissed;
            if (decision->status == "sent") ++summary_.alerts_sent;
            else ++summary_.alerts_dismissed;
            if (decision->previous_status == "sent") ++summary_.alerts_retracted;
        }
        if (!decision->is_update) ++camera_alerts_[source.camera];
        summary_.alerts_suppressed = builder_->suppressed();
    }
    if (decision->deliver) delivery_->notify();
}

void Runner::alert_worker() {
    contextualize::Contextualizer rules(context_options_, nullptr);
    while (auto job = alert_queue_.pop()) {
        try {
            handle(*job, rules);
        } catch (const std::exception& e) {
            spdlog::error("camera \"{}\": event {} ({}) could not become an alert: {}",
                          cameras_[job->source->camera]->config().name, job->source->event.rule,
                          job->source->event.type, e.what());
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
    if (engine_) line += fmt::format(" | VLM awaiting verdict {}/{}, shed {}", undecided_.load(), verdict_cap_,
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
            {"reports_completed", summary.reports_completed},
            {"alerts_retracted", summary.alerts_retracted},
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
