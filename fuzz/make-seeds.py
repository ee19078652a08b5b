#!/usr/bin/env python3
"""Write fuzz/seeds/<target>/ from the test fixtures (tests/fixtures): genuine inputs of
every form each parser reads, and a few hostile ones from the bad-input corpus. Rerun
after changing it; do not edit its output by hand. Deterministic (no randomness)."""
import base64, gzip, hashlib, json, os, re, shutil, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures")
OUT = os.path.join(ROOT, "fuzz", "seeds")
BAD = os.path.join(FIX, "bad")

def b64u(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
def unb64u(s): return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
def read(*p):
    with open(os.path.join(*p), "rb") as f: return f.read()

seeds = {}
def put(target, name, data):
    if isinstance(data, str): data = data.encode()
    seeds.setdefault(target, {})[name] = data

def copy_bad(target, group, pattern, limit=4096):
    d = os.path.join(BAD, group)
    for n in sorted(os.listdir(d)):
        p = os.path.join(d, n)
        if re.search(pattern, n) and os.path.isfile(p) and os.path.getsize(p) <= limit:
            put(target, "bad-" + n, read(p))

# DER helpers for the KEK forms.
def der_len(n):
    if n < 0x80: return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big"); return bytes([0x80 | len(b)]) + b
def tlv(t, v): return bytes([t]) + der_len(len(v)) + v
def der_int(b):
    b = b.lstrip(b"\0") or b"\0"
    if b[0] & 0x80: b = b"\0" + b
    return tlv(0x02, b)
def pem(label, der):
    s = base64.b64encode(der).decode()
    return "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (label, "\n".join(s[i:i+64] for i in range(0, len(s), 64)), label)

# kek: KeyBundle JSON, bare JWK, PEM SPKI, PEM PKCS#1, DER of both.
kek_a = read(FIX, "ceremony", "keks", "vault-a-kek.json")
put("kek", "keybundle-a.json", kek_a)
put("kek", "keybundle-b.json", read(FIX, "ceremony", "keks", "vault-b-kek.json"))
jwk = json.loads(kek_a)["key"]
put("kek", "jwk.json", json.dumps(jwk))
n, e = unb64u(jwk["n"]), unb64u(jwk["e"])
pkcs1 = tlv(0x30, der_int(n) + der_int(e))
spki = tlv(0x30, tlv(0x30, tlv(0x06, bytes.fromhex("2a864886f70d010101")) + b"\x05\x00") + tlv(0x03, b"\0" + pkcs1))
put("kek", "spki.pem", pem("PUBLIC KEY", spki))
put("kek", "pkcs1.pem", pem("RSA PUBLIC KEY", pkcs1))
put("kek", "spki.der", spki)
put("kek", "pkcs1.der", pkcs1)
copy_bad("kek", "kek-inspect", r"\.(json|pem|der|bin)$")

# package: a genuine-shaped package for the KEK (RSA part 256 bytes, a KWP block of a
# 2048-bit key's size), and the bad-input corpus's packages.
kid = jwk["kid"]
ct = hashlib.sha256(b"ct").digest() * 46  # 1472 bytes = 256 + 1216
put("package", "genuine.byok", json.dumps({"schema_version": "1.0.0",
    "header": {"kid": kid, "alg": "dir", "enc": "CKM_RSA_AES_KEY_WRAP"},
    "ciphertext": b64u(ct), "generator": "byok 0.1.0; fuzz seed"}, indent=2) + "\n")
copy_bad("package", "package-inspect", r"\.byok$")

# plan: the fixture plan, the bad-input world's plans, small hostile ones.
put("plan", "plan.json", read(FIX, "ceremony", "plan.json"))
for n in sorted(os.listdir(os.path.join(BAD, "_world"))):
    put("plan", "world-" + n, read(BAD, "_world", n))
copy_bad("plan", "ceremony-check", r"\.json$", limit=2048)

# transcript: a closed (unsigned) transcript, an unfinished one, one with a torn line.
plan_sha = hashlib.sha256(read(FIX, "ceremony", "plan.json")).hexdigest()
def record(seq, prev, step, **kw):
    r = {"seq": seq, "prev": prev, "time": "2026-12-01T10:00:%02dZ" % seq, "step": step,
         "actor": "byok", "inputs": {}, "outputs": {}, "hsm": None,
         "tool": {"name": "byok", "version": "0.1.0"}, "detail": {}}
    r.update(kw); return r
def chain(steps):
    lines, prev = [], plan_sha
    for i, (step, kw) in enumerate(steps):
        line = json.dumps(record(i, prev, step, **kw), separators=(",", ":")).encode()
        lines.append(line); prev = hashlib.sha256(line).hexdigest()
    return b"".join(l + b"\n" for l in lines)
hsm = {"label": "Contoso-Ceremony", "manufacturer": "SoftHSM project", "model": "SoftHSM v2",
       "serial": "8a3f1c0d5e6b7a29", "firmware": "2.6", "hardware": "2.6"}
opening = ("open", {"inputs": {"plan": plan_sha}, "hsm": hsm, "detail": {"ceremony": "contoso-rehearsal-2026-12"}})
put("transcript", "closed.jsonl", chain([opening, ("preflight", {}), ("close", {"detail": {"unsigned": "no signer on this token"}})]))
put("transcript", "unfinished.jsonl", chain([opening, ("preflight", {})]))
put("transcript", "torn.jsonl", chain([opening, ("preflight", {})]) + b'{"seq":2,"prev":"')

# backup_manifest and backup_file.
hdr = b64u(b'{"alg":"dir","enc":"A256GCM","kid":"fuzz"}')
backup = b"&AzureKeyVaultKeyBackupV1.microsoft.com" + (hdr + ".." + b64u(b"iv" * 6) + "." + b64u(b"c" * 40) + "." + b64u(b"t" * 16)).encode()
put("backup_file", "genuine.backup", backup)
put("backup_file", "base64.backup", base64.b64encode(backup))
def entry(f, data, key):
    return json.dumps({"file": f, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
        "vault": "https://contoso-vault1.vault.azure.net", "key": key, "version": "2b337f6d4ec8f818955e1b98407bcca1",
        "time": "2026-12-01T10:00:00Z", "key_spki_sha256": hashlib.sha256(spki).hexdigest()})
put("backup_manifest", "manifest.jsonl", entry("contoso-vault1-Key001-Backup-20261201.backup", backup, "Key001") + "\n"
    + entry("contoso-vault1-Key001-Backup-20261201-2.backup", backup, "Key001") + "\n")

# attestation_blob: the Google Cloud sample blobs, gzip-wrapped too.
att = os.path.join(FIX, "attestation")
blob = read(att, "gcp-ec-p256-attestation.bin")
put("attestation_blob", "gcp-ec-p256.bin", blob)
put("attestation_blob", "gcp-rsa-nochain.bin", read(att, "gcp-rsa-attestation-nochain.bin"))
put("attestation_blob", "gcp-ec-p256.bin.gz", gzip.compress(blob, mtime=0))

# attestation_chain: the sample's DER certificates, separated by --8<--.
chain_pem = read(att, "gcp-ec-p256-chain.pem").decode()
ders = [base64.b64decode("".join(m.split())) for m in re.findall(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", chain_pem, re.S)]
put("attestation_chain", "gcp-chain.der", b"--8<--".join(ders))
for i, d in enumerate(ders):
    put("attestation_chain", "cert-%d.der" % i, d)

# attestation_json: MRVL-1 forms (REST KeyBundle with base64url fields, az's file with
# standard base64), built from the sample, and small hostile ones.
put("attestation_json", "mrvl1-keybundle.json", json.dumps({"key": jwk, "attributes": {"attestation": {
    "version": "MRVL-1", "certificatePemFile": b64u(chain_pem.encode()), "privateKeyAttestation": b64u(gzip.compress(blob, mtime=0))}}}))
put("attestation_json", "mrvl1-az.json", json.dumps({"version": "MRVL-1", "certificatePemFile": chain_pem,
    "privateKeyAttestation": base64.b64encode(blob).decode(), "publicKeyAttestation": ""}))
copy_bad("attestation_json", "attestation-verify", r"\.json$", limit=2048)

# p11uri, keyid, sim_request: text.
for i, u in enumerate(["pkcs11:token=Contoso%20Ceremony;object=Key001;type=private;id=%01%ff?module-path=/usr/lib/softhsm/libsofthsm2.so",
        "pkcs11:token=a;serial=8a3f1c0d5e6b7a29;manufacturer=SoftHSM%20project;model=SoftHSM%20v2?pin-source=file:/run/pin",
        "pkcs11:token=a?pin-value=1234", "pkcs11:object=k;type=secret-key"]):
    put("p11uri", "uri-%d.txt" % i, u)
for i, k in enumerate([kid, "https://contoso-vault1.vault.azure.net/keys/Key001/2b337f6d4ec8f818955e1b98407bcca1",
        "https://contoso.managedhsm.azure.net/keys/k/0123456789abcdef0123456789abcdef",
        "https://contoso.vault.usgovcloudapi.net:443/keys/k/0123456789abcdef0123456789abcdef"]):
    put("keyid", "kid-%d.txt" % i, k)
for i, (q, b) in enumerate([
        ("api-version=7.6", {"kty": "RSA-HSM", "key_size": 2048, "key_ops": ["import"], "attributes": {"enabled": True, "exportable": False}, "tags": {"a": "b"}}),
        ("api-version=7.4-preview.1&maxresults=2", {"key": dict(jwk, key_hsm=b64u(b"x" * 32)), "Hsm": True, "attributes": {"nbf": None, "exp": 1900000000}}),
        ("api-version=2025-07-01&%24skiptoken=abc", {"key_ops": ["wrapKey", "unwrapKey"], "attributes": {"enabled": False}, "tags": {}}),
        ("api-version=7.6", {"alg": "RSA-OAEP-256", "value": b64u(b"k" * 32)}),
        ("api-version=7.6", {"value": b64u(backup)})]):
    put("sim_request", "req-%d.txt" % i, q + "\n" + json.dumps(b))

shutil.rmtree(OUT, ignore_errors=True)
total = 0
for t, files in sorted(seeds.items()):
    os.makedirs(os.path.join(OUT, t))
    for n, d in sorted(files.items()):
        with open(os.path.join(OUT, t, n), "wb") as f: f.write(d)
        total += len(d)
    print("%-18s %3d files" % (t, len(files)))
print("total %d bytes" % total)
