#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Known-answer vectors for DESIGN.md sections 3a, 3b and 4 (format: section 9).

This is an independent implementation of the message record, the link record
and both key schedules, written from DESIGN.md alone (Python's hmac/hashlib
for HMAC-SHA256 and HKDF, python3-cryptography for AES-256-GCM), so that the
C library is checked against something other than itself.  Every input comes
from SHA-256 of a fixed label, so each run writes byte-identical files.

Run from anywhere with Debian's interpreter (python3-cryptography is a Debian
package):   /usr/bin/python3 tests/vectors/gen_vectors.py

It writes record.json, session_keys.json, link_record.json and link_keys.json
beside itself, and the fuzz seed corpora tests/fuzz/corpus/fuzz_record/ and
tests/fuzz/corpus/fuzz_link/ (valid records under the fixed keys the fuzz
targets use).
"""

import hashlib
import hmac
import json
import os
import struct
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HERE = os.path.dirname(os.path.abspath(__file__))
FUZZ = os.path.join(HERE, "..", "fuzz", "corpus")

SESSION_LABEL = b"srm/1 session"
LINK_LABEL = b"srm/1 link"
PT_SIZES = [0, 1, 31, 32, 33, 65536]
# (plaintext length, seq): the large ones make the high half of the counter
# matter and are still exact in every JSON parser (<= 2^53).
EXTRA_CASES = [(33, 2**40 + 12345), (1, 2**53 - 1), (32, 2**32), (64, 2**32 - 1),
               (5, 1), (100, 7)]


def det(label, n):
    """n deterministic bytes: SHA-256(label || u32be(i)) for i = 0, 1, ..."""
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(label.encode() + struct.pack(">I", i)).digest()
        i += 1
    return out[:n]


def hm(key, msg):
    return hmac.new(key, msg, hashlib.sha256).digest()


def hkdf_extract(salt, ikm):
    return hm(salt, ikm)


def hkdf_expand(prk, info, length):
    okm, t, i = b"", b"", 1
    while len(okm) < length:
        t = hm(prk, t + info + bytes([i]))
        okm += t
        i += 1
    return okm[:length]


def record_seal(k_enc, k_mac, sid, seq, iv, pt):
    """DESIGN.md 3a."""
    ks = b""
    i = 0
    while len(ks) < len(pt):
        ks += hm(k_enc, iv + struct.pack(">I", i))
        i += 1
    ct = bytes(a ^ b for a, b in zip(pt, ks))
    tag = hm(k_mac, iv + ct + sid + struct.pack(">Q", seq))
    return struct.pack(">Q", seq) + iv + ct + tag


def link_seal(key, iv_dir, link_id, seq, pt):
    """DESIGN.md 3b: returns ct || tag."""
    nonce = iv_dir + struct.pack(">Q", seq)
    aad = link_id + struct.pack(">Q", seq)
    return AESGCM(key).encrypt(nonce, pt, aad)


def kdf(label, okm_len, z, ni, nr, th):
    """DESIGN.md 4."""
    prk = hkdf_extract(ni + nr, z)
    return hkdf_expand(prk, label + th, okm_len)


def split(okm, names_lens):
    out, off = {}, 0
    for name, n in names_lens:
        out[name] = okm[off:off + n].hex()
        off += n
    assert off == len(okm)
    return out


def record_vectors():
    vecs = []
    cases = [(n, 0) for n in PT_SIZES] + EXTRA_CASES
    for j, (n, seq) in enumerate(cases):
        tagc = "record/%d" % j
        k_enc = det(tagc + "/enc_key", 32)
        k_mac = det(tagc + "/mac_key", 32)
        sid = det(tagc + "/session_id", 16)
        iv = det(tagc + "/iv", 16)
        pt = det(tagc + "/plaintext", n)
        rec = record_seal(k_enc, k_mac, sid, seq, iv, pt)
        vecs.append({"enc_key": k_enc.hex(), "mac_key": k_mac.hex(),
                     "session_id": sid.hex(), "seq": seq, "iv": iv.hex(),
                     "plaintext": pt.hex(), "record": rec.hex()})
    return vecs


def link_record_vectors():
    vecs = []
    cases = [(n, 0) for n in PT_SIZES] + EXTRA_CASES
    for j, (n, seq) in enumerate(cases):
        tagc = "link_record/%d" % j
        key = det(tagc + "/key", 32)
        iv = det(tagc + "/iv", 4)
        lid = det(tagc + "/link_id", 16)
        pt = det(tagc + "/plaintext", n)
        rec = link_seal(key, iv, lid, seq, pt)
        vecs.append({"key": key.hex(), "iv": iv.hex(), "link_id": lid.hex(),
                     "seq": seq, "plaintext": pt.hex(), "record": rec.hex()})
    return vecs


def key_inputs(tagc):
    return (det(tagc + "/z", 32), det(tagc + "/ni", 32), det(tagc + "/nr", 32),
            det(tagc + "/th", 32))


def session_key_vectors():
    vecs = []
    for j in range(6):
        z, ni, nr, th = key_inputs("session_keys/%d" % j)
        if j == 5:
            # Entry 0 with the nonces swapped: the salt order must matter.
            z, nr, ni, th = key_inputs("session_keys/0")
        okm = kdf(SESSION_LABEL, 144, z, ni, nr, th)
        v = {"z": z.hex(), "ni": ni.hex(), "nr": nr.hex(), "th": th.hex()}
        v.update(split(okm, [("k_enc_i2r", 32), ("k_mac_i2r", 32), ("k_enc_r2i", 32),
                             ("k_mac_r2i", 32), ("session_id", 16)]))
        vecs.append(v)
    return vecs


def link_key_vectors():
    vecs = []
    for j in range(6):
        z, ni, nr, th = key_inputs("link_keys/%d" % j)
        if j == 5:
            # Same Z/Ni/Nr/TH as session_keys[0]: the label separates the two.
            z, ni, nr, th = key_inputs("session_keys/0")
        okm = kdf(LINK_LABEL, 88, z, ni, nr, th)
        v = {"z": z.hex(), "ni": ni.hex(), "nr": nr.hex(), "th": th.hex()}
        v.update(split(okm, [("key_c2r", 32), ("key_r2c", 32), ("iv_c2r", 4),
                             ("iv_r2c", 4), ("link_id", 16)]))
        vecs.append(v)
    return vecs


def write_json(name, vecs):
    path = os.path.join(HERE, name)
    with open(path, "w", encoding="ascii") as f:
        json.dump(vecs, f, indent=1)
        f.write("\n")
    print("wrote %s (%d vectors)" % (path, len(vecs)))


# Fixed keys of tests/fuzz/fuzz_record.c and tests/fuzz/fuzz_link.c: bytes
# 0x01.., 0x02.., ... so that the C side needs no table.
FUZZ_ENC = bytes([0x01] * 32)
FUZZ_MAC = bytes([0x02] * 32)
FUZZ_SID = bytes([0x03] * 16)
FUZZ_LKEY = bytes([0x04] * 32)
FUZZ_LIV = bytes([0x05] * 4)
FUZZ_LID = bytes([0x06] * 16)


def write_corpus():
    """First byte 0: the rest is fed as-is at seq 0 (valid records open)."""
    rdir = os.path.join(FUZZ, "fuzz_record")
    ldir = os.path.join(FUZZ, "fuzz_link")
    os.makedirs(rdir, exist_ok=True)
    os.makedirs(ldir, exist_ok=True)
    files = []
    for n in (0, 1, 33, 100):
        iv = det("fuzz_record/iv/%d" % n, 16)
        pt = det("fuzz_record/pt/%d" % n, n)
        files.append((os.path.join(rdir, "valid_%d" % n),
                      b"\x00" + record_seal(FUZZ_ENC, FUZZ_MAC, FUZZ_SID, 0, iv, pt)))
        files.append((os.path.join(ldir, "valid_%d" % n),
                      b"\x00" + link_seal(FUZZ_LKEY, FUZZ_LIV, FUZZ_LID, 0, pt)))
    # Mode 1: seal a plaintext of length byte 1, then apply (pos16, xor8) edits.
    files.append((os.path.join(rdir, "mutate_none"), b"\x01\x20"))
    files.append((os.path.join(rdir, "mutate_one"), b"\x01\x20\x00\x30\x80"))
    files.append((os.path.join(ldir, "mutate_none"), b"\x01\x20"))
    files.append((os.path.join(ldir, "mutate_one"), b"\x01\x20\x00\x10\x01"))
    for path, data in files:
        with open(path, "wb") as f:
            f.write(data)
    print("wrote %d fuzz seed files" % len(files))


def main():
    write_json("record.json", record_vectors())
    write_json("session_keys.json", session_key_vectors())
    write_json("link_record.json", link_record_vectors())
    write_json("link_keys.json", link_key_vectors())
    write_corpus()
    return 0


if __name__ == "__main__":
    sys.exit(main())
