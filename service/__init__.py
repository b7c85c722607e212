"""attache: grounded event records from news articles.

The Python API is `service.extractor.Extractor`; `service.app.create_app` builds the HTTP
service and `service.cli` the command line, all on the same pipeline.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("attache")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
