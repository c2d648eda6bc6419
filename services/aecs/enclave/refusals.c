/* TAs refused at the handshake (docs/aecs.md "Audit log"): the enclave service hands each
 * peer its gate refused to AECS (kt_service_on_refused), with the reason and what the
 * peer proved: the caller is "refused:enclave:..." only for a quote that verified and the
 * policy refused (TCB, debug, identity), else "unverified" (a quote that does not verify,
 * or one refused before it was verified, names whoever its maker typed: no line of
 * AECS's names it). Each is counted by reason (aecs.HostStatus, the host's /metrics), and
 * written as one audit line while that reason's budget lasts: a refused peer must not buy
 * audit lines (each a hash, an OCALL, a line on the host's disk, at checkpoints a
 * signature) as fast as it can make handshakes, and a flood of one reason (forged quotes)
 * must not take the lines of another (a genuine TA on a revoked TCB). Cheap first: the
 * count and the budget, then the line. */
#include "aecs.h"

#include <stdio.h>
#include <string.h>

#define N_REASONS (KUBETEE__AECS__V1__HANDSHAKE_REFUSAL__HANDSHAKE_REFUSAL_COLLATERAL + 1)
#define R(x) KUBETEE__AECS__V1__HANDSHAKE_REFUSAL__HANDSHAKE_REFUSAL_##x

/* under ae_lock */
static uint64_t counts[N_REASONS];
static uint64_t unwritten[N_REASONS], unwritten_all;
static uint32_t budget[N_REASONS]; /* each reason's own; full at the first refusal */
static int64_t refilled_at[N_REASONS]; /* the host's clock when it last grew (0: not yet) */

/* The session library's words, sorted into the reasons an operator acts on; the first
 * that matches (a simulation root before simulation). */
static int reason_of(const char *why)
{
    static const struct {
        const char *words;
        int reason;
    } known[] = {
        {"accepts registered keys only", R(NO_PLATFORM_POLICY)},
        {"not the policy's simulation_root", R(SIMULATION_ROOT)},
        {"does not allow simulation", R(SIMULATION)},
        {"does not allow debug", R(DEBUG)},
        {"TCB status", R(TCB)},
        {"quote does not verify", R(QUOTE)},
        {"collateral", R(COLLATERAL)},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strstr(why, known[i].words)) return known[i].reason;
    return R(OTHER);
}

/* "debug", "simulation_root", ...: the enum value's name without its prefix, lower case. */
static void reason_name(int r, char *out, size_t n)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&kubetee__aecs__v1__handshake_refusal__descriptor, r);
    snprintf(out, n, "%s", v ? v->name + strlen("HANDSHAKE_REFUSAL_") : "OTHER");
    for (char *p = out; *p; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
}

/* A line of reason r may be written at now: its budget, grown by one every
 * AE_REFUSAL_EVERY seconds up to AE_REFUSAL_BURST, has one left. */
static bool take_budget(int r, int64_t now)
{
    if (!refilled_at[r]) budget[r] = AE_REFUSAL_BURST, refilled_at[r] = now;
    if (now < refilled_at[r]) refilled_at[r] = now; /* a clock that stepped back grows nothing */
    int64_t grown = (now - refilled_at[r]) / AE_REFUSAL_EVERY;
    if (grown > 0) {
        budget[r] = grown >= AE_REFUSAL_BURST - budget[r] ? AE_REFUSAL_BURST : budget[r] + (uint32_t)grown;
        refilled_at[r] += grown * AE_REFUSAL_EVERY;
    }
    if (!budget[r]) return false;
    budget[r]--;
    return true;
}

/* The refusals not written one by one since the last line, summed up (they are all in
 * the counts). */
static void write_unwritten(int64_t now)
{
    char summary[300], name[40];
    int k = snprintf(summary, sizeof summary, "%llu refused handshakes not written one by one (at most %d lines of "
                                              "each reason, then one every %d s):",
                     (unsigned long long)unwritten_all, AE_REFUSAL_BURST, AE_REFUSAL_EVERY);
    for (int r = 0; r < N_REASONS && k > 0 && (size_t)k < sizeof summary; r++) {
        if (!unwritten[r]) continue;
        reason_name(r, name, sizeof name);
        k += snprintf(summary + k, sizeof summary - (size_t)k, " %s=%llu", name, (unsigned long long)unwritten[r]);
    }
    ae_caller c = {.now = now};
    snprintf(c.label, sizeof c.label, "unwritten");
    kt_fail(KT_ERR_DENIED, "%s", summary);
    ae_audit(&c, "HandshakeRefused", "unwritten", KT_ERR_DENIED);
    memset(unwritten, 0, sizeof unwritten);
    unwritten_all = 0;
}

static void refused(const char *why, const kt_session_peer_info *claim)
{
    int r = reason_of(why ? why : "");
    pthread_mutex_lock(&ae_lock);
    counts[r]++;
    int64_t now;
    if (ae.phase != AE_STOPPED && ae_clock_check(&now)) now = ae_clock_floor(); /* a refusal never moves the floor */
    if (ae.phase != AE_STOPPED) {
        if (take_budget(r, now)) {
            if (unwritten_all) write_unwritten(now);
            ae_caller c = {.now = now};
            char name[40];
            if (claim) ae_peer_label(claim, "refused:", c.label, sizeof c.label);
            else snprintf(c.label, sizeof c.label, "unverified");
            reason_name(r, name, sizeof name);
            kt_fail(KT_ERR_DENIED, "%s", why ? why : "");
            ae_audit(&c, "HandshakeRefused", name, KT_ERR_DENIED);
        } else {
            unwritten[r]++;
            unwritten_all++;
        }
    }
    pthread_mutex_unlock(&ae_lock);
}

void ae_refusal_counts(uint64_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = i < N_REASONS ? counts[i] : 0;
}

__attribute__((constructor)) static void listen_for_refusals(void)
{
    kt_service_on_refused(refused);
}
