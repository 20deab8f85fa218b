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

// Every split of well-formed text into pieces is accepted; an ill-formed
// piece is refused at the byte that breaks it, and refused pieces leave the
// stream as it was.
TEST(Text, Utf8StreamAcceptsWellFormedPiecesOnly) {
    const std::string text = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80!";
    for (size_t cut = 0; cut <= text.size(); ++cut) {
        Utf8Stream stream;
        EXPECT_TRUE(stream.append(text.substr(0, cut))) << cut;
        EXPECT_TRUE(stream.append(text.substr(cut))) << cut;
        EXPECT_TRUE(stream.complete());
    }
    struct Bad {
        std::string open, piece;
    };
    for (const Bad& bad : {Bad{"", "\x80"}, Bad{"", "\xC0\xAF"}, Bad{"", "\xF5"}, Bad{"\xE2", "A"},
                           Bad{"\xE2\x82", "\xE2"}, Bad{"", "\xED\xA0"}, Bad{"", "\xE0\x80"},
                           Bad{"\xF4", "\x90"}, Bad{"\xF0", "\x8F"}}) {
        Utf8Stream stream;
        ASSERT_TRUE(stream.append(bad.open));
        EXPECT_FALSE(stream.can_append(bad.piece)) << bad.open << bad.piece;
        EXPECT_FALSE(stream.append(bad.piece));
        EXPECT_EQ(stream.complete(), bad.open.empty());
    }
    Utf8Stream open;
    ASSERT_TRUE(open.append("\xE2\x82"));
    EXPECT_FALSE(open.complete());
    EXPECT_TRUE(open.append("\xAC"));
    EXPECT_TRUE(open.complete());
}

}  // namespace
}  // namespace vigil
