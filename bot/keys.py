"""`self-heal keys`: forwarder keys, each bound to one installation."""

from __future__ import annotations

import argparse
import os
import secrets
import sys

from .settings import DATABASE_ENV, DEFAULT_DATABASE
from .store import Store

KEY_ID_PREFIX = "fk_"


def create_key(
    store: Store, installation_id: int, log_group_prefix: str | None
) -> tuple[str, str]:
    """Make and store a key; return (key id, secret). The secret shows once."""
    key_id = KEY_ID_PREFIX + secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    store.put_key(key_id, secret, installation_id, log_group_prefix or None)
    return key_id, secret


def main(args: argparse.Namespace) -> int:
    store = Store(os.environ.get(DATABASE_ENV) or DEFAULT_DATABASE)
    try:
        if args.keys_command == "create":
            key_id, secret = create_key(store, args.installation, args.log_group_prefix)
            print(f"key id: {key_id}")
            print(f"secret: {secret}")
            print("Store the secret in Secrets Manager now; it is not shown again.")
            return 0
        if args.keys_command == "list":
            for key in store.list_keys():
                state = "revoked" if key.revoked else "active"
                scope = key.log_group_prefix or "(any log group)"
                print(
                    f"{key.key_id}  installation {key.installation_id}"
                    f"  {scope}  {state}"
                )
            return 0
        if store.revoke_key(args.key_id):
            print(f"revoked {args.key_id}")
            return 0
        print(f"self-heal keys: no active key {args.key_id}", file=sys.stderr)
        return 1
    finally:
        store.close()
