"""An independent, strict check of a BYOK-style wrapped key (issue 13's targets).

    check_blob.py --kek-private PEM --blob FILE --form raw|base64 --hash sha1|sha256 --public PEM

The blob is what byok writes for AWS KMS (`NAME.aws.bin`, raw), Google Cloud KMS
(`NAME.gcp.bin`, raw) or OpenBao (`NAME.openbao.b64`, base64): RSA-OAEP (HASH, MGF1 with
HASH, no label) of an AES-256 key under the wrapping key, then AES-KWP (RFC 5649) of the
key's PKCS#8 DER. This unwraps it with `cryptography` (pyca), as the targets do, and
strictly: the OAEP part is exactly the wrapping key's modulus length, the AES key is 32
bytes, the KWP plaintext is exactly one PKCS#8 DER (`load_der_private_key` refuses
trailing bytes, so SoftHSM 2.6.1's zero padding is refused), an RSA key whose public
numbers are those of `--public` (SPKI PEM, the HSM's `NAME.pub.pem`).

Prints one JSON line and exits 0 when the blob holds exactly that key; else prints the
reason on stderr and exits 1. Not a pytest module (pytest collects test_*.py only).
"""

import argparse
import base64
import binascii
import json
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.keywrap import (
    InvalidUnwrap,
    aes_key_unwrap_with_padding,
)

LIMIT = 1 << 20


class Refused(Exception):
    pass


class Parser(argparse.ArgumentParser):
    """Bad arguments exit 1 too, with one `error:` line."""

    def error(self, message):
        print(f"error: {message}", file=sys.stderr)
        sys.exit(1)


def read(path, what):
    try:
        with open(path, "rb") as f:
            data = f.read(LIMIT + 1)
    except OSError as e:
        raise Refused(f"cannot read {what} {path}: {e.strerror}") from None
    if len(data) > LIMIT:
        raise Refused(f"{what} {path} is larger than {LIMIT} bytes")
    return data


def check(args):
    hash_alg = {"sha1": hashes.SHA1, "sha256": hashes.SHA256}[args.hash]
    try:
        kek = serialization.load_pem_private_key(
            read(args.kek_private, "wrapping private key"), password=None
        )
    except ValueError as e:
        raise Refused(f"the wrapping private key does not load: {e}") from None
    if not isinstance(kek, rsa.RSAPrivateKey):
        raise Refused("the wrapping private key is not RSA")
    try:
        expected = serialization.load_pem_public_key(read(args.public, "public key"))
    except ValueError as e:
        raise Refused(f"the expected public key does not load: {e}") from None
    if not isinstance(expected, rsa.RSAPublicKey):
        raise Refused("the expected public key is not RSA")

    blob = read(args.blob, "blob")
    if args.form == "base64":
        text = blob.strip()
        if not text or any(c in text for c in b" \t\r\n"):
            raise Refused("the blob is not base64: empty, or whitespace inside it")
        try:
            blob = base64.b64decode(text, validate=True)
        except binascii.Error as e:
            raise Refused(f"the blob is not base64: {e}") from None

    m = (kek.key_size + 7) // 8
    if len(blob) <= m:
        raise Refused(
            f"the blob is {len(blob)} bytes, not more than the wrapping key's modulus ({m} bytes)"
        )
    rsa_part, kwp_part = blob[:m], blob[m:]
    try:
        aes_key = kek.decrypt(
            rsa_part,
            padding.OAEP(mgf=padding.MGF1(hash_alg()), algorithm=hash_alg(), label=None),
        )
    except ValueError:
        raise Refused(f"RSA-OAEP ({args.hash}) decryption of the first {m} bytes failed") from None
    if len(aes_key) != 32:
        raise Refused(f"the wrapped AES key is {len(aes_key)} bytes, not 32 (AES-256)")
    try:
        pkcs8 = aes_key_unwrap_with_padding(aes_key, kwp_part)
    except InvalidUnwrap:
        raise Refused("AES-KWP (RFC 5649) unwrap failed: integrity check") from None
    except ValueError as e:
        raise Refused(f"AES-KWP (RFC 5649) unwrap failed: {e}") from None
    try:
        key = serialization.load_der_private_key(pkcs8, password=None)
    except ValueError as e:
        raise Refused(
            f"the unwrapped {len(pkcs8)} bytes are not exactly one PKCS#8 DER private key: {e}"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise Refused("the unwrapped key is not RSA")
    got, want = key.public_key().public_numbers(), expected.public_numbers()
    if (got.n, got.e) != (want.n, want.e):
        raise Refused("the unwrapped key is not the expected key (its public numbers differ)")
    return {
        "ok": True,
        "form": args.form,
        "hash": args.hash,
        "kek_bits": kek.key_size,
        "key_bits": key.key_size,
        "pkcs8_bytes": len(pkcs8),
        "blob_bytes": len(blob),
    }


def main(argv=None):
    p = Parser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kek-private", required=True, help="the wrapping key's private key (PEM)")
    p.add_argument("--blob", required=True, help="the wrapped key")
    p.add_argument("--form", required=True, choices=["raw", "base64"])
    p.add_argument("--hash", required=True, choices=["sha1", "sha256"])
    p.add_argument("--public", required=True, help="the expected public key (SPKI PEM)")
    args = p.parse_args(argv)
    try:
        report = check(args)
    except Refused as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(json.dumps(report, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
