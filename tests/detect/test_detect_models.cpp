// Every named detector on a real photo (shared/media/images/bus.jpg, 810x1080:
// a city bus filling the width, three people standing in front of it and one
// cut off at the left edge), and ONNX Runtime vs OpenCV DNN on the same model.
#include <gtest/gtest.h>

#include <algorithm>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "detect/detect_nms.h"
#include "detect/detect_runtime.h"
#include "detect/detector.h"
#include "testing/test_support.h"

namespace vigil::detect {
namespace {

using vigil::testing::shared_path;

// Reference boxes drawn once by eye on bus.jpg (x1, y1, x2, y2 in pixels) and
// checked against all four models' outputs, which agree with them to IoU > 0.8.
const cv::Rect2f kBus(cv::Point2f(15, 230), cv::Point2f(805, 760));
const std::vector<cv::Rect2f> kPersons = {
    cv::Rect2f(cv::Point2f(50, 390), cv::Point2f(220, 900)),   // left, dark suit
    cv::Rect2f(cv::Point2f(220, 405), cv::Point2f(345, 860)),  // centre-left
    cv::Rect2f(cv::Point2f(680, 370), cv::Point2f(810, 880)),  // right edge
};

cv::Mat bus_image() {
    static const cv::Mat image = cv::imread(shared_path("media/images/bus.jpg").string());
    return image;
}

DetectorConfig config_for(const std::string& name, const std::string& backend) {
    DetectorConfig config;
    config.name = name;
    config.backend = backend;
    config.models_dir = shared_path("models").string();
    return config;
}

struct ModelCase {
    std::string name;
    std::string backend;
    int min_persons;  // of the three reference people; the smallest model finds two
};

void PrintTo(const ModelCase& c, std::ostream* os) { *os << c.name << " on " << c.backend; }

std::string case_name(const ::testing::TestParamInfo<ModelCase>& info) {
    std::string s = info.param.name + "_" + info.param.backend;
    for (auto& c : s) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    }
    return s;
}

class DetectorOnBusImage : public ::testing::TestWithParam<ModelCase> {};

TEST_P(DetectorOnBusImage, FindsTheBusAndThePeople) {
    const auto& c = GetParam();
    if (c.backend == "onnxruntime" && !have_onnxruntime()) GTEST_SKIP() << "built without ONNX Runtime";
    const cv::Mat image = bus_image();
    ASSERT_FALSE(image.empty());
    auto detector = make_detector(config_for(c.name, c.backend));
    EXPECT_EQ(detector->name(), c.name + " (" + c.backend + ")");
    const auto detections = detector->detect(image);

    int buses = 0;
    std::vector<bool> found(kPersons.size(), false);
    for (const auto& d : detections) {
        EXPECT_GE(d.box.x, 0.f);
        EXPECT_GE(d.box.y, 0.f);
        EXPECT_LE(d.box.x + d.box.width, image.cols + 1e-3f);
        EXPECT_LE(d.box.y + d.box.height, image.rows + 1e-3f);
        EXPECT_GE(d.score, 0.25f);
        EXPECT_EQ(d.label, detector->class_names().at(d.class_id));
        if (d.label == "bus") {
            ++buses;
            EXPECT_GT(box_iou(d.box, kBus), 0.7f) << "bus box " << d.box;
        }
        if (d.label == "person") {
            for (size_t i = 0; i < kPersons.size(); ++i) {
                if (box_iou(d.box, kPersons[i]) > 0.5f) found[i] = true;
            }
        }
    }
    EXPECT_EQ(buses, 1);
    EXPECT_GE(std::count(found.begin(), found.end(), true), c.min_persons);
}

INSTANTIATE_TEST_SUITE_P(Models, DetectorOnBusImage,
                         ::testing::Values(ModelCase{"yolox-nano", "onnxruntime", 3},
                                           ModelCase{"yolox-nano", "opencv", 3},
                                           ModelCase{"fastestdet", "onnxruntime", 3},
                                           ModelCase{"fastestdet", "opencv", 3},
                                           ModelCase{"yolo-fastest-1.1", "opencv", 2},
                                           ModelCase{"yolo-fastest-1.1-xl", "opencv", 3}),
                         case_name);

class RuntimesAgree : public ::testing::TestWithParam<std::string> {};

// Same model, same input: the two runtimes must give the same detections
// (boxes within 1e-3 of the frame size, same classes, scores within 1e-3).
TEST_P(RuntimesAgree, OnnxRuntimeAndOpenCvGiveTheSameDetections) {
    if (!have_onnxruntime()) GTEST_SKIP() << "built without ONNX Runtime";
    const cv::Mat image = bus_image();
    auto ort_config = config_for(GetParam(), "onnxruntime");
    auto cv_config = config_for(GetParam(), "opencv");
    ort_config.score_threshold = cv_config.score_threshold = 0.1f;  // more boxes to compare
    const auto a = make_detector(ort_config)->detect(image);
    const auto b = make_detector(cv_config)->detect(image);
    ASSERT_GE(a.size(), 4u);
    ASSERT_EQ(a.size(), b.size());
    const float tol = 1e-3f * static_cast<float>(std::max(image.cols, image.rows));
    for (const auto& da : a) {
        bool matched = false;
        for (const auto& db : b) {
            if (db.class_id == da.class_id && std::abs(db.box.x - da.box.x) <= tol &&
                std::abs(db.box.y - da.box.y) <= tol && std::abs(db.box.width - da.box.width) <= tol &&
                std::abs(db.box.height - da.box.height) <= tol && std::abs(db.score - da.score) <= 1e-3f) {
                matched = true;
            }
        }
        EXPECT_TRUE(matched) << da.label << " " << da.score << " " << da.box << " has no twin in OpenCV DNN";
    }
}

INSTANTIATE_TEST_SUITE_P(OnnxModels, RuntimesAgree, ::testing::Values("yolox-nano", "fastestdet"),
                         [](const auto& p) { return p.param == "yolox-nano" ? "yolox_nano" : "fastestdet"; });

TEST(DetectorAuto, PicksOnnxRuntimeForOnnxAndOpenCvForDarknet) {
    auto onnx = make_detector(config_for("fastestdet", "auto"));
    EXPECT_EQ(onnx->name(), have_onnxruntime() ? "fastestdet (onnxruntime)" : "fastestdet (opencv)");
    EXPECT_EQ(onnx->input_size(), cv::Size(352, 352));
    auto darknet = make_detector(config_for("yolo-fastest-1.1", "auto"));
    EXPECT_EQ(darknet->name(), "yolo-fastest-1.1 (opencv)");
    EXPECT_EQ(darknet->class_names().size(), 80u);
}

TEST(DetectorInput, GreyAndBgraFramesAreAccepted) {
    auto detector = make_detector(config_for("fastestdet", "auto"));
    cv::Mat grey, bgra;
    cv::cvtColor(bus_image(), grey, cv::COLOR_BGR2GRAY);
    cv::cvtColor(bus_image(), bgra, cv::COLOR_BGR2BGRA);
    EXPECT_FALSE(detector->detect(grey).empty());
    EXPECT_EQ(detector->detect(bgra).size(), detector->detect(bus_image()).size());
}

}  // namespace
}  // namespace vigil::detect
