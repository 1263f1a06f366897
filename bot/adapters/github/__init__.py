"""The GitHub adapter: the only package that imports PyGithub (`github`)."""
