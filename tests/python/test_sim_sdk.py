"""byok-vault-sim against the official Python SDK (azure-keyvault-keys, the library az uses).

Run (from the repository root, after `cargo build --workspace --bins`):

    python3 -m venv venv && venv/bin/pip install azure-keyvault-keys azure-core pytest cryptography
    BYOK_VAULT_SIM=target/debug/byok-vault-sim venv/bin/pytest tests/python

The simulator is started on a free loopback port with a fresh state directory per test
module; the SDK trusts the simulator's own CA (connection_verify=ca.pem).
"""

import base64
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceResponseError,
)
from azure.keyvault.keys import JsonWebKey, KeyClient, KeyType
from azure.keyvault.keys.crypto import CryptographyClient, KeyWrapAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

REPO = Path(__file__).resolve().parents[2]
SIM = os.environ.get("BYOK_VAULT_SIM", str(REPO / "target" / "debug" / "byok-vault-sim"))
OAEP_SHA1 = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)


class StaticToken:
    """A credential that hands out a fixed token (the simulator accepts any)."""

    def __init__(self):
        self.scopes = []

    def get_token(self, *scopes, **kwargs):
        self.scopes.extend(scopes)
        return AccessToken("byok-test-token", int(time.time()) + 3600)


class Sim:
    def __init__(self, state_dir, *extra):
        if not os.path.exists(SIM):
            pytest.fail(f"{SIM} not found: build it with `cargo build --workspace --bins` or set BYOK_VAULT_SIM")
        self.log = open(Path(str(state_dir) + ".log"), "wb")
        self.proc = subprocess.Popen(
            [SIM, "--listen", "127.0.0.1:0", "--state-dir", str(state_dir), *extra],
            stdout=subprocess.PIPE,
            stderr=self.log,
        )
        line = self.proc.stdout.readline()
        if not line:
            self.stop()
            pytest.fail(f"byok-vault-sim did not start: see {self.log.name}")
        ready = json.loads(line)
        self.url, self.ca, self.kind = ready["url"], ready["ca"], ready["kind"]
        self.credential = StaticToken()
        self.client = KeyClient(
            self.url,
            credential=self.credential,
            verify_challenge_resource=False,
            connection_verify=self.ca,
        )

    def crypto(self, key):
        return CryptographyClient(
            key, credential=self.credential, verify_challenge_resource=False, connection_verify=self.ca
        )

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    s = Sim(tmp_path_factory.mktemp("vault") / "state", "--recovery-level", "Recoverable+Purgeable")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def protected_sim(tmp_path_factory):
    s = Sim(tmp_path_factory.mktemp("vault") / "state")
    yield s
    s.stop()


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def byok_package(kek, target_private):
    """A .byok transfer package for `target_private` under the vault KEK `kek`, as an HSM makes it."""
    kek_public = rsa.RSAPublicNumbers(
        int.from_bytes(kek.key.e, "big"), int.from_bytes(kek.key.n, "big")
    ).public_key()
    aes = os.urandom(32)
    pkcs8 = target_private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    ciphertext = kek_public.encrypt(aes, OAEP_SHA1) + aes_key_wrap_with_padding(aes, pkcs8)
    package = {
        "schema_version": "1.0.0",
        "header": {"kid": kek.id, "alg": "dir", "enc": "CKM_RSA_AES_KEY_WRAP"},
        "ciphertext": b64url(ciphertext),
        "generator": "byok python tests; cryptography (software)",
    }
    return json.dumps(package, indent=2).encode() + b"\n"


def n_of(private):
    n = private.public_key().public_numbers().n
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def import_byok(client, name, package, ops=("wrapKey", "unwrapKey")):
    # As az does: the raw .byok bytes go in JsonWebKey.t, which the SDK sends as key_hsm.
    return client.import_key(
        name, JsonWebKey(kty=KeyType.rsa_hsm, key_ops=list(ops), t=package), hardware_protected=True
    )


def test_byok_ceremony_end_to_end(sim):
    client = sim.client
    kek = client.create_rsa_key("sdk-kek", size=2048, hardware_protected=True, key_operations=["import"])
    assert kek.key_type == KeyType.rsa_hsm
    assert kek.key_operations == ["import"]
    assert kek.properties.recovery_level == "Recoverable+Purgeable"
    assert kek.id.startswith(sim.url + "/keys/sdk-kek/")
    # The SDK asked for a token for the resource the challenge named: Key Vault's.
    assert sim.kind == "keyvault"
    assert set(sim.credential.scopes) == {"https://vault.azure.net/.default"}

    target = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    imported = import_byok(client, "sdk-target", byok_package(kek, target))
    assert imported.key_type == KeyType.rsa_hsm
    assert imported.key.n == n_of(target)
    assert imported.properties.enabled is True
    assert imported.properties.exportable is False

    # Wrap locally with the public key, unwrap in the vault.
    cek = os.urandom(32)
    wrapped = target.public_key().encrypt(cek, OAEP_SHA1)
    crypto = sim.crypto(imported)
    assert crypto.unwrap_key(KeyWrapAlgorithm.rsa_oaep, wrapped).key == cek
    oaep256 = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    wrapped256 = target.public_key().encrypt(cek, oaep256)
    assert crypto.unwrap_key(KeyWrapAlgorithm.rsa_oaep_256, wrapped256).key == cek
    # A client built from the key id fetches the key first, then works the same.
    by_id = sim.crypto(imported.id)
    result = by_id.wrap_key(KeyWrapAlgorithm.rsa1_5, cek)
    assert by_id.unwrap_key(KeyWrapAlgorithm.rsa1_5, result.encrypted_key).key == cek

    # The KEK refuses anything but import.
    with pytest.raises(HttpResponseError) as e:
        sim.crypto(kek.id).unwrap_key(KeyWrapAlgorithm.rsa_oaep, wrapped)
    assert e.value.status_code == 403

    # A tampered package is refused and stores nothing.
    pkg = json.loads(byok_package(kek, target))
    ct = bytearray(base64.urlsafe_b64decode(pkg["ciphertext"] + "=" * (-len(pkg["ciphertext"]) % 4)))
    ct[-5] ^= 1
    pkg["ciphertext"] = b64url(bytes(ct))
    with pytest.raises(HttpResponseError) as e:
        import_byok(client, "sdk-tampered", json.dumps(pkg).encode())
    assert e.value.status_code == 400
    assert e.value.error.code == "BadParameter"
    with pytest.raises(ResourceNotFoundError):
        client.get_key("sdk-tampered")

    # Backup, restore conflict, delete, purge, restore.
    backup = client.backup_key("sdk-target")
    assert isinstance(backup, bytes) and len(backup) > 100
    with pytest.raises(ResourceExistsError):
        client.restore_key_backup(backup)
    deleted = client.begin_delete_key("sdk-target").result()
    assert deleted.recovery_id == sim.url + "/deletedkeys/sdk-target"
    assert deleted.scheduled_purge_date > deleted.deleted_date
    assert [d.name for d in client.list_deleted_keys()] == ["sdk-target"]
    with pytest.raises(ResourceExistsError):
        client.restore_key_backup(backup)
    client.purge_deleted_key("sdk-target")
    with pytest.raises(ResourceNotFoundError):
        client.get_deleted_key("sdk-target")
    restored = client.restore_key_backup(backup)
    assert restored.id == imported.id
    assert restored.key.n == n_of(target)
    assert sim.crypto(restored).unwrap_key(KeyWrapAlgorithm.rsa_oaep, wrapped).key == cek


def test_keys_list_versions_update(sim):
    client = sim.client
    first = client.create_rsa_key("sdk-roll", size=3072, hardware_protected=True, tags={"use": "exo"})
    second = client.create_rsa_key("sdk-roll", size=2048, key_operations=["wrapKey", "unwrapKey"])
    assert first.properties.version != second.properties.version
    assert len(first.properties.version) == 32
    assert client.get_key("sdk-roll").id == second.id
    assert client.get_key("sdk-roll", first.properties.version).key.n == first.key.n
    versions = sorted(p.version for p in client.list_properties_of_key_versions("sdk-roll"))
    assert versions == sorted([first.properties.version, second.properties.version])
    assert "sdk-roll" in [p.name for p in client.list_properties_of_keys()]
    # Paging: the SDK follows nextLink.
    paged = list(client.list_properties_of_key_versions("sdk-roll", max_page_size=1))
    assert len(paged) == 2
    updated = client.update_key_properties("sdk-roll", enabled=False, tags={"state": "retired"})
    assert updated.properties.enabled is False
    assert updated.properties.tags == {"state": "retired"}
    assert client.get_key("sdk-roll", first.properties.version).properties.tags == {"use": "exo"}
    with pytest.raises(ResourceNotFoundError):
        client.get_key("sdk-nothing")

    # A plain software key as a JWK.
    soft = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    nums = soft.private_numbers()

    def i2b(i):
        return i.to_bytes((i.bit_length() + 7) // 8, "big")

    jwk = JsonWebKey(
        kty=KeyType.rsa,
        key_ops=["unwrapKey"],
        n=i2b(nums.public_numbers.n),
        e=i2b(nums.public_numbers.e),
        d=i2b(nums.d),
        p=i2b(nums.p),
        q=i2b(nums.q),
        dp=i2b(nums.dmp1),
        dq=i2b(nums.dmq1),
        qi=i2b(nums.iqmp),
    )
    plain = client.import_key("sdk-plain", jwk)
    assert plain.key_type == KeyType.rsa
    assert plain.key.n == n_of(soft)


def test_purge_protection_and_recover(protected_sim):
    client = protected_sim.client
    key = client.create_rsa_key("sdk-protected", size=2048, hardware_protected=True)
    assert key.properties.recovery_level == "Recoverable+ProtectedSubscription"
    assert key.properties.recoverable_days == 90
    client.begin_delete_key("sdk-protected").result()
    with pytest.raises(HttpResponseError) as e:
        client.purge_deleted_key("sdk-protected")
    assert e.value.status_code == 403
    recovered = client.begin_recover_deleted_key("sdk-protected").result()
    assert recovered.id == key.id
    assert client.get_key("sdk-protected").key.n == key.key.n


def test_kek_of_another_vault_is_refused(sim, protected_sim):
    kek = protected_sim.client.create_rsa_key(
        "other-kek", size=2048, hardware_protected=True, key_operations=["import"]
    )
    target = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(HttpResponseError) as e:
        import_byok(sim.client, "sdk-foreign", byok_package(kek, target))
    assert e.value.status_code == 400
    assert "not in this vault" in e.value.message


def test_sdk_against_faults(tmp_path):
    """What the SDK's retry policy makes of the simulator's faults (deterministic counters)."""
    # 503 + Retry-After: 1 on every 2nd request: request 1 is the challenge, 2 fails, the SDK
    # waits and retries (3), so the create succeeds; the next request (4) fails and is retried too.
    s = Sim(tmp_path / "a", "--fault-503", "2")
    try:
        start = time.monotonic()
        key = s.client.create_rsa_key("retried", size=2048)
        assert s.client.get_key("retried").id == key.id
        assert time.monotonic() - start >= 1.0
    finally:
        s.stop()

    # Every 2nd mutating request is applied and its connection dropped.
    s = Sim(tmp_path / "b", "--fault-drop", "2")
    try:
        client = s.client
        kek = client.create_rsa_key("kek", size=2048, hardware_protected=True, key_operations=["import"])
        target = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        # PUT is retried by the SDK after a lost answer: the import "succeeds" but was applied twice.
        import_byok(client, "twice", byok_package(kek, target))
        assert len(list(client.list_properties_of_key_versions("twice"))) == 2
        # POST is not retried: the caller sees an error although the key was created.
        with pytest.raises(ServiceResponseError):
            client.create_rsa_key("lost-answer", size=2048)
        assert len(list(client.list_properties_of_key_versions("lost-answer"))) == 1
    finally:
        s.stop()


def test_key_attestation_managed_hsm(tmp_path):
    """The SDK reads the --managed-hsm simulator's MRVL-1 attestations; byok verifies what the
    SDK got, written as `az keyvault key get-attestation --file` does (standard base64)."""
    state = tmp_path / "hsm"
    s = Sim(state, "--managed-hsm")
    try:
        client = s.client
        kek = client.create_rsa_key("sdk-att-kek", size=2048, hardware_protected=True, key_operations=["import"])
        # A Managed HSM's challenge: the SDK asks for a Managed HSM token.
        assert s.kind == "managedhsm"
        assert set(s.credential.scopes) == {"https://managedhsm.azure.net/.default"}
        for version in (kek.properties.version, None):  # None: latest, `/keys/NAME//attestation`
            got = client.get_key_attestation("sdk-att-kek", version=version)
            assert got.id == kek.id
            assert got.key.n == kek.key.n
            att = got.properties.attestation
            assert att.version == "MRVL-1"
            assert att.certificate_pem_file.count(b"-----BEGIN CERTIFICATE-----") == 4
            assert len(att.private_key_attestation) > 256 and len(att.public_key_attestation) > 256
        az_file = tmp_path / "az-attestation.json"
        az_file.write_text(json.dumps({
            "certificatePemFile": base64.b64encode(att.certificate_pem_file).decode(),
            "privateKeyAttestation": base64.b64encode(att.private_key_attestation).decode(),
            "publicKeyAttestation": base64.b64encode(att.public_key_attestation).decode(),
            "version": att.version,
        }))
        public = rsa.RSAPublicNumbers(int.from_bytes(kek.key.e, "big"), int.from_bytes(kek.key.n, "big")).public_key()
        key_pem = tmp_path / "kek.pub.pem"
        key_pem.write_bytes(public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        byok = Path(SIM).parent / "byok"
        assert byok.exists(), f"{byok} not found: build it with `cargo build --workspace --bins`"
        # The simulator's kid is a loopback address: a rehearsal.
        args = [str(byok), "--rehearsal", "attestation", "verify", str(az_file), "--key", str(key_pem), "--kid", kek.id]
        r = subprocess.run(args + ["--trust-root", str(state / "attestation-root.pem"), "--json"], capture_output=True)
        assert r.returncode == 0, r.stderr
        report = json.loads(r.stdout)
        assert report["key_name"] == "sdk-att-kek" and report["key_version"] == kek.properties.version
        assert report["objects"][0]["never_extractable"] is True
        r = subprocess.run(args, capture_output=True)
        assert r.returncode == 1 and b"Marvell" in r.stderr
        # Without --rehearsal, the simulator's loopback kid is refused.
        r = subprocess.run([a for a in args if a != "--rehearsal"], capture_output=True)
        assert r.returncode == 1 and b"rehearsal" in r.stderr
        with pytest.raises(ResourceNotFoundError):
            client.get_key_attestation("sdk-att-kek", version="0" * 32)
    finally:
        s.stop()


def test_key_attestation_refused_by_key_vault(sim):
    key = sim.client.create_rsa_key("sdk-no-att", size=2048, hardware_protected=True)
    with pytest.raises(HttpResponseError) as e:
        sim.client.get_key_attestation("sdk-no-att", version=key.properties.version)
    assert e.value.status_code == 400
    assert "Managed HSM" in str(e.value)
