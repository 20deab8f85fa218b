#include "core/text.h"

namespace vigil {

std::string truncate_utf8(const std::string& text, size_t max_chars) {
    size_t chars = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {  // not a continuation byte
            if (chars == max_chars) return text.substr(0, i);
            ++chars;
        }
    }
    return text;
}

}  // namespace vigil
