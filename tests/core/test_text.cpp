#include <gtest/gtest.h>

#include "core/text.h"

namespace vigil {
namespace {

TEST(Text, TruncateKeepsWholeCharacters) {
    EXPECT_EQ(truncate_utf8("héllo", 2), "hé");
    EXPECT_EQ(truncate_utf8("héllo", 10), "héllo");
    EXPECT_EQ(truncate_utf8("€€", 1), "€");
}

TEST(Text, SanitizeKeepsValidUtf8AndReplacesIllFormedBytes) {
    const std::string fffd = "\xEF\xBF\xBD";
    EXPECT_EQ(sanitize_utf8("plain ascii"), "plain ascii");
    EXPECT_EQ(sanitize_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
    EXPECT_EQ(sanitize_utf8("cut \xE2\x82"), "cut " + fffd + fffd);           // character cut at the end
    EXPECT_EQ(sanitize_utf8("a\x80z"), "a" + fffd + "z");                     // stray continuation byte
    EXPECT_EQ(sanitize_utf8("\xC0\xAF"), fffd + fffd);                        // overlong '/'
    EXPECT_EQ(sanitize_utf8("\xED\xA0\x80"), fffd + fffd + fffd);             // UTF-16 surrogate
    EXPECT_EQ(sanitize_utf8("\xF4\x90\x80\x80"), fffd + fffd + fffd + fffd);  // past U+10FFFF
}

}  // namespace
}  // namespace vigil
