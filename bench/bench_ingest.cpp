// Ingest decode throughput per shared video, beside a bare FFmpeg loop
// (libavformat + libavcodec, no BGR conversion, same threading) timed in the
// same iterations, interleaved so machine load hits both alike. ratio =
// ingest_fps / bare_fps: what timestamps, sampling bookkeeping and the
// conversion to BGR cost. Videos: $VIGIL_SHARED_DIR/media/videos, else
// ../shared next to the source tree.
#include "ingest/ingest_source.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

fs::path videos_dir() {
    const char* shared = std::getenv("VIGIL_SHARED_DIR");
    const fs::path root =
        shared && *shared ? fs::path(shared) : fs::path(__FILE__).parent_path().parent_path().parent_path() / "shared";
    return root / "media" / "videos";
}

// Frames decoded by the plainest loop FFmpeg allows.
int64_t bare_decode(const std::string& path) {
    AVFormatContext* format = nullptr;
    if (avformat_open_input(&format, path.c_str(), nullptr, nullptr) < 0)
        throw std::runtime_error("cannot open " + path);
    avformat_find_stream_info(format, nullptr);
    const AVCodec* decoder = nullptr;
    const int stream = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0);
    AVCodecContext* codec = avcodec_alloc_context3(decoder);
    avcodec_parameters_to_context(codec, format->streams[stream]->codecpar);
    codec->thread_count = 0;
    avcodec_open2(codec, decoder, nullptr);
    AVPacket* packet = av_packet_alloc();
    AVFrame* frame = av_frame_alloc();
    int64_t frames = 0;
    auto drain = [&] {
        while (avcodec_receive_frame(codec, frame) == 0) {
            ++frames;
            av_frame_unref(frame);
        }
    };
    while (av_read_frame(format, packet) >= 0) {
        if (packet->stream_index == stream) {
            avcodec_send_packet(codec, packet);
            drain();
        }
        av_packet_unref(packet);
    }
    avcodec_send_packet(codec, nullptr);
    drain();
    av_frame_free(&frame);
    av_packet_free(&packet);
    avcodec_free_context(&codec);
    avformat_close_input(&format);
    return frames;
}

int64_t ingest_decode(const std::string& path) {
    vigil::ingest::SourceConfig config;
    config.url = path;
    auto source = vigil::ingest::open_source(config);
    int64_t frames = 0;
    while (auto frame = source->read()) {
        benchmark::DoNotOptimize(frame->bgr.data);
        ++frames;
    }
    return frames;
}

void BM_IngestDecode(benchmark::State& state, const std::string& path) {
    double ingest_s = 0, bare_s = 0;
    int64_t ingest_frames = 0, bare_frames = 0;
    for (auto _ : state) {
        auto start = Clock::now();
        ingest_frames = ingest_decode(path);
        const double this_ingest_s = std::chrono::duration<double>(Clock::now() - start).count();
        start = Clock::now();
        bare_frames = bare_decode(path);
        const double this_bare_s = std::chrono::duration<double>(Clock::now() - start).count();
        state.SetIterationTime(this_ingest_s);
        ingest_s += this_ingest_s;
        bare_s += this_bare_s;
    }
    const double iterations = double(state.iterations());
    const double ingest_fps = double(ingest_frames) * iterations / ingest_s;
    const double bare_fps = double(bare_frames) * iterations / bare_s;
    state.counters["frames"] = double(ingest_frames);
    state.counters["ingest_fps"] = ingest_fps;
    state.counters["bare_fps"] = bare_fps;
    state.counters["ratio"] = ingest_fps / bare_fps;
    state.SetItemsProcessed(state.iterations() * ingest_frames);
}

}  // namespace

int main(int argc, char** argv) {
    const fs::path dir = videos_dir();
    std::vector<fs::path> videos;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        const std::string ext = entry.path().extension().string();
        if (ext == ".mp4" || ext == ".avi" || ext == ".mkv" || ext == ".mov") videos.push_back(entry.path());
    }
    if (videos.empty()) {
        std::cerr << "bench_ingest: no videos in " << dir << " (set VIGIL_SHARED_DIR to the shared data folder)\n";
        return 1;
    }
    std::sort(videos.begin(), videos.end());
    for (const auto& video : videos)
        benchmark::RegisterBenchmark(("BM_IngestDecode/" + video.filename().string()).c_str(), BM_IngestDecode,
                                     video.string())
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond)
            ->Iterations(3);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
