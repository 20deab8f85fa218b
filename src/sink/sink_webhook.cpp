// POST each alert as JSON. The body is signed (X-Vigil-Signature: sha256=<hex
// HMAC-SHA256 with the shared secret>) so a receiver can reject forgeries, and
// carries X-Vigil-Alert-Id so it can dedupe the outbox's at-least-once retries.
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <mutex>

#include "core/error.h"
#include "core/paths.h"
#include "sink/sink_backends.h"

namespace vigil::sink {

namespace {

void init_curl_once() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t append_body(char* data, size_t size, size_t count, void* user) {
    auto* body = static_cast<std::string*>(user);
    // Only the start of a reply goes into an error message.
    if (body->size() < 512) body->append(data, std::min(size * count, 512 - body->size()));
    return size * count;
}

class WebhookSink final : public AlertSink {
public:
    WebhookSink(std::string name, std::string url, std::string secret, long timeout_ms)
        : name_(std::move(name)), url_(std::move(url)), secret_(std::move(secret)), timeout_ms_(timeout_ms) {
        init_curl_once();
    }

    std::string name() const override { return name_; }

    void deliver(const nlohmann::json& alert) override {
        const std::string body = alert.dump();
        const std::string id = alert.value("id", std::string());
        std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
        if (!curl) throw vigil::Error("webhook " + url_ + ": cannot create a curl handle");
        struct curl_slist* headers = nullptr;
        headers = curl_slist_append(headers, "Content-Type: application/json");
        headers = curl_slist_append(headers, ("X-Vigil-Alert-Id: " + id).c_str());
        if (!secret_.empty())
            headers =
                curl_slist_append(headers, ("X-Vigil-Signature: sha256=" + hmac_sha256_hex(secret_, body)).c_str());
        std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_guard(headers, curl_slist_free_all);

        std::string reply;
        char error_buffer[CURL_ERROR_SIZE] = {0};
        curl_easy_setopt(curl.get(), CURLOPT_URL, url_.c_str());
        curl_easy_setopt(curl.get(), CURLOPT_POST, 1L);
        curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, body.data());
        curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
        curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, timeout_ms_);
        curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT_MS, std::min(timeout_ms_, 5000L));
        curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, append_body);
        curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &reply);
        curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, error_buffer);
        CURLcode rc = curl_easy_perform(curl.get());
        if (rc != CURLE_OK) {
            std::string detail = error_buffer[0] ? error_buffer : curl_easy_strerror(rc);
            throw vigil::Error("webhook " + url_ + ": " + detail);
        }
        long status = 0;
        curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
        if (status < 200 || status >= 300)
            throw vigil::Error("webhook " + url_ + " answered HTTP " + std::to_string(status) +
                               (reply.empty() ? "" : ": " + reply));
    }

private:
    std::string name_;
    std::string url_;
    std::string secret_;
    long timeout_ms_;
};

}  // namespace

std::string hmac_sha256_hex(const std::string& key, const std::string& data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
              reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length))
        throw vigil::Error("HMAC-SHA256 failed (OpenSSL)");
    static const char* hex = "0123456789abcdef";
    std::string out;
    out.reserve(length * 2);
    for (unsigned int i = 0; i < length; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 15];
    }
    return out;
}

std::unique_ptr<AlertSink> make_webhook_sink(const nlohmann::json& config) {
    const std::string url = config_required_string(config, "url");
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
        throw vigil::Error("webhook sink: key \"url\" is \"" + url + "\"; expected an http:// or https:// URL");
    // The secret may live in the environment so config files can be shared.
    std::string secret = config_string(config, "secret", "");
    const std::string secret_env = config_string(config, "secret_env", "");
    if (secret.empty() && !secret_env.empty()) {
        secret = vigil::env_or(secret_env.c_str(), "");
        if (secret.empty())
            throw vigil::Error("webhook sink: key \"secret_env\" names $" + secret_env + ", which is not set");
    }
    const double timeout_s = config_number(config, "timeout_s", 10, 0.1, 600);
    return std::make_unique<WebhookSink>(config_sink_name(config, url), url, secret,
                                         static_cast<long>(timeout_s * 1000));
}

}  // namespace vigil::sink
