# One imported target per third-party library (all from Debian packages).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

pkg_check_modules(ROCKSDB REQUIRED IMPORTED_TARGET rocksdb)
pkg_check_modules(NANOMSG REQUIRED IMPORTED_TARGET nanomsg)
pkg_check_modules(MSGPACK REQUIRED IMPORTED_TARGET msgpack)
pkg_check_modules(CRYPTO REQUIRED IMPORTED_TARGET libcrypto)
pkg_check_modules(INIH REQUIRED IMPORTED_TARGET inih)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
pkg_check_modules(LIBEDIT REQUIRED IMPORTED_TARGET libedit)
pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
pkg_check_modules(CJSON REQUIRED IMPORTED_TARGET libcjson)
pkg_check_modules(CRITERION IMPORTED_TARGET criterion)

add_library(geokv::rocksdb ALIAS PkgConfig::ROCKSDB)
add_library(geokv::nanomsg ALIAS PkgConfig::NANOMSG)
add_library(geokv::msgpack ALIAS PkgConfig::MSGPACK)
add_library(geokv::crypto ALIAS PkgConfig::CRYPTO)
add_library(geokv::inih ALIAS PkgConfig::INIH)
add_library(geokv::xxhash ALIAS PkgConfig::XXHASH)
add_library(geokv::libedit ALIAS PkgConfig::LIBEDIT)
add_library(geokv::microhttpd ALIAS PkgConfig::MHD)
add_library(geokv::cjson ALIAS PkgConfig::CJSON)

# libzookeeper_mt ships no .pc file.
find_library(ZOOKEEPER_MT_LIB zookeeper_mt REQUIRED)
find_path(ZOOKEEPER_INCLUDE zookeeper/zookeeper.h REQUIRED)
add_library(geokv_zookeeper INTERFACE)
target_link_libraries(geokv_zookeeper INTERFACE ${ZOOKEEPER_MT_LIB})
target_include_directories(geokv_zookeeper INTERFACE ${ZOOKEEPER_INCLUDE}/zookeeper)
# The synchronous zoo_* calls are declared only for the multi-threaded client.
target_compile_definitions(geokv_zookeeper INTERFACE THREADED)
add_library(geokv::zookeeper ALIAS geokv_zookeeper)
