"""How the static files are collected (``collectstatic``)."""

from django.contrib.staticfiles.apps import StaticFilesConfig as BaseStaticFilesConfig


class StaticFilesConfig(BaseStaticFilesConfig):
    """``collectstatic`` without the ``node_modules`` folders viewflow ships inside its
    static files: they are build leftovers no page loads, and one of them (a second copy
    of the Roboto stylesheet, its fonts missing beside it) makes the production storage's
    post-processing -- hashed names for every ``url()`` in every CSS file -- fail.

    (In its own module: a second AppConfig in ``salesflow.apps`` would stop Django from
    choosing ``SalesflowConfig`` for the ``salesflow`` app by itself.)"""

    ignore_patterns = [*BaseStaticFilesConfig.ignore_patterns, "node_modules"]
