# Build step: aecs_pins.h, what the enclave's policy for AECS pins. The MRSIGNER and
# product id of the AECS enclave (kubetee dump of AECS_ENCLAVE; on a cluster, the
# io.kubetee.enclave.mrsigner label of its image) and the SHA-256 of the simulation root
# of the sim state the TA runs on ($KUBETEE_SIM_DIR; a cluster's shared root).
#   cmake -DKUBETEE=kubetee -DAECS_ENCLAVE=aecs.signed.so -DOUT=aecs_pins.h -P aecs_pins.cmake
find_program(OPENSSL openssl REQUIRED)
execute_process(COMMAND ${KUBETEE} dump --enclave ${AECS_ENCLAVE} --json OUTPUT_VARIABLE dump RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "aecs_pins.cmake: kubetee dump --enclave ${AECS_ENCLAVE} failed")
endif()
string(JSON mrsigner GET "${dump}" mrsigner)
string(JSON prodid GET "${dump}" prodid)
set(export ${OUT}.root)
file(REMOVE_RECURSE ${export})
execute_process(COMMAND ${KUBETEE} sim export --out ${export} OUTPUT_QUIET RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "aecs_pins.cmake: kubetee sim export failed")
endif()
execute_process(COMMAND ${OPENSSL} x509 -in ${export}/root_ca.pem -outform DER OUTPUT_FILE ${export}/root.der
                RESULT_VARIABLE rc)
file(SHA256 ${export}/root.der root)
file(REMOVE_RECURSE ${export})
if(NOT rc EQUAL 0 OR NOT mrsigner MATCHES "^[0-9a-f]+$" OR NOT prodid MATCHES "^[0-9]+$")
  message(FATAL_ERROR "aecs_pins.cmake: no MRSIGNER, prodid or simulation root")
endif()
file(WRITE ${OUT}.tmp "/* made by aecs_pins.cmake from ${AECS_ENCLAVE} and the sim state's root */\n"
     "#define AECS_MRSIGNER \"${mrsigner}\"\n#define AECS_PRODID \"${prodid}\"\n#define AECS_SIM_ROOT \"${root}\"\n")
file(RENAME ${OUT}.tmp ${OUT})
