#include "detect/detect_onnx_probe.h"

#include <fstream>
#include <iterator>
#include <optional>
#include <string_view>

#include "core/error.h"

namespace vigil::detect {

namespace {

// A length-delimited protobuf message as a byte range, read field by field.
class ProtoReader {
public:
    explicit ProtoReader(std::string_view bytes) : p_(bytes.data()), end_(bytes.data() + bytes.size()) {}

    struct Field {
        uint32_t number = 0;
        uint32_t wire_type = 0;
        uint64_t varint = 0;
        std::string_view bytes;  // wire type 2
    };

    // False at the end; throws on malformed input.
    bool next(Field& f) {
        if (p_ == end_) return false;
        const uint64_t key = read_varint();
        f.number = static_cast<uint32_t>(key >> 3);
        f.wire_type = static_cast<uint32_t>(key & 7);
        if (f.number == 0) throw std::runtime_error("field number 0");
        switch (f.wire_type) {
            case 0: f.varint = read_varint(); break;
            case 1: skip(8); break;
            case 5: skip(4); break;
            case 2: {
                const uint64_t len = read_varint();
                if (len > static_cast<uint64_t>(end_ - p_)) throw std::runtime_error("length past end");
                f.bytes = std::string_view(p_, len);
                p_ += len;
                break;
            }
            default: throw std::runtime_error("unsupported wire type");
        }
        return true;
    }

private:
    uint64_t read_varint() {
        uint64_t value = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (p_ == end_) throw std::runtime_error("truncated varint");
            const auto byte = static_cast<uint8_t>(*p_++);
            value |= static_cast<uint64_t>(byte & 0x7f) << shift;
            if (!(byte & 0x80)) return value;
        }
        throw std::runtime_error("varint too long");
    }
    void skip(size_t n) {
        if (n > static_cast<size_t>(end_ - p_)) throw std::runtime_error("fixed field past end");
        p_ += n;
    }

    const char* p_;
    const char* end_;
};

// Field numbers from onnx.proto: ModelProto.graph = 7, GraphProto.input = 11,
// ValueInfoProto.type = 2, TypeProto.tensor_type = 1, Tensor.shape = 2,
// TensorShapeProto.dim = 1, Dimension.dim_value = 1.
std::string_view sub_message(std::string_view msg, uint32_t number) {
    ProtoReader r(msg);
    ProtoReader::Field f;
    while (r.next(f)) {
        if (f.number == number && f.wire_type == 2) return f.bytes;
    }
    return {};
}

std::vector<int64_t> value_info_dims(std::string_view value_info) {
    std::string_view shape = sub_message(sub_message(sub_message(value_info, 2), 1), 2);
    std::vector<int64_t> dims;
    ProtoReader r(shape);
    ProtoReader::Field f;
    while (r.next(f)) {
        if (f.number != 1 || f.wire_type != 2) continue;
        int64_t value = -1;
        ProtoReader d(f.bytes);
        ProtoReader::Field df;
        while (d.next(df)) {
            if (df.number == 1 && df.wire_type == 0) value = static_cast<int64_t>(df.varint);
        }
        dims.push_back(value);
    }
    return dims;
}

}  // namespace

std::vector<int64_t> onnx_input_shape(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error("cannot read model file " + path.string());
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string not_onnx = "not an ONNX model: " + path.string();
    try {
        std::string_view graph;
        bool has_ir_version = false;
        ProtoReader r(bytes);
        ProtoReader::Field f;
        while (r.next(f)) {
            if (f.number == 1 && f.wire_type == 0) has_ir_version = true;
            if (f.number == 7 && f.wire_type == 2) graph = f.bytes;
        }
        if (!has_ir_version || graph.empty()) throw Error(not_onnx + " (no ir_version or graph)");
        ProtoReader g(graph);
        while (g.next(f)) {
            if (f.number != 11 || f.wire_type != 2) continue;
            auto dims = value_info_dims(f.bytes);
            if (dims.size() == 4) return dims;
        }
        throw Error(not_onnx + " (no 4-D image input in its graph)");
    } catch (const std::runtime_error& e) {
        if (dynamic_cast<const Error*>(&e)) throw;
        throw Error(not_onnx + " (" + e.what() + ")");
    }
}

}  // namespace vigil::detect
