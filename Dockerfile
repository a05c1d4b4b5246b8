# One image for every service: `docker run IMAGE identity|pseudoniem|dossier|website`.
#
# Build stage: the Rust toolchain, no protoc (build.rs compiles the protos
# with protox). Runtime stage: distroless (glibc, CA certificates, no shell,
# no package manager), as its non-root user.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs askama.toml ./
COPY proto proto
COPY src src
COPY services services
COPY benches benches
RUN cargo build --release --locked --bin toestemming \
    && strip target/release/toestemming \
    && mkdir /data

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/toestemming /usr/local/bin/toestemming
# Where `all` keeps its SQLite files; the compose deployment uses PostgreSQL.
COPY --from=build --chown=65532:65532 /data /data
ENV DATA_DIR=/data \
    LOG_FORMAT=json
USER 65532:65532
EXPOSE 50051 50052 50053 8080
# A gRPC service's health on its LISTEN_ADDR port; the website's compose
# and Kubernetes definitions ask for /healthz instead.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/toestemming", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/toestemming"]
