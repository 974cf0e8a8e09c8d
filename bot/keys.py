"""`self-heal keys`: forwarder keys, each bound to one installation."""

from __future__ import annotations

import argparse
import os
import secrets
import sys

from .settings import DATABASE_ENV, DEFAULT_DATABASE
from .store import Store

KEY_ID_PREFIX = "fk_"
CREATED_TEMPLATE = """key id: {key_id}
secret: {secret}
Store the secret in Secrets Manager now; it is not shown again."""
UNKNOWN_INSTALLATION_TEMPLATE = (
    "self-heal keys: warning: installation {installation} is not in the index "
    "(yet); the key routes nothing until it is"
)
LISTED_TEMPLATE = "{key_id}  installation {installation}  {scope}  {state}"
NO_KEY_TEMPLATE = "self-heal keys: no active key {key_id}"


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
            if args.installation not in store.installation_ids():
                message = UNKNOWN_INSTALLATION_TEMPLATE.format(
                    installation=args.installation
                )
                print(message, file=sys.stderr)
            key_id, secret = create_key(store, args.installation, args.log_group_prefix)
            print(CREATED_TEMPLATE.format(key_id=key_id, secret=secret))
            return 0
        if args.keys_command == "list":
            for key in store.list_keys():
                print(
                    LISTED_TEMPLATE.format(
                        key_id=key.key_id,
                        installation=key.installation_id,
                        scope=key.log_group_prefix or "(any log group)",
                        state="revoked" if key.revoked else "active",
                    )
                )
            return 0
        if store.revoke_key(args.key_id):
            print(f"revoked {args.key_id}")
            return 0
        print(NO_KEY_TEMPLATE.format(key_id=args.key_id), file=sys.stderr)
        return 1
    finally:
        store.close()
