"""`fieldpulse articles export DIR` and `import DIR`: the articles as files in a folder
(a manufacturer's git repository), read back as new versions where they changed."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select
from typer.testing import CliRunner

from fieldpulse.cli import app
from foundations.database import make_engine
from knowledge.tables import Article, ArticleVersion


def test_export_edit_import_makes_a_new_version_and_a_bad_file_is_refused(
        tmp_path: Path) -> None:
    runner = CliRunner()
    data, folder = tmp_path / "var", tmp_path / "articles"
    exported = runner.invoke(app, ["articles", "export", str(folder), "--data-dir", str(data)])
    assert exported.exit_code == 0, exported.output
    assert "13 article(s) written" in exported.output
    pump = folder / "cp75-pump-vibration.md"
    pump.write_text(pump.read_text().replace("rattles like gravel", "rattles like stones"))
    imported = runner.invoke(app, ["articles", "import", str(folder), "--data-dir", str(data)])
    assert imported.exit_code == 0, imported.output
    assert "1 new or changed: cp75-pump-vibration" in imported.output
    (folder / "broken.md").write_text("no front matter here\n")
    refused = runner.invoke(app, ["articles", "import", str(folder), "--data-dir", str(data)])
    assert refused.exit_code == 1 and "broken" in refused.output
    engine = make_engine(f"sqlite:///{data / 'fieldpulse.db'}")
    with Session(engine) as session:
        article = session.exec(select(Article).where(Article.slug == "cp75-pump-vibration")).one()
        assert article.version == 2 and "stones" in article.body
        assert len(session.exec(select(ArticleVersion)
                                .where(ArticleVersion.article_id == article.id)).all()) == 2
    not_a_folder = runner.invoke(app, ["articles", "import", str(pump)])
    assert not_a_folder.exit_code != 0 and "not a folder" in not_a_folder.output
