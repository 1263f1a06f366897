"""approvalbot: GitOps approvals for experiments and remote config."""

# The one place the version lives: pyproject.toml reads it (setuptools dynamic), `--version` prints it.
__version__ = "0.1.0"
