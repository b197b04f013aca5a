"""PIA Watch: crawl, parse, store and check Japanese 特定個人情報保護評価書."""

__version__ = "0.1.0"
