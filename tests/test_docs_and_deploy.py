"""Docs and deployment files stay in step with the code."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
ENV_NAME = re.compile(r"\b(?:TELEREHAB_[A-Z][A-Z_]*[A-Z]|REDIS_URL|DATABASE_URL)\b")


def settings_env_names() -> set[str]:
    names = set(ENV_NAME.findall((ROOT / "shared" / "settings.py").read_text()))
    names |= set(ENV_NAME.findall((ROOT / "services" / "launcher.py").read_text()))
    return names


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = sorted(name for name in settings_env_names() if name not in readme)
    assert not missing, f"README's configuration table lacks {missing}"


def test_deploy_files_parse_and_use_only_real_settings() -> None:
    known = settings_env_names()
    files = [*ROOT.glob("deploy/**/*.yaml"), *ROOT.glob("deploy/**/*.yml")]
    assert files
    for path in files:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        assert docs, f"{path} is empty"
    for path in [*files, ROOT / "deploy" / ".env.example"]:
        unknown = set(ENV_NAME.findall(path.read_text())) - known
        assert not unknown, f"{path.relative_to(ROOT)} sets variables the code never reads: {sorted(unknown)}"


def test_kubernetes_manifests_are_valid_against_the_kubernetes_schemas() -> None:
    """Checked, not just parsed: every core resource against the Kubernetes OpenAPI
    schemas (offline, strict: unknown fields are errors). KEDA's CRDs and the
    Kustomization have no bundled schema."""
    import kubernetes_validate

    version = kubernetes_validate.latest_version()
    checked = 0
    for path in sorted(ROOT.glob("deploy/k8s/*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc["apiVersion"].startswith(("keda.sh/", "kustomize.config.k8s.io/")):
                continue
            kubernetes_validate.validate(doc, version, strict=True)  # raises on any error
            checked += 1
    assert checked >= 12


def test_the_readme_access_matrix_is_the_one_the_api_declares() -> None:
    from gateway.api import openapi_key
    from gateway.openapi import access_matrix
    from services.site import create_site
    from shared.settings import Settings

    app = create_site(Settings(secret="matrix-only-not-a-secret", clinic_enabled=True))
    readme = (ROOT / "README.md").read_text()
    shown = readme.split("<!-- access-matrix -->\n", 1)[1].split("\n<!-- /access-matrix -->", 1)[0]
    assert shown == access_matrix(app[openapi_key]), "refresh it: python scripts/access_matrix.py"
