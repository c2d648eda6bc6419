// compare.mjs KUBETEE SETS MODULES: every attestation set in SETS (and every negative
// case under SET/negative/), verified by `kubetee attest verify` and by both dcap-qvl
// builds with the same quote, collateral, trust anchor and time. Verdicts must agree on
// pass/fail, TCB status and advisory IDs. Where they differ, the difference must be one
// of the known ones below, shown by the peer's own error and by a field of our verdict;
// any other difference fails the test, and so does a known one that no case shows.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { loadCollateral, loadPeers } from './peer.mjs';

const [kubetee, setsArg, modules] = process.argv.slice(2);
const sets = path.resolve(setsArg ?? '');
if (!modules) {
  console.error('usage: node compare.mjs KUBETEE SETS MODULES');
  process.exit(2);
}
const INTEL_ROOT_SHA256 = '44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3';

// SGX ATTRIBUTES bit 1, TDATTRIBUTES bit 0 (TUD debug), bit 28 (SEPT_VE_DISABLE).
const tdAttrByte = (v, i) => parseInt(v.td.td_attributes.slice(2 * i, 2 * i + 2), 16);
const isDebug = (v) => (v.tee === 'SGX' ? v.enclave.debug : v.td.debug) === true;
const septVeClear = (v) => v.tee === 'TDX' && (tdAttrByte(v, 3) & 0x10) === 0;
const hasServiceTd = (v) => v.tee === 'TDX' && /[1-9a-f]/.test(v.td.mr_servicetd ?? '');

// Known differences: which peer, what differs, and how to recognise it: the peer's own
// error (or its pass) together with a field of our verdict or the file a case replaced.
const refuses = (b, error) => !b.ok && b.error === error;
const KNOWN = [
  {
    peer: 'web',
    what: 'dcap-qvl-web cannot decode TD report 1.5 (quote v5) bodies',
    is: (a, b) => refuses(b, 'Failed to decode quote') && a.verdict?.quote_version === 5,
  },
  {
    peer: 'any',
    what: 'dcap-qvl refuses a debug enclave or TD as a hard rule (ours reports it; policy decides)',
    is: (a, b) => refuses(b, 'Debug mode is enabled') && a.ok && isDebug(a.verdict),
  },
  {
    peer: 'any',
    what: 'dcap-qvl refuses a TD with SEPT_VE_DISABLE clear as a hard rule (ours: policy decides)',
    is: (a, b) => refuses(b, 'SEPT_VE_DISABLE is not enabled') && a.ok && septVeClear(a.verdict),
  },
  {
    peer: 'js',
    what: 'dcap-qvl (JS) refuses a non-zero MR_SERVICETD as a hard rule (ours: policy decides)',
    is: (a, b) => refuses(b, 'Invalid mr service td') && a.ok && hasServiceTd(a.verdict),
  },
  {
    peer: 'web',
    what: 'dcap-qvl-web never reads the QE Identity (its signature, nor the QE report against it)',
    is: (a, b, replaced) =>
      replaced === 'qe_identity.json' && b.ok && !a.ok && a.error.startsWith('QE Identity'),
  },
  {
    peer: 'js',
    what: 'dcap-qvl (JS) checks no CRL signature and skips a CRL that does not parse',
    is: (a, b, replaced) => /_crl\.der$/.test(replaced ?? '') && b.ok && !a.ok,
  },
  {
    peer: 'web',
    what: "dcap-qvl-web's trust anchor is built in: a substitute root is not an input to it",
    is: (a, b, replaced) => replaced === 'intel_root_ca.pem' && b.ok && !a.ok,
  },
];

function ours(quote, dir, at, root) {
  const args = ['attest', 'verify', '--quote', quote, '--collateral', dir, '--at', String(at)];
  if (root) args.push('--root', root);
  const r = spawnSync(kubetee, [...args, '--json'], { encoding: 'utf8' });
  if (r.error) throw new Error(`running ${kubetee}: ${r.error.message}`);
  const line = r.stdout.trim();
  if (!line) return { ok: false, error: r.stderr.trim(), verdict: null };
  const v = JSON.parse(line).verdict;
  return v.ok
    ? { ok: true, status: v.tcb_status, advisories: v.advisory_ids, verdict: v }
    : { ok: false, error: v.reason, verdict: v };
}

const same = (a, b) =>
  a.ok === b.ok &&
  (!a.ok ||
    (a.status === b.status &&
      JSON.stringify([...a.advisories].sort()) === JSON.stringify([...b.advisories].sort())));
const show = (r) =>
  r.ok ? `pass ${r.status} [${r.advisories.join(',')}]` : `fail (${r.error.split('\n')[0]})`;

const peers = await loadPeers(modules);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kt-dcapqvl-'));
let agreed = 0;
let known = 0;
let failed = 0;

// A case: the set, with one of its files replaced (a negative) or none.
function check(set, label, replaceName, replacePath) {
  const dir = path.join(sets, set);
  const expected = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8'));
  const at = expected.verify_at;
  let quote = path.join(dir, 'quote.dat');
  let collDir = dir;
  let root;
  const replace = {};
  if (replaceName === 'quote.dat') quote = replacePath;
  else if (replaceName === 'intel_root_ca.pem') root = replacePath;
  else if (replaceName) {
    // a collateral directory that differs from the set's in that one file
    collDir = fs.mkdtempSync(path.join(work, 'c-'));
    for (const f of fs.readdirSync(dir))
      if (f !== 'negative') fs.symlinkSync(path.join(dir, f), path.join(collDir, f));
    fs.rmSync(path.join(collDir, replaceName));
    fs.symlinkSync(replacePath, path.join(collDir, replaceName));
    replace[replaceName] = replacePath;
  }
  const rootPem = fs.readFileSync(root ?? path.join(dir, 'intel_root_ca.pem'), 'utf8');
  const a = ours(quote, collDir, at, root);
  const q = fs.readFileSync(quote);
  const coll = loadCollateral(dir, replace);
  for (const [key, peer] of Object.entries(peers)) {
    const name = `${label} / ${peer.name}`;
    const b = peer.verify(new Uint8Array(q), coll, at, peer.takesRoot ? rootPem : undefined);
    if (same(a, b)) {
      console.log(`agree  ${name}: ${a.ok ? show(a) : 'both fail'}`);
      agreed++;
      continue;
    }
    const k = KNOWN.find((d) => (d.peer === 'any' || d.peer === key) && d.is(a, b, replaceName));
    if (k) {
      k.seen = true;
      console.log(`KNOWN  ${name}: ${k.what}`);
      console.log(`       (ours ${show(a)}, it ${show(b)})`);
      known++;
    } else {
      console.log(`DIFFER ${name}: ours ${show(a)}, it ${show(b)}`);
      failed++;
    }
  }
}

const setNames = fs
  .readdirSync(sets)
  .filter((s) => fs.existsSync(path.join(sets, s, 'quote.dat')))
  .sort();
if (setNames.length === 0) {
  console.error(`no attestation sets under ${sets}`);
  process.exit(1);
}
for (const set of setNames) {
  // the web build trusts Intel's root only: every set must be anchored there
  const der = fs.readFileSync(path.join(sets, set, 'intel_root_ca.der'));
  if (crypto.createHash('sha256').update(der).digest('hex') !== INTEL_ROOT_SHA256) {
    console.log(`DIFFER ${set}: its intel_root_ca.der is not Intel's SGX Root CA`);
    failed++;
    continue;
  }
  check(set, set);
  const index = path.join(sets, set, 'negative', 'index.json');
  if (!fs.existsSync(index)) continue;
  for (const [file, how] of JSON.parse(fs.readFileSync(index, 'utf8'))) {
    const m = /replaces `([^`]+)`/.exec(how);
    if (!m) {
      console.log(`DIFFER ${set}/negative/${file}: index does not say which file it replaces`);
      failed++;
      continue;
    }
    check(set, `${set}/negative/${file}`, m[1], path.join(sets, set, 'negative', file));
  }
  // Two more faults, made here, in the sets that have negatives: the root CA CRL's
  // signature broken (its last byte, inside s), and a PCK CRL that is not DER at all.
  const made = path.join(work, set);
  fs.mkdirSync(made);
  const crl = Buffer.from(fs.readFileSync(path.join(sets, set, 'root_ca_crl.der')));
  crl[crl.length - 1] ^= 0x01;
  fs.writeFileSync(path.join(made, 'root_ca_crl.der'), crl);
  fs.writeFileSync(path.join(made, 'pck_crl.der'), Buffer.from('not a CRL\n'));
  check(set, `${set} + root CA CRL signature broken`, 'root_ca_crl.der', path.join(made, 'root_ca_crl.der'));
  check(set, `${set} + PCK CRL not DER`, 'pck_crl.der', path.join(made, 'pck_crl.der'));
}
fs.rmSync(work, { recursive: true, force: true });
// The list above is what docs/attestation.md states: a difference that no case shows
// any more (a new dcap-qvl in package-lock.json) must leave the list and the docs.
for (const k of KNOWN.filter((d) => !d.seen)) {
  console.log(`STALE  known difference no case shows any more: ${k.what}`);
  failed++;
}
console.log(`${agreed} agree, ${known} known differences, ${failed} other differences`);
process.exit(failed === 0 && agreed > 0 ? 0 : 1);
