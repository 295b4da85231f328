import pytest


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """An empty data directory, and no real mirror: a download attempt fails fast on a closed port."""
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PLAYGROUND_FASHION_MNIST_MIRRORS", '["http://127.0.0.1:9/"]')
    from app.settings import get_settings

    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()
