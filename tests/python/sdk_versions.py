"""Count a key's versions in a vault with the official Python SDK (azure-keyvault-keys).

    sdk_versions.py VAULT_URL CA_PEM NAME [NAME...]

Prints one JSON object: for each NAME, its versions as the SDK lists them (following
nextLink, one per page), each with `enabled` and `expires`, and the current version's id.
The Rust rehearsal tests call it to check the simulator's key versions independently of
byok's own client. Not a pytest module (its name does not start with test_).
"""

import json
import sys
import time

from azure.core.credentials import AccessToken
from azure.keyvault.keys import KeyClient


class StaticToken:
    def get_token(self, *scopes, **kwargs):
        return AccessToken("rehearsal-token", int(time.time()) + 3600)


def main(url, ca, names):
    client = KeyClient(url, credential=StaticToken(), verify_challenge_resource=False, connection_verify=ca)
    out = {}
    for name in names:
        versions = [
            {
                "version": p.version,
                "enabled": p.enabled,
                "expires": p.expires_on.isoformat() if p.expires_on else None,
            }
            for p in client.list_properties_of_key_versions(name, max_page_size=1)
        ]
        out[name] = {"versions": versions, "current": client.get_key(name).properties.version}
    print(json.dumps(out))


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit("usage: sdk_versions.py VAULT_URL CA_PEM NAME [NAME...]")
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
