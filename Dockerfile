# Multi-stage build: node builds the web UI, rust builds the release binary with the UI
# embedded, and a slim Debian image runs it as a non-root user.

FROM node:20-bookworm-slim AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
COPY --from=web /src/web/dist ./web/dist
# The UI was built in the previous stage.
ENV SIGHTLINE_SKIP_WEB_BUILD=1
RUN cargo build --release --locked && cp target/release/sightline /usr/local/bin/sightline

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data sightline \
    && mkdir -p /data /etc/sightline && chown sightline /data
COPY --from=build /usr/local/bin/sightline /usr/local/bin/sightline
COPY config/docker.yaml /etc/sightline/sightline.yaml
USER sightline
VOLUME ["/data"]
EXPOSE 9470
HEALTHCHECK --interval=30s --timeout=3s CMD curl -fsS http://127.0.0.1:9470/-/healthy || exit 1
ENTRYPOINT ["sightline"]
CMD ["serve", "--config", "/etc/sightline/sightline.yaml"]
