"""The demo municipal websites: described in sites.yaml, built from the corpus specs by site.py,
rendered by pages.py and served by demo/server.py."""
