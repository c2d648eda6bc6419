# Helpers for building enclaves and protobuf-c code.
set(KT_ENCLAVE_VERSION_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/enclave.lds)
set(KT_CMAKE_HELPERS ${CMAKE_CURRENT_LIST_DIR})
# In the source tree the targets are kt_trusted and kubetee; an installed SDK's
# kubetee-config.cmake sets these to its imported kubetee::trusted and kubetee::kubetee.
if(NOT DEFINED KT_TRUSTED_LIB)
  set(KT_TRUSTED_LIB kt_trusted)
endif()
if(NOT DEFINED KT_TOOL)
  set(KT_TOOL kubetee)
endif()

# kt_protobuf_c(<var> <file.proto>...) generates .pb-c.c/.pb-c.h into the build tree and
# sets <var> to the generated C sources. Include ${CMAKE_CURRENT_BINARY_DIR} to use them.
function(kt_protobuf_c var)
  set(out)
  foreach(proto ${ARGN})
    get_filename_component(abs ${proto} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    get_filename_component(dir ${abs} DIRECTORY)
    get_filename_component(base ${abs} NAME_WE)
    set(c ${CMAKE_CURRENT_BINARY_DIR}/${base}.pb-c.c)
    add_custom_command(
      OUTPUT ${c} ${CMAKE_CURRENT_BINARY_DIR}/${base}.pb-c.h
      COMMAND ${PROTOC_C} --proto_path=${dir} --c_out=${CMAKE_CURRENT_BINARY_DIR} ${abs}
      DEPENDS ${abs}
      COMMENT "protoc-c ${base}.proto")
    list(APPEND out ${c})
  endforeach()
  set(${var} ${out} PARENT_SCOPE)
endfunction()

# kt_add_enclave(<name> SOURCES <c files> [LIBS <libs>])
# Builds <name>.so: an ELF shared object linked with the trusted runtime that exports
# nothing but the entry point, so its symbols never mix with the host's.
function(kt_add_enclave name)
  cmake_parse_arguments(E "" "" "SOURCES;LIBS" ${ARGN})
  add_library(${name} MODULE ${E_SOURCES})
  set_target_properties(${name} PROPERTIES PREFIX "" SUFFIX ".so")
  target_link_libraries(${name} PRIVATE ${KT_TRUSTED_LIB} ${E_LIBS})
  target_link_options(${name} PRIVATE
    -Wl,--version-script=${KT_ENCLAVE_VERSION_SCRIPT} -Wl,-u,kt_enclave_entry -Wl,-z,now
    -Wl,-z,noexecstack)
  set_property(TARGET ${name} APPEND PROPERTY LINK_DEPENDS ${KT_ENCLAVE_VERSION_SCRIPT})
endfunction()

# kt_sign_enclave(<name> KEY <key.pem> CONFIG <enclave.conf>) signs <name>.so into
# <name>.signed.so with `kubetee sign`. With SIGNER <host:port>, KEY is the key's name at
# kubetee-signer and TLS_CA, TLS_CERT, TLS_KEY (and SERVER_NAME) are this build's client
# identity there (docs/operations.md, "kubetee-signer"); WAIT <seconds> waits that long
# for a key's M-of-N approval.
function(kt_sign_enclave name)
  cmake_parse_arguments(S "" "KEY;CONFIG;OUTPUT;SIGNER;TLS_CA;TLS_CERT;TLS_KEY;SERVER_NAME;WAIT" ""
                        ${ARGN})
  if(NOT S_OUTPUT)
    set(S_OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/${name}.signed.so)
  endif()
  if(S_SIGNER)
    if(NOT S_TLS_CA OR NOT S_TLS_CERT OR NOT S_TLS_KEY)
      message(FATAL_ERROR "kt_sign_enclave(${name} SIGNER ...) needs TLS_CA, TLS_CERT and TLS_KEY")
    endif()
    set(how --signer ${S_SIGNER} --tls-ca ${S_TLS_CA} --tls-cert ${S_TLS_CERT} --tls-key ${S_TLS_KEY})
    if(S_SERVER_NAME)
      list(APPEND how --server-name ${S_SERVER_NAME})
    endif()
    if(S_WAIT)
      list(APPEND how --wait ${S_WAIT})
    endif()
    set(deps ${S_TLS_CA} ${S_TLS_CERT} ${S_TLS_KEY})
  else()
    set(how)
    set(deps ${S_KEY})
  endif()
  add_custom_command(
    OUTPUT ${S_OUTPUT}
    COMMAND ${KT_TOOL} sign ${how} --key ${S_KEY} --config ${S_CONFIG} --enclave $<TARGET_FILE:${name}>
            --out ${S_OUTPUT} --quiet
    DEPENDS ${name} ${KT_TOOL} ${deps} ${S_CONFIG}
    COMMENT "kubetee sign ${name}")
  add_custom_target(${name}_signed ALL DEPENDS ${S_OUTPUT})
endfunction()

# kt_service_client_keys(<header.h> MACRO <NAME> KEYS <p256.pem>...) writes <header.h> at
# build time, defining NAME as the keys' public halves in the form an enclave service
# compiles in: KT_SERVICE_CLIENT_KEYS(NAME). A key that is not P-256 stops the build.
function(kt_service_client_keys header)
  cmake_parse_arguments(K "" "MACRO" "KEYS" ${ARGN})
  if(NOT K_MACRO OR NOT K_KEYS)
    message(FATAL_ERROR "kt_service_client_keys(${header}) needs MACRO and KEYS")
  endif()
  get_filename_component(out ${header} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_BINARY_DIR})
  string(REPLACE ";" "|" keys "${K_KEYS}") # one argument: the script splits it again
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DKEYS=${keys} -DMACRO=${K_MACRO} -DOUT=${out}
            -P ${KT_CMAKE_HELPERS}/kt_client_keys.cmake
    DEPENDS ${K_KEYS} ${KT_CMAKE_HELPERS}/kt_client_keys.cmake
    COMMENT "kubetee: the client keys ${K_MACRO}" VERBATIM)
endfunction()

# kt_enclave_policy(<name> OUT <policy.yaml> [SIMULATION]) writes, after <name> is signed
# by kt_sign_enclave (default output), the policy its clients verify it by: its MRSIGNER,
# product id, at least its svn, no debug build (kubetee call --policy, kubetee attest);
# SIMULATION also accepts simulated quotes, for the sim platform. Target <name>_policy.
function(kt_enclave_policy name)
  cmake_parse_arguments(P "SIMULATION" "OUT;SIGNED" "" ${ARGN})
  if(NOT P_OUT)
    message(FATAL_ERROR "kt_enclave_policy(${name}) needs OUT")
  endif()
  if(NOT P_SIGNED)
    set(P_SIGNED ${CMAKE_CURRENT_BINARY_DIR}/${name}.signed.so)
  endif()
  get_filename_component(out ${P_OUT} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_BINARY_DIR})
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DKUBETEE=$<TARGET_FILE:${KT_TOOL}> -DSIGNED=${P_SIGNED}
            -DSIM=$<BOOL:${P_SIMULATION}> -DOUT=${out} -P ${KT_CMAKE_HELPERS}/kt_enclave_policy.cmake
    DEPENDS ${P_SIGNED} ${name}_signed ${KT_TOOL} ${KT_CMAKE_HELPERS}/kt_enclave_policy.cmake
    COMMENT "kubetee: the policy of ${name}" VERBATIM)
  add_custom_target(${name}_policy ALL DEPENDS ${out})
endfunction()
