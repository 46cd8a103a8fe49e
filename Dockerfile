# syntax=docker/dockerfile:1
# edgecnn images for linux/amd64 and linux/arm64.
#
#   runtime (default): Python 3.13 with edgecnn[onnx,litert] pinned by constraints/device.txt,
#                      no torch; the same install as the trixie leg of ci/arm64.sh.
#   train:             Python 3.11 with the training and export stack pinned by
#                      constraints/workstation.txt (torch 2.13 CPU is pinned for 3.11).
#
#   docker buildx build --platform linux/amd64,linux/arm64 -t edgecnn:runtime .
#   docker buildx build --platform linux/amd64 --target train -t edgecnn:train .
#   docker run --rm edgecnn:runtime bench

# Build the wheel once, on the build machine's own architecture: it is pure Python, and the
# shipped artifacts under models/ go into it as package data.
FROM --platform=$BUILDPLATFORM python:3.13-slim-trixie AS wheel
WORKDIR /src
COPY pyproject.toml setup.py LICENSE README.md ./
COPY edgecnn ./edgecnn
COPY models ./models
RUN pip wheel --no-cache-dir --no-deps -w /dist .

FROM python:3.13-slim-trixie AS runtime
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
COPY constraints/device.txt /tmp/constraints.txt
COPY --from=wheel /dist /tmp/dist
RUN for wheel in /tmp/dist/edgecnn-*.whl; do \
        pip install --only-binary=:all: -c /tmp/constraints.txt "${wheel}[onnx,litert]"; \
    done \
    && rm -rf /tmp/dist /tmp/constraints.txt \
    && useradd --create-home edgecnn
USER edgecnn
WORKDIR /home/edgecnn
ENTRYPOINT ["edgecnn"]
CMD ["--help"]

# Training and export: the torch CPU wheel comes from PyTorch's own index.
FROM python:3.11-slim-bookworm AS train
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY constraints/workstation.txt /tmp/constraints.txt
COPY pyproject.toml setup.py LICENSE README.md ./
COPY edgecnn ./edgecnn
COPY models ./models
# NOTE: the workstation pins were measured on x86_64 only; build this target for linux/amd64.
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu -c /tmp/constraints.txt ".[train,export,dev]"
ENTRYPOINT ["edgecnn"]
CMD ["--help"]
