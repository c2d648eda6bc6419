/* servicequote's client policy: besides its key client, the service serves client
 * enclaves proving themselves by quote: keyA's sesstest (prodid 3) under the simulation
 * root the build made (tests/enclaves/pins.c writes both into sesstest_pins.h). */
#include <kubetee/service.h>
#include "sesstest_pins.h"

KT_SERVICE_CLIENT_POLICY("{\"allow_simulation\":true,\"simulation_root\":\"" SIM_ROOT_SHA256
                         "\",\"rules\":[{\"mrsigner\":\"" SIGNER_MRSIGNER "\",\"isvprodid\":3}]}")
