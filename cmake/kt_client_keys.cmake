# Build step of kt_service_client_keys(): a header defining MACRO as the P-256 public keys
# (x||y) of the PEM files in KEYS, the initializer KT_SERVICE_CLIENT_KEYS takes.
#   cmake -DKEYS="a.pem|b.pem" -DMACRO=NAME -DOUT=clients.h -P kt_client_keys.cmake
string(REPLACE "|" ";" KEYS "${KEYS}")
find_program(KT_OPENSSL openssl)
if(NOT KT_OPENSSL)
  message(FATAL_ERROR "kt_client_keys.cmake: needs the openssl command (Debian: openssl)")
endif()
set(list "")
foreach(pem ${KEYS})
  # a private key, or else a public one
  execute_process(COMMAND ${KT_OPENSSL} pkey -in ${pem} -pubout -outform DER OUTPUT_FILE ${OUT}.der
                  RESULT_VARIABLE rc ERROR_QUIET)
  if(NOT rc EQUAL 0)
    execute_process(COMMAND ${KT_OPENSSL} pkey -pubin -in ${pem} -pubout -outform DER OUTPUT_FILE ${OUT}.der
                    RESULT_VARIABLE rc ERROR_QUIET)
  endif()
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "kt_client_keys.cmake: no public key from ${pem}")
  endif()
  file(READ ${OUT}.der der HEX)
  string(LENGTH "${der}" n)
  # a P-256 SubjectPublicKeyInfo is 91 bytes: this prefix (id-ecPublicKey, prime256v1, an
  # uncompressed point), then x||y
  string(SUBSTRING "${der}" 0 54 prefix)
  if(NOT n EQUAL 182 OR NOT prefix STREQUAL "3059301306072a8648ce3d020106082a8648ce3d03010703420004")
    message(FATAL_ERROR "kt_client_keys.cmake: ${pem} is not a P-256 key")
  endif()
  string(SUBSTRING "${der}" 54 128 xy)
  string(REGEX REPLACE "(..)" "0x\\1," bytes "${xy}")
  string(REGEX REPLACE ",$" "" bytes "${bytes}")
  if(list)
    string(APPEND list ", ")
  endif()
  string(APPEND list "{${bytes}}")
endforeach()
file(REMOVE ${OUT}.der)
file(WRITE ${OUT}.tmp "/* made by kt_service_client_keys() from ${KEYS} */\n#define ${MACRO} ${list}\n")
file(RENAME ${OUT}.tmp ${OUT})
