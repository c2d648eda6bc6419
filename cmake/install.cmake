# The installable SDK: `cmake --install` puts the public headers, the host and trusted
# libraries, the CMake package (find_package(kubetee CONFIG)), pkg-config files, the
# kubetee tool and the services under GNU's directories. Three components, one per
# Debian package (scripts/deb.sh): dev, tools, services. Included last by the top
# CMakeLists.txt, when every target exists.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(KT_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/kubetee)
set(KT_PROTO_INCLUDE_DIR ${CMAKE_INSTALL_INCLUDEDIR}/kubetee/proto)

# The libraries of the SDK, exported as kubetee::<name without kt_>.
# The enclave service: kt_service_trusted (the enclave's end), kt_service_host (a host
# serving it; kt_service is its session table), kt_service_client(_trusted) (calling one
# from a process or an enclave), and kt_pbschema / kt_pbjson (message types and JSON).
set(KT_SDK_LIBS kt_base kt_crypto kt_image kt_callmem kt_platform kt_tff kt_trusted kt_attest
    kt_svc kt_rpc kt_pkcs11 kt_session kt_session_trusted kt_yaml kt_attest_trusted
    kt_pbschema kt_pbjson kt_service kt_service_host kt_service_client kt_service_client_trusted
    kt_service_trusted)
# AECS's client inside a TA (kt_aecs_ta_*, include/kubetee/aecs.h), where the enclave is built
if(TARGET kt_aecs_ta_trusted)
  list(APPEND KT_SDK_LIBS kt_aecs_ta_trusted)
endif()
# libraries whose users include generated message headers (kubetee/proto/*.pb-c.h): the
# runtime's own messages (kt.Identity and friends) and the enclave service's
# (kubetee.enclave.v1: DescribeResponse for kt_service_client_describe)
set(KT_SDK_PROTO_LIBS kt_tff kt_trusted kt_service_client kt_service_client_trusted)
foreach(lib ${KT_SDK_LIBS})
  string(REGEX REPLACE "^kt_" "" short ${lib})
  set_target_properties(${lib} PROPERTIES EXPORT_NAME ${short})
  target_include_directories(${lib} INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
endforeach()
foreach(lib ${KT_SDK_PROTO_LIBS})
  target_include_directories(${lib} INTERFACE $<INSTALL_INTERFACE:${KT_PROTO_INCLUDE_DIR}>)
endforeach()

install(TARGETS ${KT_SDK_LIBS} EXPORT kubetee-targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/kubetee DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        COMPONENT dev FILES_MATCHING PATTERN "*.h")
install(FILES ${CMAKE_BINARY_DIR}/src/tff.pb-c.h ${CMAKE_BINARY_DIR}/src/enclave_service.pb-c.h
        DESTINATION ${KT_PROTO_INCLUDE_DIR} COMPONENT dev)
install(FILES ${CMAKE_SOURCE_DIR}/proto/tff.proto ${CMAKE_SOURCE_DIR}/proto/enclave_service.proto
        DESTINATION ${CMAKE_INSTALL_DATADIR}/kubetee/proto COMPONENT dev)
install(EXPORT kubetee-targets NAMESPACE kubetee:: DESTINATION ${KT_CMAKE_INSTALL_DIR}
        COMPONENT dev)

# AECS's admin tools, with the tool (kubetee-tools)
install(TARGETS aecsadmin serviceadmin RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tools)
install(FILES ${CMAKE_SOURCE_DIR}/docs/man/aecsadmin.1 ${CMAKE_SOURCE_DIR}/docs/man/serviceadmin.1
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT tools)
# the tool: its own export set, so the dev package's targets file never names a file the
# tools package holds
install(TARGETS kubetee EXPORT kubetee-tool-targets RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        COMPONENT tools)
install(EXPORT kubetee-tool-targets NAMESPACE kubetee:: DESTINATION ${KT_CMAKE_INSTALL_DIR}
        COMPONENT tools)

# every program a services/<name>/ directory builds is installed as a service
file(GLOB kt_service_dirs LIST_DIRECTORIES true ${CMAKE_SOURCE_DIR}/services/*)
foreach(dir ${kt_service_dirs})
  if(IS_DIRECTORY ${dir} AND EXISTS ${dir}/CMakeLists.txt)
    get_property(kt_svc_targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
    foreach(t ${kt_svc_targets})
      get_target_property(type ${t} TYPE)
      if(type STREQUAL "EXECUTABLE")
        install(TARGETS ${t} RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR} COMPONENT services)
        # its manual page (lintian, in tests/packaging/deb.sh, names one that is missing)
        if(EXISTS ${CMAKE_SOURCE_DIR}/docs/man/${t}.8)
          install(FILES ${CMAKE_SOURCE_DIR}/docs/man/${t}.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8
                  COMPONENT services)
        endif()
      endif()
    endforeach()
  endif()
endforeach()

# the CMake package: relocatable (every path relative to the config file)
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/kubetee-config.cmake.in
  ${CMAKE_BINARY_DIR}/kubetee-config.cmake INSTALL_DESTINATION ${KT_CMAKE_INSTALL_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/kubetee-config-version.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/kubetee-config.cmake ${CMAKE_BINARY_DIR}/kubetee-config-version.cmake
        ${CMAKE_SOURCE_DIR}/cmake/kubetee.cmake ${CMAKE_SOURCE_DIR}/cmake/enclave.lds
        ${CMAKE_SOURCE_DIR}/cmake/kt_client_keys.cmake ${CMAKE_SOURCE_DIR}/cmake/kt_enclave_policy.cmake
        DESTINATION ${KT_CMAKE_INSTALL_DIR} COMPONENT dev)

# pkg-config: one kubetee-<name>.pc per library, written from the target's own link
# libraries, so a library that gains a dependency gains it here. A link item not in the
# table below stops the configure, naming it, rather than leaving it out of the file.
set(KT_PC_MODULES "PkgConfig::PROTOBUF_C=libprotobuf-c" "PkgConfig::JANSSON=jansson"
    "PkgConfig::YAML=yaml-0.1" "PkgConfig::CURL=libcurl" "PkgConfig::GRPC=grpc"
    "PkgConfig::MHD=libmicrohttpd" "PkgConfig::P11KIT=p11-kit-1" "OpenSSL::Crypto=libcrypto"
    "OpenSSL::SSL=libssl")
file(RELATIVE_PATH KT_PC_UP /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
string(REGEX REPLACE "/$" "" KT_PC_UP "${KT_PC_UP}")
foreach(lib ${KT_SDK_LIBS})
  string(REGEX REPLACE "^kt_" "" short ${lib})
  get_target_property(links ${lib} LINK_LIBRARIES)
  set(requires)
  set(extra)
  foreach(item ${links})
    if(item MATCHES "^kt_")
      string(REGEX REPLACE "^kt_" "kubetee-" dep ${item})
      list(APPEND requires ${dep})
    elseif(item STREQUAL "Threads::Threads")
      list(APPEND extra -pthread)
    elseif((item STREQUAL "${CMAKE_DL_LIBS}" AND item) OR item STREQUAL "m")
      list(APPEND extra -l${item})
    elseif(item MATCHES "^links-NOTFOUND$")
    else()
      set(mod)
      foreach(pair ${KT_PC_MODULES})
        string(REPLACE "=" ";" kv ${pair})
        list(GET kv 0 k)
        if(k STREQUAL item)
          list(GET kv 1 mod)
        endif()
      endforeach()
      if(NOT mod)
        message(FATAL_ERROR "cmake/install.cmake: ${lib} links '${item}', which has no pkg-config name in KT_PC_MODULES")
      endif()
      list(APPEND requires ${mod})
    endif()
  endforeach()
  list(REMOVE_DUPLICATES requires)
  list(JOIN requires " " KT_PC_REQUIRES)
  list(JOIN extra " " KT_PC_EXTRA)
  set(KT_PC_NAME kubetee-${short})
  set(KT_PC_LIB ${lib})
  set(KT_PC_CFLAGS "")
  get_target_property(defs ${lib} INTERFACE_COMPILE_DEFINITIONS)
  if(defs)
    foreach(d ${defs})
      string(APPEND KT_PC_CFLAGS " -D${d}")
    endforeach()
  endif()
  if(lib IN_LIST KT_SDK_PROTO_LIBS)
    string(APPEND KT_PC_CFLAGS " -I\${includedir}/kubetee/proto")
  endif()
  configure_file(${CMAKE_SOURCE_DIR}/cmake/kubetee.pc.in ${CMAKE_BINARY_DIR}/pkgconfig/${KT_PC_NAME}.pc @ONLY)
  install(FILES ${CMAKE_BINARY_DIR}/pkgconfig/${KT_PC_NAME}.pc
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)
endforeach()

# the tool's manual page (scripts/deb.sh compresses them)
install(FILES ${CMAKE_SOURCE_DIR}/docs/man/kubetee.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
        COMPONENT tools)
