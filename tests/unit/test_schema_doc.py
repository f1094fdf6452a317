"""The site-model reference is generated from the schema and kept in step with it."""

from infra.schema_doc import render
from tests.conftest import REPO


def test_site_model_doc_is_current() -> None:
    current = (REPO / "docs" / "site-model.md").read_text(encoding="utf-8")
    assert current == render(), "run: .venv/bin/python -m infra.schema_doc > docs/site-model.md"
