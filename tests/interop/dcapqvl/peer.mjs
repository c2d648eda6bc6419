// Phala's dcap-qvl, two builds from npm, fed a kubetee collateral directory.
//   web: @phala/dcap-qvl-web, the Rust crate compiled to WASM; its trust anchor is built in.
//   js:  @phala/dcap-qvl, a separate pure JavaScript port; it takes a trust anchor.
// Both take dcap-qvl's QuoteCollateralV3 object: PEM chains as text, CRLs and signatures
// as hex, and the TCB Info / QE Identity as the exact bytes their signatures cover.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

// The text of the object value of `key` in a PCS body, byte for byte (signatures cover
// these bytes, so re-serialising the parsed JSON would not do).
function signedValue(text, key, file) {
  const at = text.indexOf(`"${key}"`);
  const start = at < 0 ? -1 : text.indexOf('{', at);
  if (start < 0) throw new Error(`${file}: no "${key}" object`);
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return text.slice(start, i + 1);
  }
  throw new Error(`${file}: "${key}" object is not closed`);
}

// files: the set's file names, with any replaced (a negative case) by a path.
export function loadCollateral(dir, replace = {}) {
  const file = (name) => replace[name] ?? path.join(dir, name);
  const read = (name) => fs.readFileSync(file(name));
  const tcb = read('tcb_info.json').toString('utf8');
  const qe = read('qe_identity.json').toString('utf8');
  return {
    pck_crl_issuer_chain: read('pck_crl_issuer_chain.pem').toString('utf8'),
    root_ca_crl: read('root_ca_crl.der').toString('hex'),
    pck_crl: read('pck_crl.der').toString('hex'),
    tcb_info_issuer_chain: read('tcb_info_issuer_chain.pem').toString('utf8'),
    tcb_info: signedValue(tcb, 'tcbInfo', file('tcb_info.json')),
    tcb_info_signature: JSON.parse(tcb).signature,
    qe_identity_issuer_chain: read('qe_identity_issuer_chain.pem').toString('utf8'),
    qe_identity: signedValue(qe, 'enclaveIdentity', file('qe_identity.json')),
    qe_identity_signature: JSON.parse(qe).signature,
  };
}

function pemToDer(pem) {
  const m = /-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/.exec(pem);
  if (!m) throw new Error('trust anchor: no PEM certificate');
  return Buffer.from(m[1].replace(/\s+/g, ''), 'base64');
}

// The two peers, loaded from modules (DEST/node_modules of install.sh). Each verify
// returns {ok:true, status, advisories} or {ok:false, error}; rootPem, when given, is a
// substitute trust anchor (only the js build takes one; web reports it cannot).
export async function loadPeers(dir) {
  const modules = path.resolve(dir);
  const webDir = path.join(modules, '@phala/dcap-qvl-web');
  const web = await import(pathToFileURL(path.join(webDir, 'dcap-qvl-web.js')).href);
  web.initSync({ module: fs.readFileSync(path.join(webDir, 'dcap-qvl-web_bg.wasm')) });
  const js = createRequire(path.join(modules, 'x.js'))('@phala/dcap-qvl');
  const version = (name) =>
    JSON.parse(fs.readFileSync(path.join(modules, name, 'package.json'), 'utf8')).version;
  const run = (f) => {
    try {
      const r = f();
      return { ok: true, status: r.status, advisories: r.advisory_ids ?? r.advisoryIds };
    } catch (e) {
      return { ok: false, error: String(e?.message ?? e) };
    }
  };
  return {
    web: {
      name: `@phala/dcap-qvl-web ${version('@phala/dcap-qvl-web')}`,
      takesRoot: false,
      verify: (quote, coll, at) => run(() => web.js_verify(quote, coll, BigInt(at))),
    },
    js: {
      name: `@phala/dcap-qvl ${version('@phala/dcap-qvl')}`,
      takesRoot: true,
      verify: (quote, coll, at, rootPem) =>
        run(() =>
          rootPem
            ? js.QuoteVerifier.newWithRootCa(pemToDer(rootPem)).verify(quote, coll, at)
            : js.verify(quote, coll, at),
        ),
    },
  };
}
