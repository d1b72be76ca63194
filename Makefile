# Two commands set everything up:  `make book`  and  `make test`  (see README.md).
SHELL := /bin/bash
PY    := .venv/bin/python
VENV  := .venv/.installed

.PHONY: venv book test sync clean

venv: $(VENV)

# (Re)install when pyproject.toml changes.
$(VENV): pyproject.toml
	python3 -m venv .venv
	.venv/bin/pip install -e '.[book,test]'
	touch $@

# The whole site at the profile in $$NCLIB_PROFILE (unset: small), warnings as errors.
book: $(VENV)
	.venv/bin/jupyter-book build . --warningiserror --keep-going
	@echo "Open _build/html/index.html"

# One pytest run, at the smoke profile: the unit tests, then every chapter executed top to
# bottom by nbmake, then the book tests (jupytext pairs; last, the site build).
test: $(VENV)
	NCLIB_PROFILE=smoke $(PY) -m pytest tests/unit book tests/book \
		--nbmake --nbmake-timeout=900 -p no:cacheprovider -q

# Pair every chapter's (and the introduction's) MyST markdown with its notebook (whichever is newer wins).
sync: $(VENV)
	.venv/bin/jupytext --sync book/[0-9]*.md book/intro.md

clean:
	rm -rf _build

# Point the book at your repository: `repository:` of _config.yml, every chapter's first cell
# (.md and .ipynb), README's Colab link and the Pages workflow's branch (README: "Publishing the book").
#   make repository URL=https://github.com/<you>/<repo> [BRANCH=<branch>]
.PHONY: repository
repository:
	python3 scripts/set_repository.py "$(URL)" $(if $(BRANCH),--branch "$(BRANCH)")
