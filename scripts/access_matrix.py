"""Print the site's role × operation table (the README's Security section holds it;
tests/test_docs_and_deploy.py checks the two agree): python scripts/access_matrix.py"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.api import openapi_key  # noqa: E402
from gateway.openapi import access_matrix  # noqa: E402
from services.site import create_site  # noqa: E402
from shared.settings import Settings  # noqa: E402


def main() -> None:
    app = create_site(Settings(secret="matrix-only-not-a-secret", clinic_enabled=True))
    print(access_matrix(app[openapi_key]))


if __name__ == "__main__":
    main()
