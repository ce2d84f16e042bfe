"""``imgqueue-admin``: manage API tokens (stored hashed in Redis; the token is shown once).

    imgqueue-admin tokens create --tenant acme [--role client|admin] [--label "ci uploads"]
    imgqueue-admin tokens list
    imgqueue-admin tokens revoke TOKEN_ID
"""

from __future__ import annotations

import argparse
import sys
import time

from imgqueue.errors import ConfigError
from imgqueue.store import UNAVAILABLE, Store

from .auth import create_token, seeded
from .settings import ROLES, ApiSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="imgqueue-admin", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    tokens = parser.add_subparsers(dest="what", required=True).add_parser("tokens", help="API tokens")
    verbs = tokens.add_subparsers(dest="verb", required=True)
    create = verbs.add_parser("create", help="create a token; it is printed alone on the last line, once")
    create.add_argument("--tenant", required=True)
    create.add_argument("--role", choices=ROLES, default="client")
    create.add_argument("--label", default="")
    verbs.add_parser("list", help="list the tokens (their ids, never the tokens)")
    revoke = verbs.add_parser("revoke", help="revoke a token by its id (a seeded one too): its next request gets "
                              "401, its stream tickets and result links stop working, its open streams end")
    revoke.add_argument("token_id")
    args = parser.parse_args(argv)
    try:
        settings = ApiSettings.from_env()
        return _run(Store.from_settings(settings), settings, args)
    except ConfigError as exc:
        print(f"imgqueue-admin: configuration error: {exc}", file=sys.stderr)
    except UNAVAILABLE as exc:
        print(f"imgqueue-admin: Redis is unavailable: {exc}", file=sys.stderr)
    except ValueError as exc:
        print(f"imgqueue-admin: {exc}", file=sys.stderr)
    return 2


def _run(store: Store, settings: ApiSettings, args: argparse.Namespace) -> int:
    seeds = {who.token: who for _, who in seeded(settings)}
    if args.verb == "create":
        token, record = create_token(store, args.tenant, args.role, args.label)
        print(f"created token {record.id} for tenant {record.tenant} (role {record.role}); it is shown once, "
              "here, and stored hashed:", file=sys.stderr)
        print(token)
        return 0
    if args.verb == "list":
        print(f"{'id':<12}  {'tenant':<16}  {'role':<6}  {'created (UTC)':<19}  label")
        for t in store.tokens.all():
            created = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t.created_at))
            print(f"{t.id:<12}  {t.tenant:<16}  {t.role:<6}  {created:<19}  {t.label}")
        revoked = store.tokens.revoked_among(list(seeds))
        for token_id, who in seeds.items():
            state = "(revoked)" if token_id in revoked else ""
            print(f"{token_id:<12}  {who.tenant or '-':<16}  {who.role:<7} {'(seeded)':<19}  {state}")
        return 0
    if store.tokens.revoke(args.token_id, seeded=args.token_id in seeds):
        print(f"revoked {args.token_id}")
        return 0
    print(f"imgqueue-admin: no token with id {args.token_id!r}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
