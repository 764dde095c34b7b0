# callmetrics in a container: built in a Rust image, run from a slim one as
# a non-root user, with the shipped scenarios and mappings. The Kubernetes
# manifests in deploy/kubernetes/ use it (they call /bin/sh, so the final
# image keeps one).
#   docker build -t callmetrics:latest .
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin callmetrics

FROM debian:bookworm-slim
RUN useradd --uid 65532 --no-create-home --shell /usr/sbin/nologin callmetrics
COPY --from=build /src/target/release/callmetrics /usr/local/bin/callmetrics
COPY scenarios /usr/share/callmetrics/scenarios
COPY mappings /usr/share/callmetrics/mappings
USER 65532
ENTRYPOINT ["callmetrics"]
