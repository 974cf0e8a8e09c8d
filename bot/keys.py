"""`self-heal keys`: forwarder keys, each bound to one installation."""

from __future__ import annotations

import argparse
import os
import secrets
import sys

from .settings import DATABASE_ENV, DEFAULT_DATABASE
from .store import Store

KEY_ID_PREFIX = "fk_"
CREATED_TEMPLATE = """\
key id: {key_id}
secret: {secret}
(kept in {database})

The secret is not shown again. Put it in Secrets Manager for the forwarder:
  aws secretsmanager create-secret --name self-heal-forwarder \\
    --secret-string '{secret}'
and deploy the forwarder with this key:
  sam deploy --guided --parameter-overrides ForwarderKeyId={key_id} \\
    ForwarderSecretArn=<the ARN printed above> BotUrl=... LogGroupNames=..."""
UNKNOWN_INSTALLATION_TEMPLATE = (
    "self-heal keys: warning: installation {installation} is not in the index "
    "(yet); the key routes nothing until it is"
)
LISTED_TEMPLATE = "{key_id}  installation {installation}  {scope}  {state}"
NO_KEY_TEMPLATE = "self-heal keys: no key {key_id} in {database}"
ALREADY_REVOKED_TEMPLATE = "self-heal keys: {key_id} was already revoked"
NO_KEYS_TEMPLATE = "no keys in {database}"


def create_key(
    store: Store, installation_id: int, log_group_prefix: str | None
) -> tuple[str, str]:
    """Make and store a key; return (key id, secret). The secret shows once."""
    key_id = KEY_ID_PREFIX + secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    store.put_key(key_id, secret, installation_id, log_group_prefix or None)
    return key_id, secret


def main(args: argparse.Namespace) -> int:
    database = os.environ.get(DATABASE_ENV) or DEFAULT_DATABASE
    if args.keys_command != "create" and not os.path.exists(database):
        # Never make an empty database just to say it is empty.
        if args.keys_command == "list":
            print(NO_KEYS_TEMPLATE.format(database=database))
            return 0
        print(NO_KEY_TEMPLATE.format(key_id=args.key_id, database=database))
        return 1
    from .cli import database_problem

    problem = database_problem(database)
    if problem:
        print(f"self-heal keys: {problem}", file=sys.stderr)
        return 2
    store = Store(database)
    try:
        if args.keys_command == "create":
            if args.installation not in store.installation_ids():
                message = UNKNOWN_INSTALLATION_TEMPLATE.format(
                    installation=args.installation
                )
                print(message, file=sys.stderr)
            key_id, secret = create_key(store, args.installation, args.log_group_prefix)
            print(
                CREATED_TEMPLATE.format(key_id=key_id, secret=secret, database=database)
            )
            return 0
        if args.keys_command == "list":
            keys = store.list_keys()
            if not keys:
                print(NO_KEYS_TEMPLATE.format(database=database))
            for key in keys:
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
        known = store.key(args.key_id)
        if known is not None:
            print(ALREADY_REVOKED_TEMPLATE.format(key_id=args.key_id), file=sys.stderr)
            return 0
        print(
            NO_KEY_TEMPLATE.format(key_id=args.key_id, database=database),
            file=sys.stderr,
        )
        return 1
    finally:
        store.close()
