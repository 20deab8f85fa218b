# Shared compile settings and the helper that turns one src/<stage>/ folder
# into one static library, vigil_<stage>.
add_library(vigil_options INTERFACE)
target_compile_options(vigil_options INTERFACE -Wall -Wextra -Wpedantic -Wshadow=local -Wno-missing-field-initializers)
if(VIGIL_WERROR)
  target_compile_options(vigil_options INTERFACE -Werror)
endif()
if(VIGIL_SANITIZE)
  target_compile_options(vigil_options INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(vigil_options INTERFACE -fsanitize=address,undefined)
endif()
target_include_directories(vigil_options INTERFACE ${CMAKE_SOURCE_DIR}/src ${CMAKE_BINARY_DIR}/generated)

# vigil_add_stage(NAME DEPS...): every .cpp under src/NAME/ becomes vigil_NAME.
function(vigil_add_stage name)
  file(GLOB_RECURSE _sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${name}/*.cpp)
  if(_sources)
    add_library(vigil_${name} STATIC ${_sources})
    target_link_libraries(vigil_${name} PUBLIC vigil_options ${ARGN})
  else()
    # A stage with headers only (or not written yet) still takes part in linking.
    add_library(vigil_${name} INTERFACE)
    target_link_libraries(vigil_${name} INTERFACE vigil_options ${ARGN})
  endif()
endfunction()

# vigil_add_test_suite(NAME DEPS...): every .cpp under tests/NAME/ becomes the
# GoogleTest executable test_NAME, registered with ctest.
function(vigil_add_test_suite name)
  file(GLOB_RECURSE _sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${name}/*.cpp)
  if(NOT _sources)
    return()
  endif()
  add_executable(test_${name} ${_sources})
  target_link_libraries(test_${name} PRIVATE vigil_options vigil_testing GTest::gtest GTest::gmock GTest::gtest_main ${ARGN})
  # OpenMP workers in llama.cpp spin while idle; with suites running side by side on
  # two cores that makes them crawl, so tests ask for passive waiting.
  gtest_discover_tests(test_${name} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS ${name} ENVIRONMENT "OMP_WAIT_POLICY=passive")
endfunction()
