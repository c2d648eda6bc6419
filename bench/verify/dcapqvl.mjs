// bench/verify's peer: Phala's dcap-qvl verifying the same quote with the same collateral
// and time, timed inside this one node process (node's start-up is never timed).
// usage: node dcapqvl.mjs MODULES SET_DIR AT
// Prints "ready" once both builds accept the quote, then answers each line
// "<web|js> <seconds>" on stdin with "<verifications> <seconds taken>", until stdin ends.
// Seconds are CPU seconds of this process (all its threads: the garbage collector's too),
// so a shared machine's load does not count against it.
// web: the Rust crate built to WASM; js: the pure JavaScript port. Each call is given the
// quote and collateral as in-memory objects and checks everything again, as a cold
// verification of ours does (which also reads the collateral from disk).
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { loadCollateral, loadPeers } from '../../tests/interop/dcapqvl/peer.mjs';

const [modules, dir, atArg] = process.argv.slice(2);
const at = Number(atArg);
if (!dir || !Number.isInteger(at)) {
  console.error('usage: node dcapqvl.mjs MODULES SET_DIR AT');
  process.exit(2);
}
const peers = await loadPeers(modules);
const quote = new Uint8Array(fs.readFileSync(path.join(dir, 'quote.dat')));
const coll = loadCollateral(dir);
for (const peer of Object.values(peers)) {
  const first = peer.verify(quote, coll, at);
  if (!first.ok) {
    console.error(`${peer.name} refuses the benchmark quote: ${first.error}`);
    process.exit(1);
  }
}
console.log('ready');

for await (const line of readline.createInterface({ input: process.stdin })) {
  const [which, secondsArg] = line.trim().split(/\s+/);
  const peer = peers[which];
  const seconds = Number(secondsArg);
  if (!peer || !(seconds > 0)) {
    console.error(`dcapqvl.mjs: bad request '${line}'`);
    process.exit(2);
  }
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  let n = 0;
  const t0 = cpu();
  let t = t0;
  while (t - t0 < seconds) {
    if (!peer.verify(quote, coll, at).ok) {
      console.error(`${peer.name}: a verification failed`);
      process.exit(1);
    }
    n++;
    t = cpu();
  }
  console.log(`${n} ${t - t0}`);
}
