# The front door. `make help` lists the targets; variables can be overridden:
#   make pdf VARIANT=fall2024 OUT=build/fall2024
VARIANT ?= fall2025
OUT     ?= build
PYTHON  ?= python3
VENV    ?= .venv
ROSTER  ?= tests/data/roster.csv
PY      := $(VENV)/bin/python
# texlive-latex-extra brings mylatexformat (the precompiled preamble); poppler-utils: pdftotext, pdftoppm.
# Names in other scripts (loaded only by a document that holds one): Greek (LGR), Cyrillic (T2A with
# CM-Super's Type 1 fonts), CJK (CJKutf8; Arphic GB and Big5, Wadalab Japanese, Nanum Korean).
TEX_PACKAGES ?= texlive-latex-base texlive-latex-recommended texlive-pictures texlive-latex-extra lmodern poppler-utils \
                texlive-lang-greek texlive-lang-cyrillic cm-super-minimal latex-cjk-common \
                latex-cjk-chinese-arphic-gbsn00lp latex-cjk-chinese-arphic-bsmi00lp latex-cjk-japanese-wadalab \
                texlive-lang-korean
# One file of each of them: `make tex` installs when one is missing.
TEX_FILES := mylatexformat.ltx lgrenc.def t2aenc.def cm-super-t2a.enc CJKutf8.sty c70gbsn.fd c70bsmi.fd c70min.fd \
             c70nanummj.fd

.PHONY: help setup tex pdf solutions handout student class presets check test bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'
	@echo "  variables: VARIANT=$(VARIANT) (preset name or .toml path), OUT=$(OUT)"

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

setup: $(VENV)/.installed tex ## create .venv, install the package and TeX Live if missing

tex: ## install TeX Live from Debian packages if pdflatex, mylatexformat or a script's fonts are missing
	@if command -v pdflatex >/dev/null 2>&1 && kpsewhich $(TEX_FILES) >/dev/null 2>&1 && command -v pdftotext >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "installing TeX Live: $(TEX_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(TEX_PACKAGES); \
	else \
	  echo "TeX Live is missing. Run as root:"; \
	  echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends $(TEX_PACKAGES)"; \
	  exit 2; \
	fi

pdf: setup ## build the answer key of VARIANT into OUT/hw2_theory.pdf
	$(PY) -m derivations build --variant $(VARIANT) --out $(OUT)

solutions: setup ## build the solutions to publish (no staff material) into OUT/solutions/hw2_theory_solutions.pdf
	$(PY) -m derivations build --variant $(VARIANT) --out $(OUT)/solutions --audience students

handout: setup ## build the student handout (questions only) of VARIANT into OUT/handout
	$(PY) -m derivations build --variant $(VARIANT) --out $(OUT)/handout --handout

student: setup ## key and handout for one student: make student STUDENT=s042 NAME="Ada Lovelace"
	@test -n "$(STUDENT)" || { echo 'usage: make student STUDENT=<id> [NAME="printed name"]'; exit 2; }
	$(PY) -m derivations build --variant $(VARIANT) --student "$(STUDENT)" --name "$(NAME)" --out "$(OUT)/students/$(STUDENT)/key"
	$(PY) -m derivations build --variant $(VARIANT) --student "$(STUDENT)" --name "$(NAME)" --out "$(OUT)/students/$(STUDENT)/handout" --handout

class: setup ## every student of ROSTER (id,name[,seed]) into OUT/class: keys, handouts, answers.csv, manifest.json
	$(PY) -m derivations batch --roster "$(ROSTER)" --variant $(VARIANT) --out "$(OUT)/class"

presets: setup ## build both shipped presets into build/<preset>
	$(PY) -m derivations build --variant fall2025 --out build/fall2025
	$(PY) -m derivations build --variant fall2024 --out build/fall2024

check: $(VENV)/.installed ## validate VARIANT and run every verification, write nothing
	$(PY) -m derivations check --variant $(VARIANT)

test: setup ## run the test suite
	$(PY) -m pytest -q

bench: $(VENV)/.installed tex ## speed ratios (single key, class set, conv1d scaling) and peak memory, in one run
	$(PY) -m derivations.bench

clean: ## remove build outputs (keeps .venv)
	rm -rf $(OUT) build .pytest_cache
