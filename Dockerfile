# syntax=docker/dockerfile:1
# The operator image: compiled TypeScript and production node_modules on distroless Node.js 24 (no shell, no
# package manager), as the distroless nonroot user 65532. The entrypoint is `acr-access run`; the chart passes flags.
#   docker build -t <registry>/acr-access-operator:0.1.0 .
#   docker run --rm --entrypoint /nodejs/bin/node <image> bin/acr-access.js render -f - < acr.yaml
# CI has no container engine: test/packaging/image-tree.test.ts assembles the runtime stage from the COPY lines
# below and runs this ENTRYPOINT with a plain node, which proves the file list and the command.

# Build stage: the Node.js version the project is tested with.
FROM node:24.21.0-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Scripts off: `prepare` builds, and the sources are not here yet (this layer is cached while the lock is unchanged).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY data ./data
RUN npm run build && npm prune --omit=dev

# Runtime stage: distroless Node.js 24 on Debian 12, the nonroot variant (uid/gid 65532). Pin a digest when
# releasing: docker buildx imagetools inspect gcr.io/distroless/nodejs24-debian12:nonroot
FROM gcr.io/distroless/nodejs24-debian12:nonroot
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="acr-access-operator" \
      org.opencontainers.image.description="Keeps Azure Container Registry pulls working behind locked-down egress" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="gcr.io/distroless/nodejs24-debian12:nonroot"
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
COPY --from=build /app/data ./data
COPY --from=build /app/node_modules ./node_modules
USER 65532:65532
ENTRYPOINT ["/nodejs/bin/node", "bin/acr-access.js", "run"]
