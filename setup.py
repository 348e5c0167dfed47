"""Package discovery only (metadata is in pyproject.toml).

Every question-group folder under derivations/ is found automatically, so
adding a group needs no edit here; the document-level templates in the
top-level templates/ folder are installed as the package data of
``derivations.templates``.
"""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["derivations", "derivations.*"]) + ["derivations.templates"],
    package_dir={"derivations.templates": "templates"},
)
