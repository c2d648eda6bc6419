# Build step of kt_enclave_policy(): a policy (kubetee attest / kubetee call --policy) that
# admits enclaves signed by the same key as SIGNED, of its product, not debug, at its
# security version or later; with SIM true, simulated quotes too.
#   cmake -DKUBETEE=kubetee -DSIGNED=e.signed.so -DSIM=ON -DOUT=policy.yaml -P kt_enclave_policy.cmake
execute_process(COMMAND ${KUBETEE} dump --enclave ${SIGNED} --json OUTPUT_VARIABLE dump RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "kt_enclave_policy.cmake: kubetee dump --enclave ${SIGNED} failed")
endif()
string(JSON mrsigner GET "${dump}" mrsigner)
string(JSON prodid GET "${dump}" prodid)
string(JSON svn GET "${dump}" svn)
if(NOT mrsigner MATCHES "^[0-9a-f]+$" OR NOT prodid MATCHES "^[0-9]+$" OR NOT svn MATCHES "^[0-9]+$")
  message(FATAL_ERROR "kt_enclave_policy.cmake: kubetee dump gave no MRSIGNER, prodid or svn")
endif()
set(text "# made by kt_enclave_policy() from ${SIGNED}: its signer, product and security version\n")
if(SIM)
  string(APPEND text "# simulated quotes are accepted: development only, never in production\nallow_simulation: true\n")
endif()
string(APPEND text "rules:\n- {mrsigner: ${mrsigner}, isvprodid: ${prodid}, min_isvsvn: ${svn}, allow_debug: false}\n")
file(WRITE ${OUT}.tmp "${text}")
file(RENAME ${OUT}.tmp ${OUT})
