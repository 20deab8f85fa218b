// The OpenAI-compatible backend: POST {base}/v1/chat/completions with libcurl.
// Works with llama-server, vLLM, Ollama's /v1 endpoint and OpenAI itself.
//
// Images travel as JPEG data URIs. The image budget is applied here by
// shrinking each image so its longest side is at most 512 px per allowed tile
// (512 for the default single tile); the server's own preprocessing decides
// the rest, since this side cannot see its projector.
#include <curl/curl.h>
#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <opencv2/imgproc.hpp>
#include <thread>

#include "core/error.h"
#include "core/text.h"
#include "core/image_io.h"
#include "vlm/vlm_engine.h"
#include "vlm/vlm_json_schema.h"

namespace vigil::vlm {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kTilePixels = 512;
constexpr int kJpegQuality = 90;

std::string base64(const std::string& bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3), '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(bytes.data()),
                            static_cast<int>(bytes.size()));
    out.resize(static_cast<size_t>(std::max(n, 0)));
    return out;
}

cv::Mat fit_longest_side(const cv::Mat& rgb, int longest) {
    int side = std::max(rgb.cols, rgb.rows);
    if (side <= longest) return rgb;
    double scale = static_cast<double>(longest) / side;
    cv::Mat out;
    cv::resize(rgb, out, cv::Size(std::max(1, static_cast<int>(std::lround(rgb.cols * scale))),
                                  std::max(1, static_cast<int>(std::lround(rgb.rows * scale)))),
               0, 0, cv::INTER_AREA);
    return out;
}

std::string image_data_uri(const VlmImage& image, const ImageBudget& budget) {
    cv::Mat rgb = image.path.empty() ? image.rgb : load_image_rgb(image.path);
    if (rgb.empty() || rgb.type() != CV_8UC3)
        throw Error("VLM request image " + (image.path.empty() ? std::string("(in memory)") : image.path) +
                    " must be a non-empty 8-bit RGB image");
    if (budget.max_tiles < 1) throw Error(fmt::format("image budget max_tiles must be at least 1, got {}", budget.max_tiles));
    rgb = fit_longest_side(rgb, kTilePixels * budget.max_tiles);
    return "data:image/jpeg;base64," + base64(encode_jpeg_rgb(rgb, kJpegQuality));
}

std::string chat_completions_url(std::string base) {
    while (!base.empty() && base.back() == '/') base.pop_back();
    if (base.size() >= 3 && base.compare(base.size() - 3, 3, "/v1") == 0) return base + "/chat/completions";
    return base + "/v1/chat/completions";
}

std::string snippet(const std::string& text, size_t limit = 200) {
    std::string out = text.substr(0, limit);
    std::replace(out.begin(), out.end(), '\n', ' ');
    return text.size() > limit ? out + "..." : out;
}

// The server's own explanation of an HTTP error when it sent the usual
// {"error": {"message": ...}} body; else the start of the body.
std::string server_error_message(const std::string& body) {
    try {
        json parsed = json::parse(body);
        if (parsed.contains("error")) {
            const json& error = parsed["error"];
            if (error.is_object() && error.contains("message") && error["message"].is_string()) return error["message"].get<std::string>();
            if (error.is_string()) return error.get<std::string>();
        }
    } catch (const json::exception&) {
    }
    return snippet(body);
}

struct Transfer {
    const std::atomic<bool>* cancel = nullptr;
    std::string body;
};

size_t write_body(char* data, size_t size, size_t count, void* user) {
    static_cast<Transfer*>(user)->body.append(data, size * count);
    return size * count;
}

int check_cancel(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    const auto* cancel = static_cast<Transfer*>(user)->cancel;
    return cancel && cancel->load() ? 1 : 0;
}

struct CurlDeleter {
    void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct HeaderListDeleter {
    void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

// One HTTP exchange's outcome; `retryable` marks failures worth another try.
struct Attempt {
    enum class Outcome { ok, connect_failed, timed_out, cancelled, http_error } outcome = Outcome::ok;
    long status = 0;
    std::string body;
    std::string error;  // curl's explanation for transport failures
    bool retryable() const {
        return outcome == Outcome::connect_failed || (outcome == Outcome::http_error && (status == 429 || status >= 500));
    }
};

class OpenAiEngine : public VlmEngine {
public:
    explicit OpenAiEngine(OpenAiConfig config) : config_(std::move(config)), url_(chat_completions_url(config_.base_url)) {
        if (config_.base_url.empty()) throw Error("OpenAI-compatible backend needs a base URL such as http://127.0.0.1:8080");
        if (config_.base_url.rfind("http://", 0) != 0 && config_.base_url.rfind("https://", 0) != 0)
            throw Error("VLM server URL \"" + config_.base_url + "\" must start with http:// or https://");
        static std::once_flag curl_initialised;
        std::call_once(curl_initialised, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    }

    std::string name() const override { return "openai:" + (config_.model.empty() ? url_ : config_.model + "@" + url_); }

    VlmResponse generate(const VlmRequest& request) override {
        const auto started = Clock::now();
        if (request.json_schema) check_schema(*request.json_schema);
        const std::string body = request_body(request).dump(-1, ' ', false, json::error_handler_t::replace);

        Attempt attempt;
        for (int retry = 0;; ++retry) {
            throw_if_cancelled(request);
            attempt = post(body, request, started);
            if (attempt.outcome == Attempt::Outcome::ok) break;
            if (attempt.outcome == Attempt::Outcome::cancelled) throw CancelledError("VLM request to " + url_ + " was cancelled");
            if (attempt.outcome == Attempt::Outcome::timed_out)
                throw TimeoutError("VLM server " + url_ + " did not answer in time: " + attempt.error);
            if (!attempt.retryable() || retry >= config_.max_retries || !wait_before_retry(retry, request)) break;
        }
        if (attempt.outcome == Attempt::Outcome::connect_failed)
            throw Error("VLM server " + config_.base_url + " is not reachable: " + attempt.error);
        if (attempt.outcome == Attempt::Outcome::http_error)
            throw Error(fmt::format("VLM server {} answered HTTP {}: {}", url_, attempt.status, server_error_message(attempt.body)));

        VlmResponse response = parse_response(attempt.body, request);
        response.timings.total_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
        return response;
    }

private:
    json request_body(const VlmRequest& request) const {
        json content = json::array();
        if (!request.instructions.empty()) content.push_back({{"type", "text"}, {"text", request.instructions}});
        for (const auto& image : request.images)
            content.push_back({{"type", "image_url"}, {"image_url", {{"url", image_data_uri(image, request.image_budget)}}}});
        content.push_back({{"type", "text"}, {"text", request.prompt}});
        json messages = json::array();
        if (!request.system_prompt.empty()) messages.push_back({{"role", "system"}, {"content", request.system_prompt}});
        messages.push_back({{"role", "user"}, {"content", std::move(content)}});

        json body = {{"messages", std::move(messages)},
                     {"max_tokens", request.max_tokens},
                     {"temperature", request.temperature},
                     {"seed", request.seed},
                     {"stream", false}};
        if (!config_.model.empty()) body["model"] = config_.model;
        if (request.json_schema)
            body["response_format"] = {{"type", "json_schema"},
                                       {"json_schema", {{"name", "vigil"}, {"strict", true}, {"schema", *request.json_schema}}}};
        return body;
    }

    void throw_if_cancelled(const VlmRequest& request) const {
        if (request.cancel && request.cancel->load()) throw CancelledError("VLM request to " + url_ + " was cancelled");
    }

    // Time this attempt may take: the request timeout, cut short by the
    // caller's deadline. Throws TimeoutError once nothing is left.
    std::chrono::milliseconds attempt_budget(const VlmRequest& request, Clock::time_point started) const {
        auto budget = config_.request_timeout - std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
        if (request.deadline)
            budget = std::min(budget, std::chrono::duration_cast<std::chrono::milliseconds>(*request.deadline - Clock::now()));
        if (budget.count() <= 0) throw TimeoutError("VLM request to " + url_ + " ran out of time before the server answered");
        return budget;
    }

    // Sleeps the backoff in short slices so cancellation stays responsive;
    // false when the deadline would pass first (no point retrying then).
    bool wait_before_retry(int retry, const VlmRequest& request) const {
        auto backoff = config_.retry_backoff * (1 << std::min(retry, 16));
        auto until = Clock::now() + backoff;
        if (request.deadline && until >= *request.deadline) return false;
        while (Clock::now() < until) {
            throw_if_cancelled(request);
            std::this_thread::sleep_for(std::min<Clock::duration>(until - Clock::now(), std::chrono::milliseconds(20)));
        }
        return true;
    }

    Attempt post(const std::string& body, const VlmRequest& request, Clock::time_point started) const {
        const auto budget = attempt_budget(request, started);
        std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
        if (!curl) throw Error("cannot initialise libcurl");
        std::unique_ptr<curl_slist, HeaderListDeleter> headers(curl_slist_append(nullptr, "Content-Type: application/json"));
        if (!config_.api_key.empty())
            headers.reset(curl_slist_append(headers.release(), ("Authorization: Bearer " + config_.api_key).c_str()));
        // Large request bodies would otherwise wait a second for "100 Continue".
        headers.reset(curl_slist_append(headers.release(), "Expect:"));

        Transfer transfer;
        transfer.cancel = request.cancel;
        char error_buffer[CURL_ERROR_SIZE] = {};
        CURL* handle = curl.get();
        curl_easy_setopt(handle, CURLOPT_URL, url_.c_str());
        curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.get());
        curl_easy_setopt(handle, CURLOPT_POSTFIELDS, body.c_str());
        curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
        curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, write_body);
        curl_easy_setopt(handle, CURLOPT_WRITEDATA, &transfer);
        curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, check_cancel);
        curl_easy_setopt(handle, CURLOPT_XFERINFODATA, &transfer);
        curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error_buffer);
        curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM: safe in threads
        curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min(config_.connect_timeout, budget).count()));
        curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(budget.count()));

        CURLcode code = curl_easy_perform(handle);
        Attempt attempt;
        attempt.error = error_buffer[0] ? error_buffer : curl_easy_strerror(code);
        if (code == CURLE_ABORTED_BY_CALLBACK) {
            attempt.outcome = Attempt::Outcome::cancelled;
        } else if (code == CURLE_OPERATION_TIMEDOUT) {
            // curl reports both timeouts alike; no connection yet means the
            // server is unreachable rather than slow.
            curl_off_t connected_us = 0;
            curl_easy_getinfo(handle, CURLINFO_CONNECT_TIME_T, &connected_us);
            bool connect_phase = connected_us == 0 && budget > config_.connect_timeout;
            attempt.outcome = connect_phase ? Attempt::Outcome::connect_failed : Attempt::Outcome::timed_out;
        } else if (code != CURLE_OK) {
            attempt.outcome = Attempt::Outcome::connect_failed;
        } else {
            curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &attempt.status);
            attempt.body = std::move(transfer.body);
            attempt.outcome = attempt.status == 200 ? Attempt::Outcome::ok : Attempt::Outcome::http_error;
        }
        return attempt;
    }

    VlmResponse parse_response(const std::string& body, const VlmRequest& request) const {
        json reply;
        try {
            reply = json::parse(body);
        } catch (const json::parse_error&) {
            throw Error("VLM server " + url_ + " sent a reply that is not JSON: " + snippet(body));
        }
        const json* message = nullptr;
        if (reply.contains("choices") && reply["choices"].is_array() && !reply["choices"].empty() &&
            reply["choices"][0].contains("message"))
            message = &reply["choices"][0]["message"];
        if (!message || !message->is_object() || !message->contains("content"))
            throw Error("VLM server " + url_ + " sent a reply without choices[0].message.content: " + snippet(body));

        VlmResponse response;
        const json& content = (*message)["content"];
        if (content.is_string()) response.text = sanitize_utf8(content.get<std::string>());
        else if (!content.is_null())
            throw Error("VLM server " + url_ + " sent message content that is not text: " + snippet(content.dump()));
        response.finish_reason = reply["choices"][0].value("finish_reason", json()).is_string()
                                     ? reply["choices"][0]["finish_reason"].get<std::string>()
                                     : "";
        response.model = reply.value("model", json()).is_string() ? reply["model"].get<std::string>() : config_.model;
        if (auto usage = reply.find("usage"); usage != reply.end() && usage->is_object()) {
            response.timings.prompt_tokens = usage->value("prompt_tokens", 0);
            response.timings.generated_tokens = usage->value("completion_tokens", 0);
        }
        // llama-server adds its own timings; other servers leave these at 0.
        if (auto timings = reply.find("timings"); timings != reply.end() && timings->is_object()) {
            response.timings.prefill_ms = timings->value("prompt_ms", 0.0);
            response.timings.decode_ms = timings->value("predicted_ms", 0.0);
        }
        if (request.on_text && !response.text.empty()) request.on_text(response.text);  // no streaming here
        if (request.json_schema) {
            try {
                response.json = parse_and_validate(*request.json_schema, response.text);
            } catch (const Error& e) {
                throw Error("VLM server " + url_ + " returned unusable output: " + e.what());
            }
        }
        return response;
    }

    OpenAiConfig config_;
    std::string url_;
};

}  // namespace

std::unique_ptr<VlmEngine> make_openai_engine(const OpenAiConfig& config) { return std::make_unique<OpenAiEngine>(config); }

}  // namespace vigil::vlm
