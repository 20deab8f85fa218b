// Faster kernels must not change what the model computes. The CPU backend
// ggml picked for this machine (AVX-512 VNNI/BF16 on Zen 4 and recent Xeons,
// AMX on Sapphire Rapids and later, whose vision weights then sit in AMX
// buffers through Vigil's libmtmd patch) is compared with the portable
// x86-64 backend on the same q8_0 model: image embeddings and next-token
// logits agree within a stated tolerance. The portable run is a child
// process (VIGIL_GGML_CPU_VARIANT=x64): one process holds one CPU backend.
#include <gtest/gtest.h>
#include <llama.h>
#include <mtmd-helper.h>
#include <mtmd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "models/model_synth.h"
#include "testing/test_support.h"
#include "vlm/vlm_llama_runtime.h"

namespace vigil::vlm {
namespace {

namespace fs = std::filesystem;
using vigil::testing::TempDir;

// Relative tolerances (L2 norm of the difference over the L2 norm of the
// portable result). Both runs quantize activations to 8 bits the same way;
// what differs is accumulation order and float16/bfloat16 rounding inside the
// kernels, a fraction of a percent on this model.
constexpr double kEmbeddingTolerance = 0.02;
constexpr double kLogitTolerance = 0.02;

struct Outputs {
    std::vector<float> embeddings;  // the image's tokens, n_tokens x n_embd
    std::vector<float> logits;      // after the whole prompt
    std::string backend;
};

cv::Mat test_picture() {
    cv::Mat rgb(384, 512, CV_8UC3);
    for (int y = 0; y < rgb.rows; ++y)
        for (int x = 0; x < rgb.cols; ++x)
            rgb.at<cv::Vec3b>(y, x) = cv::Vec3b(uint8_t(x / 2), uint8_t(y * 255 / rgb.rows), uint8_t((x * y) % 251));
    cv::circle(rgb, {256, 192}, 90, {255, 255, 255}, -1);
    return rgb;
}

Outputs run_model(const fs::path& text_model, const fs::path& mmproj) {
    init_llama();
    Outputs out;
    out.backend = cpu_backend_info().library;
    std::unique_ptr<llama_model, void (*)(llama_model*)> model(
        llama_model_load_from_file(text_model.c_str(), llama_model_default_params()), &llama_model_free);
    if (!model) throw std::runtime_error("cannot load " + text_model.string());
    llama_context_params ctx_params = llama_context_default_params();
    ctx_params.n_ctx = 1024;
    ctx_params.n_batch = 1024;
    ctx_params.n_threads = 2;
    ctx_params.n_threads_batch = 2;
    std::unique_ptr<llama_context, void (*)(llama_context*)> ctx(llama_init_from_model(model.get(), ctx_params),
                                                                 &llama_free);
    mtmd_context_params mtmd_params = mtmd_context_params_default();
    mtmd_params.use_gpu = false;
    mtmd_params.print_timings = false;
    mtmd_params.n_threads = 2;
    mtmd_params.warmup = false;
    std::unique_ptr<mtmd_context, void (*)(mtmd_context*)> mtmd(
        mtmd_init_from_file(mmproj.c_str(), model.get(), mtmd_params), &mtmd_free);
    if (!ctx || !mtmd) throw std::runtime_error("cannot create the llama.cpp or libmtmd context");

    const cv::Mat rgb = test_picture();
    std::unique_ptr<mtmd_bitmap, void (*)(mtmd_bitmap*)> bitmap(
        mtmd_bitmap_init(uint32_t(rgb.cols), uint32_t(rgb.rows), rgb.data), &mtmd_bitmap_free);
    const std::string prompt = std::string("<|im_start|>User:") + mtmd_default_marker() + "Describe the road.";
    mtmd_input_text text{prompt.c_str(), prompt.size(), true, true};
    std::unique_ptr<mtmd_input_chunks, void (*)(mtmd_input_chunks*)> chunks(mtmd_input_chunks_init(),
                                                                            &mtmd_input_chunks_free);
    const mtmd_bitmap* raw = bitmap.get();
    if (mtmd_tokenize(mtmd.get(), chunks.get(), &text, &raw, 1) != 0) throw std::runtime_error("tokenize failed");
    for (size_t i = 0; i < mtmd_input_chunks_size(chunks.get()); ++i) {
        const mtmd_input_chunk* chunk = mtmd_input_chunks_get(chunks.get(), i);
        if (mtmd_input_chunk_get_type(chunk) != MTMD_INPUT_CHUNK_TYPE_IMAGE) continue;
        if (mtmd_encode_chunk(mtmd.get(), chunk) != 0) throw std::runtime_error("encode failed");
        const size_t n = mtmd_input_chunk_get_n_tokens(chunk) * size_t(llama_model_n_embd_inp(model.get()));
        const float* embd = mtmd_get_output_embd(mtmd.get());
        out.embeddings.insert(out.embeddings.end(), embd, embd + n);
    }
    llama_pos n_past = 0;
    if (mtmd_helper_eval_chunks(mtmd.get(), ctx.get(), chunks.get(), 0, 0, 1024, true, &n_past) != 0)
        throw std::runtime_error("prompt evaluation failed");
    const float* logits = llama_get_logits_ith(ctx.get(), -1);
    out.logits.assign(logits, logits + llama_vocab_n_tokens(llama_model_get_vocab(model.get())));
    return out;
}

void write_floats(std::ofstream& file, const std::vector<float>& values) {
    const uint64_t n = values.size();
    file.write(reinterpret_cast<const char*>(&n), sizeof n);
    file.write(reinterpret_cast<const char*>(values.data()), std::streamsize(n * sizeof(float)));
}

std::vector<float> read_floats(std::ifstream& file) {
    uint64_t n = 0;
    file.read(reinterpret_cast<char*>(&n), sizeof n);
    std::vector<float> values(n);
    file.read(reinterpret_cast<char*>(values.data()), std::streamsize(n * sizeof(float)));
    return values;
}

double relative_error(const std::vector<float>& got, const std::vector<float>& reference) {
    double diff = 0, norm = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        diff += (double(got[i]) - reference[i]) * (double(got[i]) - reference[i]);
        norm += double(reference[i]) * reference[i];
    }
    return norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

// Runs in the child process only: writes the outputs of the portable backend.
TEST(KernelParity, WritesOutputsForTheParent) {
    const char* dump = std::getenv("VIGIL_KERNEL_DUMP");
    if (dump == nullptr) GTEST_SKIP() << "runs as the child of KernelParity.OptimizedKernelsMatchPortableOnes";
    const Outputs out = run_model(std::getenv("VIGIL_KERNEL_TEXT"), std::getenv("VIGIL_KERNEL_MMPROJ"));
    std::ofstream file(dump, std::ios::binary);
    const uint64_t name_size = out.backend.size();
    file.write(reinterpret_cast<const char*>(&name_size), sizeof name_size);
    file.write(out.backend.data(), std::streamsize(name_size));
    write_floats(file, out.embeddings);
    write_floats(file, out.logits);
    ASSERT_TRUE(file.good());
}

TEST(KernelParity, OptimizedKernelsMatchPortableOnes) {
    if (std::getenv("VIGIL_KERNEL_DUMP") != nullptr) GTEST_SKIP() << "this is the child";
    TempDir dir;
    const auto pair = models::synth_vlm("tiny", dir / "q8", 3, models::SynthWeights::q8_0);
    const Outputs best = run_model(pair.text_model, pair.mmproj);
    ASSERT_FALSE(best.embeddings.empty());

    const fs::path dump = dir / "portable.bin";
    const std::string command = "VIGIL_GGML_CPU_VARIANT=x64 VIGIL_KERNEL_DUMP=" + dump.string() +
                                " VIGIL_KERNEL_TEXT=" + pair.text_model.string() +
                                " VIGIL_KERNEL_MMPROJ=" + pair.mmproj.string() + " /proc/" + std::to_string(getpid()) +
                                "/exe" + " --gtest_filter=KernelParity.WritesOutputsForTheParent 2>&1";
    const auto child = testing::run_command(command);
    ASSERT_EQ(child.exit_code, 0) << child.output;
    std::ifstream file(dump, std::ios::binary);
    ASSERT_TRUE(file) << "the child wrote nothing: " << child.output;
    uint64_t name_size = 0;
    file.read(reinterpret_cast<char*>(&name_size), sizeof name_size);
    std::string portable_backend(name_size, '\0');
    file.read(portable_backend.data(), std::streamsize(name_size));
    const std::vector<float> embeddings = read_floats(file);
    const std::vector<float> logits = read_floats(file);
    EXPECT_EQ(portable_backend, "libggml-cpu-x64.so");
    ASSERT_EQ(embeddings.size(), best.embeddings.size());
    ASSERT_EQ(logits.size(), best.logits.size());

    const double embedding_error = relative_error(best.embeddings, embeddings);
    const double logit_error = relative_error(best.logits, logits);
    RecordProperty("backend", best.backend);
    std::printf("%s vs libggml-cpu-x64.so: image embeddings %.2e, logits %.2e relative error\n", best.backend.c_str(),
                embedding_error, logit_error);
    EXPECT_LE(embedding_error, kEmbeddingTolerance) << best.backend;
    EXPECT_LE(logit_error, kLogitTolerance) << best.backend;
}

// Vigil's libmtmd patch moves vision weights into the CPU backend's extra
// buffer types; MTMD_NO_EXTRA_BUFTS=1 keeps them in plain memory. Both give
// the same embeddings within tolerance (identical where the CPU has no extra
// buffer type for these weights).
TEST(KernelParity, VisionWeightsInExtraBuffersMatchPlainOnes) {
    if (std::getenv("VIGIL_KERNEL_DUMP") != nullptr) GTEST_SKIP() << "this is the child";
    TempDir dir;
    const auto pair = models::synth_vlm("tiny", dir / "q8", 3, models::SynthWeights::q8_0);
    const Outputs extra = run_model(pair.text_model, pair.mmproj);
    setenv("MTMD_NO_EXTRA_BUFTS", "1", 1);
    const Outputs plain = run_model(pair.text_model, pair.mmproj);
    unsetenv("MTMD_NO_EXTRA_BUFTS");
    ASSERT_EQ(extra.embeddings.size(), plain.embeddings.size());
    EXPECT_LE(relative_error(extra.embeddings, plain.embeddings), kEmbeddingTolerance);
}

}  // namespace
}  // namespace vigil::vlm
