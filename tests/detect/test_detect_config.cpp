// What DetectorConfig controls (thresholds, class filter, ROI) and the errors
// a person sees for a wrong name, backend, missing or wrong model file.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "core/error.h"
#include "detect/detect_postprocess.h"
#include "detect/detect_runtime.h"
#include "detect/detector.h"
#include "testing/test_support.h"

namespace vigil::detect {
namespace {

namespace fs = std::filesystem;
using vigil::testing::shared_path;
using vigil::testing::TempDir;

cv::Mat bus_image() {
    static const cv::Mat image = cv::imread(shared_path("media/images/bus.jpg").string());
    return image;
}

DetectorConfig yolox_config() {
    DetectorConfig config;
    config.name = "yolox-nano";
    config.models_dir = shared_path("models").string();
    return config;
}

int count_label(const std::vector<Detection>& ds, const std::string& label) {
    return static_cast<int>(std::count_if(ds.begin(), ds.end(), [&](const Detection& d) { return d.label == label; }));
}

std::string error_of(const DetectorConfig& config) {
    try {
        make_detector(config);
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(DetectorConfig, PerClassThresholdOverridesTheDefault) {
    const auto all = make_detector(yolox_config())->detect(bus_image());
    ASSERT_GE(count_label(all, "person"), 3);
    ASSERT_EQ(count_label(all, "bus"), 1);

    auto strict_people = yolox_config();
    strict_people.class_thresholds = {{"person", 0.99f}};
    const auto fewer = make_detector(strict_people)->detect(bus_image());
    EXPECT_EQ(count_label(fewer, "person"), 0);
    EXPECT_EQ(count_label(fewer, "bus"), 1);

    // A lower per-class threshold than the default lets that class through.
    auto lenient = yolox_config();
    lenient.score_threshold = 0.95f;
    lenient.class_thresholds = {{"bus", 0.5f}};
    const auto only_bus = make_detector(lenient)->detect(bus_image());
    EXPECT_EQ(count_label(only_bus, "bus"), 1);
    EXPECT_EQ(count_label(only_bus, "person"), 0);
}

TEST(DetectorConfig, ClassFilterKeepsOnlyNamedClasses) {
    const auto all = make_detector(yolox_config())->detect(bus_image());
    auto people_only = yolox_config();
    people_only.classes = {"person"};
    const auto people = make_detector(people_only)->detect(bus_image());
    EXPECT_EQ(static_cast<int>(people.size()), count_label(all, "person"));
    EXPECT_EQ(count_label(people, "person"), count_label(all, "person"));
}

TEST(DetectorConfig, RoiMaskDropsDetectionsWhoseFeetAreOutside) {
    const cv::Mat image = bus_image();
    const auto all = make_detector(yolox_config())->detect(image);
    auto masked = yolox_config();
    // Only the left 60% counts: the person at the right edge stands outside.
    masked.roi_mask = cv::Mat::zeros(image.size(), CV_8U);
    masked.roi_mask(cv::Rect(0, 0, image.cols * 6 / 10, image.rows)).setTo(255);
    const auto inside = make_detector(masked)->detect(image);
    EXPECT_EQ(inside.size() + 1, all.size());
    for (const auto& d : inside) EXPECT_LT(d.box.x + d.box.width / 2, image.cols * 0.6f);

    masked.roi_mask.setTo(0);
    EXPECT_TRUE(make_detector(masked)->detect(image).empty());

    masked.roi_mask = cv::Mat::ones(100, 100, CV_8U);
    try {
        make_detector(masked)->detect(image);
        ADD_FAILURE() << "a mask of another size was accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("roi_mask is 100x100 but the frame is 810x1080"), std::string::npos)
            << e.what();
    }
}

TEST(PostProcessor, ThresholdsFilterAndNmsOnHandMadeCandidates) {
    DetectorConfig config;
    config.score_threshold = 0.5f;
    config.class_thresholds = {{"b", 0.2f}};
    config.classes = {"a", "b"};
    PostProcessor post(config, {"a", "b", "c"});
    EXPECT_FLOAT_EQ(post.min_threshold(), 0.2f);
    std::vector<Detection> in(5);
    in[0] = {{0, 0, 10, 10}, 0, "", 0.6f};   // a above 0.5: kept
    in[1] = {{1, 1, 10, 10}, 0, "", 0.55f};  // a, overlaps in[0]: suppressed
    in[2] = {{0, 0, 10, 10}, 1, "", 0.3f};   // b above its 0.2: kept despite overlap (other class)
    in[3] = {{50, 50, 10, 10}, 0, "", 0.4f}; // a below 0.5: dropped
    in[4] = {{80, 80, 10, 10}, 2, "", 0.9f}; // c not in classes: dropped
    const auto out = post.finish(in, {200, 200});
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].label, "a");
    EXPECT_EQ(out[1].label, "b");
}

TEST(DetectorErrors, UnknownNameListsTheKnownOnes) {
    auto config = yolox_config();
    config.name = "yolov99";
    const std::string msg = error_of(config);
    EXPECT_NE(msg.find("unknown detector 'yolov99'"), std::string::npos) << msg;
    for (const auto& name : detector_names()) EXPECT_NE(msg.find(name), std::string::npos) << msg;
    EXPECT_EQ(detector_names().size(), 5u);
}

TEST(DetectorErrors, BadSettingsNameTheKey) {
    auto config = yolox_config();
    config.backend = "tensorrt";
    EXPECT_NE(error_of(config).find("backend 'tensorrt' is unknown"), std::string::npos) << error_of(config);
    config = yolox_config();
    config.threads = 0;
    EXPECT_NE(error_of(config).find("threads = 0"), std::string::npos) << error_of(config);
    config = yolox_config();
    config.classes = {"unicorn"};
    EXPECT_NE(error_of(config).find("unknown class 'unicorn'"), std::string::npos) << error_of(config);
    config = yolox_config();
    config.class_thresholds = {{"person", 1.5f}};
    EXPECT_NE(error_of(config).find("class_thresholds.person"), std::string::npos) << error_of(config);
    config = yolox_config();
    config.name = "yolo-fastest-1.1";
    config.backend = "onnxruntime";
    EXPECT_NE(error_of(config).find("onnxruntime"), std::string::npos) << error_of(config);
}

TEST(DetectorErrors, MissingWeightsNameThePath) {
    TempDir dir;
    for (const std::string name : {"yolox-nano", "yolo-fastest-1.1"}) {
        auto config = yolox_config();
        config.name = name;
        config.models_dir = dir.path().string();
        const std::string msg = error_of(config);
        const std::string expected = name == "yolox-nano" ? "detectors/yolox-nano/yolox_nano.onnx"
                                                          : "detectors/yolo-fastest-1.1/yolo-fastest-1.1.weights";
        EXPECT_NE(msg.find("model file not found: " + (dir.path() / expected).string()), std::string::npos) << msg;
    }
}

// A models dir where `folder/file` is really `target` from the shared models.
struct FakeModelsDir {
    TempDir dir;
    void link(const std::string& relative, const fs::path& target) {
        fs::create_directories((dir.path() / "detectors" / relative).parent_path());
        fs::create_symlink(target, dir.path() / "detectors" / relative);
    }
    void write(const std::string& relative, const std::string& content) {
        fs::create_directories((dir.path() / "detectors" / relative).parent_path());
        vigil::testing::write_file(dir.path() / "detectors" / relative, content);
    }
};

TEST(DetectorErrors, OnnxModelOfTheWrongInputSizeIsRefused) {
    FakeModelsDir models;
    const fs::path shared = shared_path("models/detectors");
    models.link("coco.names", shared / "coco.names");
    // YOLOX-nano (416x416) where FastestDet (352x352) should be.
    models.link("fastestdet/FastestDet.onnx", shared / "yolox-nano/yolox_nano.onnx");
    for (const std::string backend : {"onnxruntime", "opencv"}) {
        if (backend == "onnxruntime" && !have_onnxruntime()) continue;
        DetectorConfig config;
        config.name = "fastestdet";
        config.backend = backend;
        config.models_dir = models.dir.path().string();
        const std::string msg = error_of(config);
        EXPECT_NE(msg.find("declares input 1x3x416x416 but 'fastestdet' expects 1x3x352x352"), std::string::npos)
            << backend << ": " << msg;
    }
}

TEST(DetectorErrors, DarknetConfigOfTheWrongInputSizeIsRefused) {
    FakeModelsDir models;
    const fs::path shared = shared_path("models/detectors");
    models.link("coco.names", shared / "coco.names");
    models.link("yolo-fastest-1.1/yolo-fastest-1.1.weights", shared / "yolo-fastest-1.1/yolo-fastest-1.1.weights");
    std::string cfg = vigil::testing::read_file(shared / "yolo-fastest-1.1/yolo-fastest-1.1.cfg");
    for (const std::string key : {"width=320", "height=320"}) {
        auto at = cfg.find(key);
        ASSERT_NE(at, std::string::npos);
        cfg.replace(at, key.size(), key.substr(0, key.size() - 3) + "416");
    }
    models.write("yolo-fastest-1.1/yolo-fastest-1.1.cfg", cfg);
    DetectorConfig config;
    config.name = "yolo-fastest-1.1";
    config.models_dir = models.dir.path().string();
    const std::string msg = error_of(config);
    EXPECT_NE(msg.find("declares input 1x3x416x416 but 'yolo-fastest-1.1' expects 1x3x320x320"), std::string::npos)
        << msg;
}

TEST(DetectorErrors, NonOnnxFileIsRefused) {
    FakeModelsDir models;
    models.link("coco.names", shared_path("models/detectors/coco.names"));
    models.write("yolox-nano/yolox_nano.onnx", "<html>404 not found</html>\n");
    for (const std::string backend : {"auto", "opencv"}) {
        DetectorConfig config;
        config.backend = backend;
        config.models_dir = models.dir.path().string();
        const std::string msg = error_of(config);
        EXPECT_NE(msg.find("not an ONNX model: " + (models.dir.path() / "detectors/yolox-nano/yolox_nano.onnx").string()),
                  std::string::npos)
            << backend << ": " << msg;
    }
    // A Darknet weights file is not ONNX either.
    fs::remove(models.dir.path() / "detectors/yolox-nano/yolox_nano.onnx");
    models.link("yolox-nano/yolox_nano.onnx", shared_path("models/detectors/yolo-fastest-1.1/yolo-fastest-1.1.weights"));
    DetectorConfig config;
    config.models_dir = models.dir.path().string();
    EXPECT_NE(error_of(config).find("not an ONNX model"), std::string::npos) << error_of(config);
}

TEST(DetectorErrors, BadFramesAreErrorsNotCrashes) {
    auto detector = make_detector(yolox_config());
    EXPECT_THROW(detector->detect(cv::Mat()), Error);
    EXPECT_THROW(detector->detect(cv::Mat(10, 10, CV_32FC3)), Error);
}

}  // namespace
}  // namespace vigil::detect
