# ONNX Runtime (optional): -DVIGIL_ONNXRUNTIME_DIR=PREFIX (or env
# VIGIL_ONNXRUNTIME_DIR) points at a prefix with include/ and lib/; otherwise
# the cached install written by scripts/install-onnxruntime.sh; otherwise a
# system-wide install. Without it the detect stage runs ONNX models through
# OpenCV DNN (slower, same results).
#
# Defines the interface target vigil_onnxruntime (empty when not found) which
# carries VIGIL_HAVE_ONNXRUNTIME=1 when found.
set(VIGIL_ONNXRUNTIME_VERSION "1.30.0")
set(VIGIL_ONNXRUNTIME_DIR "$ENV{VIGIL_ONNXRUNTIME_DIR}" CACHE PATH "ONNX Runtime install prefix (include/, lib/)")

set(_ort_prefix "${VIGIL_ONNXRUNTIME_DIR}")
if(NOT _ort_prefix)
  set(_ort_cache_dir "$ENV{VIGIL_CACHE_DIR}")
  if(NOT _ort_cache_dir)
    set(_ort_cache_dir "$ENV{HOME}/.cache/vigil")
  endif()
  if(EXISTS "${_ort_cache_dir}/onnxruntime-${VIGIL_ONNXRUNTIME_VERSION}/.complete")
    set(_ort_prefix "${_ort_cache_dir}/onnxruntime-${VIGIL_ONNXRUNTIME_VERSION}")
  endif()
endif()

if(_ort_prefix)
  find_path(ONNXRUNTIME_INCLUDE_DIR onnxruntime_cxx_api.h
            PATHS "${_ort_prefix}/include" PATH_SUFFIXES onnxruntime NO_DEFAULT_PATH)
  find_library(ONNXRUNTIME_LIBRARY onnxruntime PATHS "${_ort_prefix}/lib" NO_DEFAULT_PATH)
else()
  find_path(ONNXRUNTIME_INCLUDE_DIR onnxruntime_cxx_api.h PATH_SUFFIXES onnxruntime)
  find_library(ONNXRUNTIME_LIBRARY onnxruntime)
endif()

add_library(vigil_onnxruntime INTERFACE)
if(ONNXRUNTIME_INCLUDE_DIR AND ONNXRUNTIME_LIBRARY)
  get_filename_component(ONNXRUNTIME_LIBRARY_DIR "${ONNXRUNTIME_LIBRARY}" DIRECTORY)
  target_include_directories(vigil_onnxruntime SYSTEM INTERFACE ${ONNXRUNTIME_INCLUDE_DIR})
  target_link_libraries(vigil_onnxruntime INTERFACE ${ONNXRUNTIME_LIBRARY})
  target_compile_definitions(vigil_onnxruntime INTERFACE VIGIL_HAVE_ONNXRUNTIME=1)
  list(APPEND CMAKE_BUILD_RPATH "${ONNXRUNTIME_LIBRARY_DIR}")
  list(APPEND CMAKE_INSTALL_RPATH "${ONNXRUNTIME_LIBRARY_DIR}")
  set(VIGIL_HAVE_ONNXRUNTIME ON)
  message(STATUS "ONNX Runtime: ${ONNXRUNTIME_LIBRARY}")
else()
  set(VIGIL_HAVE_ONNXRUNTIME OFF)
  message(STATUS "ONNX Runtime: not found (run scripts/install-onnxruntime.sh or pass "
                 "-DVIGIL_ONNXRUNTIME_DIR=<prefix>); ONNX detectors will use OpenCV DNN")
endif()
