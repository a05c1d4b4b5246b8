#!/usr/bin/env python3
"""Signs a patient in through the website and the development OpenID
provider (scripts/oidc-provider.mjs with OIDC_ANY_BSN=true), as a browser
would, and prints the mesh's Patient token: for scripts that call the
Patient RPCs with grpcurl where password sign-in is off (the deployment
test's walkthrough).

    scripts/provider_signin.py BSN        (WEBSITE_URL, default http://127.0.0.1:8080)

The flow is the website's own: GET /signin/provider (the state, nonce and
PKCE verifier in the website's cookie), the provider's login page (login
`bsn-<BSN>`, any password), back to /signin/callback, where the website's
session cookie holds the token. Exits 1, saying where it stopped, when any
step fails. The token is printed and nothing else: treat it as a secret.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import sys
import urllib.parse
import urllib.request

SESSION_COOKIE = "toestemming_session"


def main() -> int:
    if len(sys.argv) != 2 or not re.fullmatch(r"\d{9}", sys.argv[1]):
        print("usage: provider_signin.py BSN (nine digits)", file=sys.stderr)
        return 2
    bsn = sys.argv[1]
    website = os.environ.get("WEBSITE_URL", "http://127.0.0.1:8080").rstrip("/")
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    # To the provider's login page, through the website.
    with browser.open(f"{website}/signin/provider", timeout=20) as page:
        login_page, at = page.read().decode(), page.geturl()
    form = re.search(r'<form[^>]*action="([^"]+)"', login_page)
    if not form or 'name="login"' not in login_page:
        print(f"provider_signin: no login form at {at}", file=sys.stderr)
        return 1
    action = urllib.parse.urljoin(at, form.group(1).replace("&amp;", "&"))
    fields = urllib.parse.urlencode(
        {"prompt": "login", "login": f"bsn-{bsn}", "password": "any"}).encode()
    # Signing in there sends the browser back to the website's callback.
    with browser.open(action, data=fields, timeout=20) as page:
        landed, body = page.geturl(), page.read().decode(errors="replace")
    token = next((cookie.value for cookie in jar if cookie.name == SESSION_COOKIE), None)
    if not token:
        path = urllib.parse.urlsplit(landed).path
        print(f"provider_signin: not signed in (ended at {path}): "
              + " ".join(re.findall(r"<li>([^<]+)</li>", body))[:300], file=sys.stderr)
        return 1
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
