#include "models/model_hash.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>
#include <vector>

#include "core/error.h"
#include "core/paths.h"

namespace vigil::models {

namespace {

using nlohmann::json;

struct DigestContextFree {
    void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};
using DigestContext = std::unique_ptr<EVP_MD_CTX, DigestContextFree>;

DigestContext new_sha256_context() {
    DigestContext context(EVP_MD_CTX_new());
    if (!context || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1)
        throw Error("OpenSSL: cannot initialise SHA-256");
    return context;
}

std::string finish_hex(EVP_MD_CTX* context) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(context, digest.data(), &length) != 1) throw Error("OpenSSL: SHA-256 failed");
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < length; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 0xf];
    }
    return out;
}

json read_memo(const std::filesystem::path& file) {
    std::ifstream in(file);
    if (!in) return json::object();
    try {
        auto document = json::parse(in);
        return document.is_object() ? document : json::object();
    } catch (const json::exception&) {
        return json::object();  // a damaged memo is only a lost shortcut
    }
}

struct FileStamp {
    uint64_t size = 0;
    int64_t mtime = 0;
};

std::optional<FileStamp> stamp_of(const std::filesystem::path& path) {
    std::error_code ec;
    auto size = std::filesystem::file_size(path, ec);
    if (ec) return std::nullopt;
    auto mtime = std::filesystem::last_write_time(path, ec);
    if (ec) return std::nullopt;
    return FileStamp{size, static_cast<int64_t>(mtime.time_since_epoch().count())};
}

std::string memo_key(const std::filesystem::path& path) {
    std::error_code ec;
    auto absolute = std::filesystem::weakly_canonical(path, ec);
    return (ec ? std::filesystem::absolute(path) : absolute).string();
}

}  // namespace

std::string sha256_file(const std::filesystem::path& path) {
    std::unique_ptr<FILE, int (*)(FILE*)> in(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!in) throw Error("cannot read " + path.string() + " to compute its sha256");
    auto context = new_sha256_context();
    std::vector<char> buffer(1 << 20);
    size_t n = 0;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), in.get())) > 0) {
        if (EVP_DigestUpdate(context.get(), buffer.data(), n) != 1) throw Error("OpenSSL: SHA-256 update failed");
    }
    if (std::ferror(in.get())) throw Error("read error in " + path.string() + " while computing its sha256");
    return finish_hex(context.get());
}

std::string sha256_bytes(const std::string& bytes) {
    auto context = new_sha256_context();
    if (EVP_DigestUpdate(context.get(), bytes.data(), bytes.size()) != 1) throw Error("OpenSSL: SHA-256 update failed");
    return finish_hex(context.get());
}

HashMemo::HashMemo(std::filesystem::path file) : file_(std::move(file)) {}

std::filesystem::path HashMemo::default_file() { return cache_dir() / "model-hashes.json"; }

std::optional<std::string> HashMemo::lookup(const std::filesystem::path& path) const {
    auto stamp = stamp_of(path);
    if (!stamp) return std::nullopt;
    auto memo = read_memo(file_);
    auto it = memo.find(memo_key(path));
    if (it == memo.end() || !it->is_object()) return std::nullopt;
    if (it->value("size", uint64_t{0}) != stamp->size || it->value("mtime", int64_t{0}) != stamp->mtime)
        return std::nullopt;
    auto sha = it->value("sha256", std::string());
    if (sha.empty()) return std::nullopt;
    return sha;
}

void HashMemo::remember(const std::filesystem::path& path, const std::string& sha256) {
    auto stamp = stamp_of(path);
    if (!stamp) return;
    auto memo = read_memo(file_);
    memo[memo_key(path)] = {{"size", stamp->size}, {"mtime", stamp->mtime}, {"sha256", sha256}};
    // Write-then-rename so a concurrent reader never sees half a memo.
    std::error_code ec;
    std::filesystem::create_directories(file_.parent_path(), ec);
    auto temp = file_;
    temp += ".tmp" + std::to_string(::getpid());
    {
        std::ofstream out(temp, std::ios::trunc);
        if (!out) return;
        out << memo.dump(1) << "\n";
        if (!out) {
            std::filesystem::remove(temp, ec);
            return;
        }
    }
    std::filesystem::rename(temp, file_, ec);
    if (ec) std::filesystem::remove(temp, ec);
}

std::string HashMemo::hash(const std::filesystem::path& path) {
    if (auto known = lookup(path)) return *known;
    auto sha = sha256_file(path);
    remember(path, sha);
    return sha;
}

}  // namespace vigil::models
