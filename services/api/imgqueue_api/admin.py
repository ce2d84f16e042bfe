"""``imgqueue-admin``: manage API tokens (stored hashed in Redis; the token is shown once), and tenants'
webhook endpoints (a default URL and the secret that signs their webhooks).

    imgqueue-admin tokens create --tenant acme [--role client|admin] [--label "ci uploads"]
    imgqueue-admin tokens list
    imgqueue-admin tokens revoke TOKEN_ID
    imgqueue-admin webhooks create --tenant acme [--url https://hooks.acme.example/imgqueue]
    imgqueue-admin webhooks set-url --tenant acme --url https://...   (empty: callbackUrl per job only)
    imgqueue-admin webhooks rotate --tenant acme [--grace 86400]   (the old secret still signs meanwhile)
    imgqueue-admin webhooks show --tenant acme
    imgqueue-admin webhooks delete --tenant acme
    imgqueue-admin webhooks new-secret   (a secret for WEBHOOK_SECRET, open mode)
    imgqueue-admin jobs list [--status failed] [--tenant acme] [--older-than 3600] [--limit 50] [--json]
    imgqueue-admin jobs show ID [--json]
    imgqueue-admin jobs retry ID... / jobs cancel ID...   (exit 1 when any could not be)
    imgqueue-admin queue stats [--json]
    imgqueue-admin workers list [--json]
"""

from __future__ import annotations

import argparse
import sys
import time

from imgqueue import outbound
from imgqueue.errors import ConfigError
from imgqueue.store import UNAVAILABLE, Store
from imgqueue.webhooks import new_secret

from . import operators
from .auth import create_token, seeded
from .settings import ROLES, ApiSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="imgqueue-admin", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    groups = parser.add_subparsers(dest="what", required=True)
    _webhook_parsers(groups.add_parser("webhooks", help="tenants' webhook endpoints and secrets"))
    operators.add_parsers(groups)
    tokens = groups.add_parser("tokens", help="API tokens")
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
    if args.what == "webhooks" and args.verb == "new-secret":
        print(new_secret())
        return 0
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


def _webhook_parsers(group: argparse.ArgumentParser) -> None:
    verbs = group.add_subparsers(dest="verb", required=True)
    for verb, text in (("create", "give a tenant an endpoint and a secret (printed alone on the last line)"),
                       ("set-url", "change a tenant's default URL"),
                       ("rotate", "a new secret; the previous one still signs for --grace seconds"),
                       ("show", "a tenant's URL and secrets"), ("delete", "remove a tenant's endpoint")):
        sub = verbs.add_parser(verb, help=text)
        sub.add_argument("--tenant", required=True)
        if verb in ("create", "set-url"):
            sub.add_argument("--url", default="", required=verb == "set-url")
        if verb == "rotate":
            sub.add_argument("--grace", type=float, default=86400.0)
    verbs.add_parser("new-secret", help="print a new secret (for WEBHOOK_SECRET)")


def _webhooks(store: Store, settings: ApiSettings, args: argparse.Namespace) -> int:
    endpoints, tenant = store.endpoints, args.tenant
    url = getattr(args, "url", "")
    if url:
        outbound.check_url(url, settings.outbound)
    if args.verb == "create":
        print(f"created the webhook endpoint of tenant {tenant}; its signing secret:", file=sys.stderr)
        print(endpoints.create(tenant, url))
    elif args.verb == "set-url":
        endpoints.set_url(tenant, url)
        print(f"tenant {tenant}'s webhooks go to {url or '(each job or batch callbackUrl only)'}")
    elif args.verb == "rotate":
        secret = endpoints.rotate(tenant, args.grace, time.time())
        print(f"rotated; the previous secret signs too for {args.grace:g} s. The new one:", file=sys.stderr)
        print(secret)
    elif args.verb == "show":
        for name, value in sorted(endpoints.show(tenant).items()):
            print(f"{name}: {value}")
    elif not endpoints.delete(tenant):
        print(f"imgqueue-admin: tenant {tenant!r} has no webhook endpoint", file=sys.stderr)
        return 1
    return 0


def _run(store: Store, settings: ApiSettings, args: argparse.Namespace) -> int:
    if args.what == "webhooks":
        return _webhooks(store, settings, args)
    if args.what in ("jobs", "queue", "workers"):
        return operators.run(store, args)
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
