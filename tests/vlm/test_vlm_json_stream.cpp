// JsonMemberStream: top-level members of a JSON object reported as soon as
// they are complete, however the text is cut into pieces.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vlm/vlm_json_stream.h"

namespace vigil::vlm {
namespace {

using nlohmann::json;

// Feeds `text` in pieces of `size` bytes; returns after which byte (index of
// the last byte fed) each member completed.
std::vector<std::pair<std::string, size_t>> completion_points(const std::string& text, size_t size,
                                                              JsonMemberStream& stream) {
    std::vector<std::pair<std::string, size_t>> out;
    for (size_t at = 0; at < text.size(); at += size) {
        for (const auto& [key, value] : stream.feed(std::string_view(text).substr(at, size))) {
            out.emplace_back(key, std::min(text.size(), at + size) - 1);
        }
    }
    return out;
}

TEST(JsonMemberStream, EveryValueKindCompletesAsItsLastByteArrives) {
    const std::string text =
        R"({"verdict": "confirmed", "severity":"high","n":12.5,"ok":true,"list":[1,{"a":"]"}],"obj":{"x":[2]},"z":null})";
    for (size_t size : {1u, 3u, 7u, 1000u}) {
        JsonMemberStream stream;
        const auto points = completion_points(text, size, stream);
        ASSERT_EQ(points.size(), 7u) << "piece size " << size;
        EXPECT_EQ(stream.members(), json::parse(text)) << "piece size " << size;
        if (size == 1) {
            // A string ends at its closing quote, before any comma.
            EXPECT_EQ(points[0], std::make_pair(std::string("verdict"), text.find("\"confirmed\"") + 10));
            EXPECT_EQ(points[1].first, "severity");
            EXPECT_EQ(points[1].second, text.find("\"high\"") + 5);
            // A number is known only at the delimiter after it.
            EXPECT_EQ(points[2].second, text.find(",\"ok\""));
            // Brackets inside strings do not count.
            EXPECT_EQ(points[4].second, text.find(",\"obj\"") - 1);
        }
    }
}

TEST(JsonMemberStream, EscapedQuotesAndUnicodeStayInsideTheString) {
    JsonMemberStream stream;
    const std::string text = R"({"title":"a \"quoted\" word \\","summary":"caf\u00e9 ok"})";
    const auto points = completion_points(text, 2, stream);
    ASSERT_EQ(points.size(), 2u);
    EXPECT_EQ(stream.members()["title"], "a \"quoted\" word \\");
    EXPECT_EQ(stream.members()["summary"], "caf\xC3\xA9 ok");
}

TEST(JsonMemberStream, AnUnfinishedValueIsNotReported) {
    JsonMemberStream stream;
    EXPECT_EQ(stream.feed(R"({"verdict":"confirmed","severity":"hi)").size(), 1u);
    EXPECT_FALSE(stream.members().contains("severity"));
    EXPECT_EQ(stream.feed(R"(gh", "confidence": 0.)").size(), 1u);
    EXPECT_FALSE(stream.members().contains("confidence"));
    EXPECT_EQ(stream.feed("5}").size(), 1u);
    EXPECT_EQ(stream.members()["confidence"], 0.5);
}

TEST(JsonMemberStream, TextThatIsNotAnObjectCompletesNothing) {
    for (const std::string text : {"[1, 2]", "hello {\"a\": 1}", "{\"a\" 1}", "{\"a\": tru e}", "{1: 2}"}) {
        JsonMemberStream stream;
        EXPECT_TRUE(stream.feed(text).empty()) << text;
        EXPECT_TRUE(stream.members().empty()) << text;
    }
}

TEST(JsonMemberStream, TextAfterTheClosingBraceIsIgnored) {
    JsonMemberStream stream;
    EXPECT_EQ(stream.feed(R"({"a":1} {"b":2})").size(), 1u);
    EXPECT_FALSE(stream.members().contains("b"));
}

}  // namespace
}  // namespace vigil::vlm
