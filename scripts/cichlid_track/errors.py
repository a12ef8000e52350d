"""The one base class of every error a user sees as one line (rule_io.explain, common.smk).

Its message already names the file or key and what to do, so it is shown as it is, without a traceback.
Parse-time code: no imports.
"""


class CichlidError(Exception):
    """An error whose message names the file or key and the fix."""


class ConfigError(CichlidError, ValueError):
    """A config key (or a sample-sheet row's column) that the workflow cannot use."""
