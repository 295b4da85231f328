"""All configuration in one place, read from `PLAYGROUND_*` environment variables."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

FASHION_MNIST_MIRRORS = [
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PLAYGROUND_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        Path.home() / ".cache" / "d2l-playground", description="datasets and the run store"
    )
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="where training runs")
    fashion_mnist_mirrors: list[str] = Field(
        default_factory=lambda: list(FASHION_MNIST_MIRRORS),
        description="base URLs tried in order for the four Fashion-MNIST files",
    )
    download_timeout_s: float = Field(30.0, gt=0, le=600, description="socket timeout for one download")


@lru_cache
def get_settings() -> Settings:
    return Settings()
