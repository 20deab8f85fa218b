#pragma once
// Shared by every test suite: where ../shared data is, scratch directories,
// running the vigil executable, and the synthetic tiny VLM pair.
#include <filesystem>
#include <string>

namespace vigil::testing {

// $VIGIL_SHARED_DIR, else <source>/../shared.
std::filesystem::path shared_dir();

// Path inside shared_dir(); the calling test FAILS (not skips) with a clear
// message naming the missing path, so missing data never passes silently.
std::filesystem::path shared_path(const std::string& relative);

// A fresh directory under $TMPDIR removed when the object dies.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

struct CommandResult {
    int exit_code = -1;
    std::string output;  // stdout and stderr together
};

// Runs `command` through /bin/sh, capturing output.
CommandResult run_command(const std::string& command);

// Runs build/vigil with the given argument string.
CommandResult run_vigil(const std::string& args);
// The build's vigil executable.
std::filesystem::path vigil_executable();

// A loopback TCP port nothing listens on right now (the kernel's pick for an
// ephemeral bind, released again), and whether something accepts on one.
int free_loopback_port();
bool port_accepts(int port);

// Directory with llama.cpp's llama-server and llama-mtmd-cli.
std::filesystem::path llama_bin_dir();

void write_file(const std::filesystem::path& path, const std::string& content);
std::string read_file(const std::filesystem::path& path);

}  // namespace vigil::testing
