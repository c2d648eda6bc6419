#!/usr/bin/python3
"""MRENCLAVE replayed from docs/formats.md alone, independent of kubetee's C code.

usage: mrenclave_replay.py enclave.so dump.json
Reads the unsigned ELF and what `kubetee dump --json` says of its signed image (config,
debug, XFRM, MRENCLAVE), builds SGX's ECREATE/EADD/EEXTEND log over the documented
layout and exits 0 when its SHA-256 is the MRENCLAVE kubetee reported.
"""
import hashlib
import json
import struct
import sys

PAGE = 4096
PT_LOAD, PT_TLS, SHT_DYNSYM = 1, 7, 11
R, W, X = 1, 2, 4
PT_REG, PT_TCS = 2 << 8, 1 << 8
# end of each XSAVE component in the standard format (docs/formats.md, "SSA frame")
XSAVE_END = {0: 576, 1: 576, 2: 832, 3: 1024, 4: 1088, 5: 1152, 6: 1664, 7: 2688,
             9: 2696, 17: 2816, 18: 11008}


def u(fmt, data, off):
    return struct.unpack_from("<" + fmt, data, off)[0]


def read_elf(data):
    phoff, shoff = u("Q", data, 0x20), u("Q", data, 0x28)
    phnum, shnum = u("H", data, 0x38), u("H", data, 0x3C)
    segs, tls = [], (0, 1)
    for i in range(phnum):
        p = phoff + 56 * i
        ptype, pflags = u("I", data, p), u("I", data, p + 4)
        off, vaddr, filesz, memsz, align = (u("Q", data, p + 8), u("Q", data, p + 16),
                                            u("Q", data, p + 32), u("Q", data, p + 40),
                                            u("Q", data, p + 48))
        if ptype == PT_LOAD:
            flags = (R if pflags & 4 else 0) | (W if pflags & 2 else 0) | (X if pflags & 1 else 0)
            segs.append((vaddr, memsz, off, filesz, flags))
        elif ptype == PT_TLS:
            tls = (memsz, align or 1)
    entry = None
    for i in range(shnum):
        s = shoff + 64 * i
        if u("I", data, s + 4) != SHT_DYNSYM:
            continue
        symoff, symsize, link = u("Q", data, s + 24), u("Q", data, s + 32), u("I", data, s + 40)
        stroff = u("Q", data, shoff + 64 * link + 24)
        for k in range(symsize // 24):
            y = symoff + 24 * k
            name_at = stroff + u("I", data, y)
            name = data[name_at:data.index(b"\0", name_at)]
            if name == b"kt_enclave_entry" and u("H", data, y + 6) != 0:
                entry = u("Q", data, y + 8)
    return segs, tls, entry


def main():
    data = open(sys.argv[1], "rb").read()
    dump = json.load(open(sys.argv[2]))
    cfg = dump["config"]
    heap, stack, tcs_count = cfg["heap_size"], cfg["stack_size"], cfg["tcs_count"]
    debug, xfrm = dump["debug"], int(dump["attributes"]["xfrm"], 16)
    segs, (tls_memsz, tls_align), entry = read_elf(data)

    log = bytearray()

    def eadd(off, secinfo, page=None):
        log.extend(b"EADD\0\0\0\0" + struct.pack("<QQ", off, secinfo) + bytes(40))
        if page is not None:
            for c in range(0, PAGE, 256):
                log.extend(b"EEXTEND\0" + struct.pack("<Q", off + c) + bytes(48))
                log.extend(page[c:c + 256])

    image_size = -(-max(v + m for v, m, _, _, _ in segs) // PAGE) * PAGE
    xsave = max(end for bit, end in XSAVE_END.items() if xfrm >> bit & 1)
    ssa_pages = -(-(xsave + 16 + 184) // PAGE)
    tls_bytes = -(-tls_memsz // tls_align) * tls_align
    tls_pages = -(-tls_bytes // PAGE)
    stride = PAGE + stack + PAGE + ssa_pages * PAGE + tls_pages * PAGE + PAGE
    threads = image_size + PAGE + heap
    end = threads + stride * tcs_count
    size = 2 * PAGE
    while size < end:
        size *= 2
    log.extend(b"ECREATE\0" + struct.pack("<IQ", ssa_pages, size) + bytes(44))

    for a in range(0, image_size, PAGE):
        page, flags = bytearray(PAGE), 0
        for vaddr, memsz, off, filesz, f in segs:
            if vaddr >= a + PAGE or vaddr + memsz <= a:
                continue
            flags |= f
            lo, hi = max(vaddr, a), min(vaddr + filesz, a + PAGE)
            if hi > lo:
                page[lo - a:hi - a] = data[off + lo - vaddr:off + hi - vaddr]
        if flags:
            eadd(a, PT_REG | flags, page)
    block = struct.pack("<IIQQQHHI", 1, tcs_count, heap, stack, cfg["max_message_size"],
                        dump["prodid"], dump["svn"], 1 if debug else 0)
    eadd(image_size, PT_REG | R, block + bytes(PAGE - len(block)))
    for a in range(image_size + PAGE, threads, PAGE):
        eadd(a, PT_REG | R | W)
    for t in range(tcs_count):
        base = threads + t * stride + PAGE
        for a in range(base, base + stack, PAGE):
            eadd(a, PT_REG | R | W)
        tcs = base + stack
        ssa = tcs + PAGE
        tcb = ssa + (ssa_pages + tls_pages) * PAGE
        page = struct.pack("<QQQIIQQQQII", 0, 1 if debug else 0, ssa, 0, 1, entry, 0, tcb, tcb,
                           0xFFFFFFFF, 0xFFFFFFFF)
        eadd(tcs, PT_TCS, page + bytes(PAGE - len(page)))
        for a in range(ssa, tcb + PAGE, PAGE):
            eadd(a, PT_REG | R | W)

    got = hashlib.sha256(log).hexdigest()
    if got != dump["mrenclave"]:
        print("replayed MRENCLAVE %s, kubetee says %s" % (got, dump["mrenclave"]))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
