# syntax=docker/dockerfile:1
# One image for every target: /usr/local/bin/ohjaus (`ohjaus --target <name>`, `ohjaus migrate`).

ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

# Needs Rust >= the workspace's rust-version; .proto files compile in pure Rust (protox), no protoc.
FROM ${RUST_IMAGE} AS builder
ENV CARGO_TERM_COLOR=never \
    CARGO_INCREMENTAL=0
WORKDIR /src
COPY . .
# Cache mounts keep the registry and target dir between builds; the binary is copied out of the
# cached target dir in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p ohjaus \
 && install -D -m 0755 target/release/ohjaus /out/ohjaus

FROM ${RUNTIME_IMAGE}
# distroless cc: glibc, libgcc, libssl, CA certificates, tzdata; no shell, no package manager.
COPY --from=builder /out/ohjaus /usr/local/bin/ohjaus
# "nonroot" (65532) of the distroless image; the chart runs as the same numeric user.
USER 65532:65532
EXPOSE 8080 50051 9464
ENTRYPOINT ["/usr/local/bin/ohjaus"]
