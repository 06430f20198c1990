# The two commands of the README, plus the docs site. Each one installs first (idempotent: reuses .venv).
VENV ?= .venv
BIN := $(VENV)/bin
.PHONY: install run test docs lab clean-docs

install:
	@bash tools/install.sh

run: install      ## install, then run the main job on the embedded default data
	@bash tools/main_job.sh

test: install     ## install, then check notebooks/library/README are in sync, run every notebook's tests, build and check the docs
	@bash tools/test.sh

docs: install     ## build the offline docs site into _proc/_site
	@$(BIN)/python tools/docs.py build

lab: install      ## open the chapters in JupyterLab
	@$(BIN)/jupyter lab nbs

clean-docs:
	rm -rf _proc _docs
