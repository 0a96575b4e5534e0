from report_lib.config import REPO_SLUG, repo_root
from report_lib.publish.links import colab_url, install_cell_source, stale_files


def test_readme_and_notebooks_are_in_sync_with_config():
    # Fails when REPO_URL changed or a notebook was added without `make links`.
    assert stale_files(repo_root()) == []


def test_generated_links_use_the_one_repository_address():
    assert colab_url("03_attention.ipynb").endswith(f"/github/{REPO_SLUG}/blob/main/notebooks/03_attention.ipynb")
    source = install_cell_source()
    assert '"google.colab" in sys.modules' in source and REPO_SLUG in source
    assert "tensorflow" not in source.split("%pip", 1)[1]
