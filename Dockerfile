# syntax=docker/dockerfile:1
# One image for every target: /usr/local/bin/ohjaus (`ohjaus --target <name>`, `ohjaus migrate`).

ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# Needs Rust >= the workspace's rust-version; .proto files compile in pure Rust (protox), no protoc.
FROM ${RUST_IMAGE} AS builder
ENV CARGO_TERM_COLOR=never \
    CARGO_INCREMENTAL=0
# The image has the SAML connector (cargo feature `saml`): it links libxmlsec1 through samael,
# whose build script runs bindgen, so the builder needs these -dev packages, libclang and pkg-config.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libxmlsec1-dev libxml2-dev libssl-dev libclang-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Cache mounts keep the registry and target dir between builds; the binary is copied out of the
# cached target dir in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p ohjaus --features saml \
 && install -D -m 0755 target/release/ohjaus /out/ohjaus

FROM ${RUNTIME_IMAGE}
# The shared libraries the binary links (XML signature and encryption for SAML), CA
# certificates and time zones; nothing else.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libxmlsec1 libxmlsec1-openssl libxml2 libssl3 ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/*
COPY --from=builder /out/ohjaus /usr/local/bin/ohjaus
# An unprivileged numeric user; the chart runs as the same one.
USER 65532:65532
EXPOSE 8080 50051 9464
ENTRYPOINT ["/usr/local/bin/ohjaus"]
