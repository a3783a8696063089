# syntax=docker/dockerfile:1
# The operator image: the compiled CLI on Node.js 24 (the current LTS), production dependencies only.

# 1. Bundle the CLI with esbuild (scripts/build.ts; needs the dev dependencies).
FROM node:24-trixie-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/build.ts ./scripts/
COPY src ./src
RUN npm run build

# 2. Production dependencies only, from the lockfile.
FROM node:24-trixie-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# 3. Runtime: no build tools, no npm cache, non-root, works with a read-only root filesystem.
#    NODE_OPTIONS (heap limits) comes from the chart's `nodeOptions` value, not from the image.
FROM node:24-trixie-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY package.json ./
# The node image's `node` user, by number so the kubelet can check runAsNonRoot.
USER 1000:1000
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["run"]
